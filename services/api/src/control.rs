//! Starting and steering iterations (admins): `POST /iterations` (the choices of `run`),
//! `POST /iterations/{id}/next` (the `iterate` step), `POST /iterations/{id}/resume` and
//! `DELETE /iterations/{id}`. Every check runs before the first write, so a refused request
//! changes nothing; the work itself runs in this process's [`Drivers`].

use crate::auth::Caller;
use crate::drivers::Drivers;
use crate::error::{rejection, ApiError, ErrorBody};
use crate::iterations::iteration_id;
use crate::ApiState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use corpusminer_coordinator::driver::{lease_holder_alive, DeleteRefused};
use corpusminer_coordinator::{create_first, create_next, RunConfig};
use corpusminer_storage::IterationState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A request field that cannot mean anything, and why.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// The body field (`threshold`), or `body`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

/// Turns a `POST /iterations` body into the configuration of a first iteration: the same
/// choices, defaults and checks as `corpusminer run`, each field named like its flag in
/// snake_case. Implemented by the command line, which owns those flags.
pub trait RunRequest: Send + Sync + 'static {
    /// The JSON schema of a body: an object with one property per accepted flag.
    fn schema(&self) -> serde_json::Value;
    /// Checks `body` (unknown fields, types, ranges, files that are not there, benchmarks
    /// that cannot be read) and returns its configuration with benchmarks loaded. Blocking
    /// (reads the file system); called off the async runtime.
    fn config(&self, body: &serde_json::Map<String, serde_json::Value>) -> Result<RunConfig, FieldError>;
    /// The fields a `train` schedule's template may hold: the flags of `corpusminer train` in
    /// snake_case, but those the job sets (the source, the metastore, the output folders).
    fn train_keys(&self) -> Vec<String>;
    /// The arguments (after the binary) of the `corpusminer train` process that trains on
    /// iteration `iteration`'s corpus with `template`'s choices, writing into a folder named
    /// after `name` and the iteration and recording its progress in the server's metastore.
    /// Checked as the command line checks them; errors name the template field.
    fn train_command(&self, template: &serde_json::Map<String, serde_json::Value>, iteration: i64, name: &str) -> Result<Vec<String>, FieldError>;
}

/// What starts and drives iterations in this process; without it the API only reads.
#[derive(Clone)]
pub struct Control {
    /// The drives of this process.
    pub drivers: Drivers,
    /// How a `POST /iterations` body becomes a configuration.
    pub run_request: Arc<dyn RunRequest>,
}

impl ApiState {
    fn control(&self) -> Result<&Control, ApiError> {
        self.control.as_deref().ok_or_else(|| ApiError::unavailable("this server only reads: it was started without iteration control"))
    }
}

/// An iteration that was created or is now being driven.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Started {
    /// The iteration.
    pub id: i64,
    /// Its state now.
    pub state: String,
    /// Where to follow it (`/api/v1/iterations/{id}`).
    pub location: String,
}

fn started(id: i64, state: &str, status: StatusCode, replayed: bool) -> Response {
    let location = format!("/api/v1/iterations/{id}");
    let mut resp = (status, Json(Started { id, state: state.to_string(), location: location.clone() })).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

/// The `Idempotency-Key` header: 1 to 200 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    let bad = || ApiError::bad_request("Idempotency-Key", "the Idempotency-Key header must be 1 to 200 visible ASCII characters");
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 200 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

/// Starts a new chain's first iteration (admins): the body holds the choices of
/// `corpusminer run`, each named like its flag in snake_case (`input`, `crawl`, `shards`,
/// `seed`, `negatives`, `threshold`, `token_budget`, `model`, …; see the schema). The output
/// folder and metastore are the server's. `201` with the id; the iteration runs in the
/// background (follow it at `GET /iterations/{id}`). With an `Idempotency-Key` header a
/// retried request returns the first one's iteration (`Idempotent-Replayed: true`); the same
/// key with another body is a 422.
#[utoipa::path(post, path = "/api/v1/iterations", tag = "iterations", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried request return the first one's iteration")),
    request_body(content = Object, description = "the choices of `corpusminer run`, named like its flags in snake_case", content_type = "application/json"),
    responses((status = 201, body = Started), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(State(state): State<ApiState>, caller: Caller, headers: HeaderMap, body: Result<Json<serde_json::Value>, JsonRejection>) -> Result<Response, ApiError> {
    caller.must_be_admin("start iterations")?;
    let control = state.control()?;
    let Json(body) = body.map_err(|e| rejection(e.status(), e.body_text(), "body"))?;
    let serde_json::Value::Object(body) = body else {
        return Err(ApiError::bad_request("body", "the body must be a JSON object of run choices (`{\"input\": [\"shards/*.warc.gz\"], \"seed\": [\"seed.jsonl\"], …}`)"));
    };
    let key = idempotency_key(&headers)?;
    // The body's digest (keys sorted: serde_json's map is ordered) tells a retry from a reuse.
    let digest = hex::encode(Sha256::digest(serde_json::Value::Object(body.clone()).to_string()));
    let reused = || ApiError::unprocessable("Idempotency-Key", "this Idempotency-Key was used with another body: give each new request a new key");
    if let Some(k) = &key {
        if let Some((id, first)) = state.metastore.idempotent_iteration(k).await? {
            if first != digest {
                return Err(reused());
            }
            let it = state.metastore.iteration(id).await?;
            return Ok(started(id, &it.state, StatusCode::CREATED, true));
        }
    }
    let parser = control.run_request.clone();
    let cfg = tokio::task::spawn_blocking(move || parser.config(&body)).await.map_err(ApiError::internal)?.map_err(|e| ApiError::bad_request(&e.field, e.message))?;
    let id = create_first(&state.metastore, &cfg).await.map_err(ApiError::internal)?;
    if let Some(k) = &key {
        let (first, first_digest) = state.metastore.record_idempotency_key(k, &digest, id).await?;
        if first != id {
            // A concurrent request with the same key won: this one's iteration goes away.
            state.metastore.cancel_iteration(id).await?;
            state.metastore.delete_iteration(id).await?;
            if first_digest != digest {
                return Err(reused());
            }
            let it = state.metastore.iteration(first).await?;
            return Ok(started(first, &it.state, StatusCode::CREATED, true));
        }
    }
    tracing::info!(iteration = id, by = %caller.name, "iteration created through the API");
    control.drivers.start(id, false, Some(cfg));
    Ok(started(id, IterationState::Preparing.as_str(), StatusCode::CREATED, false))
}

/// Creates the next iteration of a chain from a finished one (the `iterate` step, admins): its
/// seed grows by the annotations; `201` with the new id, driven in the background. A parent
/// that is not finished is a 409.
#[utoipa::path(post, path = "/api/v1/iterations/{id}/next", tag = "iterations", params(("id" = i64, Path, description = "the finished iteration to grow from")), security(("bearer" = [])),
    responses((status = 201, body = Started), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn next(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Response, ApiError> {
    caller.must_be_admin("start iterations")?;
    let control = state.control()?;
    let parent = iteration_id(path)?;
    let it = state.metastore.iteration(parent).await?;
    if !IterationState::parse(&it.state).is_some_and(|s| s.is_done()) {
        return Err(ApiError::conflict(format!("iteration {parent} is {}: only a finished iteration (awaiting_annotation or complete) can be grown from", it.state)));
    }
    let id = create_next(&state.metastore, parent).await.map_err(ApiError::internal)?;
    tracing::info!(iteration = id, parent, by = %caller.name, "next iteration created through the API");
    control.drivers.start(id, false, None);
    Ok(started(id, IterationState::Preparing.as_str(), StatusCode::CREATED, false))
}

/// Resumes an iteration (admins): a failed one at the step it failed in, an active one nobody
/// drives, or a finished one with failed shards (they are scored again and selection reruns).
/// `202`; a cancelled iteration, a finished one with nothing failed, or one a live process
/// drives is a 409 and stays as it was.
#[utoipa::path(post, path = "/api/v1/iterations/{id}/resume", tag = "iterations", params(("id" = i64, Path, description = "iteration id")), security(("bearer" = [])),
    responses((status = 202, body = Started), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn resume(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Response, ApiError> {
    caller.must_be_admin("resume iterations")?;
    let control = state.control()?;
    let id = iteration_id(path)?;
    let it = state.metastore.iteration(id).await?;
    let s = IterationState::parse(&it.state).ok_or_else(|| ApiError::conflict(format!("iteration {id} has unknown state {:?}", it.state)))?;
    let failed_shards = state.metastore.shard_counts(id).await?.failed;
    if !s.is_resumable(failed_shards) {
        return Err(ApiError::conflict(format!("iteration {id} is {s} with no failed shard: there is nothing to resume")));
    }
    if s.is_done() {
        let children = state.metastore.children(id).await?;
        if !children.is_empty() {
            return Err(ApiError::conflict(format!("iteration {id} has iterations grown from it ({children:?}): its failed shards can no longer be scored into it")));
        }
    }
    let this_host = control.drivers.settings().holder.split(':').next().unwrap_or_default().to_string();
    if control.drivers.is_driving(id) {
        return Err(ApiError::conflict(format!("iteration {id} is being driven by this server already")));
    }
    if let Some(holder) = lease_holder_alive(&it, &this_host) {
        return Err(ApiError::conflict(format!("iteration {id} is being driven by process {holder}")));
    }
    let requeued = state.metastore.reopen_failed_shards(id).await?;
    tracing::info!(iteration = id, requeued, by = %caller.name, "iteration resumed through the API");
    control.drivers.start(id, true, None);
    let now = state.metastore.iteration(id).await?.state;
    Ok(started(id, &now, StatusCode::ACCEPTED, false))
}

/// Options of `DELETE /iterations/{id}`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also delete every iteration grown from it (the chain below it).
    #[serde(default)]
    pub recursive: bool,
}

/// What `DELETE /iterations/{id}` removed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deleted {
    /// The iteration.
    pub id: i64,
    /// One line per deleted iteration (files and rows) and one about `report.json`.
    pub message: String,
}

/// Deletes an iteration's files and rows (admins); with `recursive=true` the chain below it
/// too. An active iteration (cancel it first), or one with children without `recursive`, is a
/// 409 and nothing is deleted.
#[utoipa::path(delete, path = "/api/v1/iterations/{id}", tag = "iterations", params(("id" = i64, Path, description = "iteration id"), DeleteQuery), security(("bearer" = [])),
    responses((status = 200, body = Deleted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>, query: Result<Query<DeleteQuery>, QueryRejection>) -> Result<Json<Deleted>, ApiError> {
    caller.must_be_admin("delete iterations")?;
    state.control()?;
    let id = iteration_id(path)?;
    let Query(q) = query.map_err(|e| rejection(e.status(), e.body_text(), "recursive"))?;
    state.metastore.iteration(id).await?;
    let message = corpusminer_coordinator::driver::delete_chain(&state.metastore, id, q.recursive, state.storage.as_ref(), state.out.clone(), "").await.map_err(|e| match e.downcast_ref::<DeleteRefused>() {
        Some(r) => ApiError::conflict(r.0.clone()),
        None => match e.downcast::<corpusminer_storage::MetastoreError>() {
            Ok(m) => m.into(),
            Err(e) => ApiError::internal(format!("{e:#}")),
        },
    })?;
    tracing::info!(iteration = id, recursive = q.recursive, by = %caller.name, "deleted through the API");
    Ok(Json(Deleted { id, message }))
}
