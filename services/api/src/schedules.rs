//! Schedules, their runs, webhooks and their deliveries: `GET/POST /schedules`,
//! `DELETE /schedules/{id}`, `GET /jobs`, `GET/POST /webhooks`, `DELETE /webhooks/{id}`,
//! `GET /webhooks/{id}/deliveries`. Admins write; annotators read schedules and runs. The
//! scheduler itself is [`crate::scheduler`].

use crate::auth::Caller;
use crate::error::{rejection, ApiError, ErrorBody};
use crate::ApiState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use corpusminer_coordinator::scheduler::{check_schedule, next_run, schedule_statuses, ScheduleStatus};
use corpusminer_storage::metastore::schedules::{Delivery, JobKind, JobRun, Schedule, ScheduleSpec, Webhook, EVENTS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A schedule to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduleBody {
    /// Unique name.
    pub name: String,
    /// `mine-new-crawl`, `next-when-labelled`, `expire-leases` or `train`.
    pub kind: JobKind,
    /// Cron expression: 5 fields (`min hour day month weekday`), or 6 with seconds first.
    pub cron: String,
    /// IANA time zone the expression is read in. Default: UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// `mine-new-crawl`: the `POST /iterations` body without inputs (no `input`, `crawl`,
    /// `crawl_base`): seed, negatives, settings, `shards`. `train`: the choices of
    /// `corpusminer train` in snake_case (`size`, `steps`, `seed`, …), without `source`, `db`
    /// and `out`, which the job sets.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub template: Option<serde_json::Value>,
    /// `mine-new-crawl`: where `collinfo.json` and `crawl-data/` are (https://, s3://, a folder).
    #[serde(default)]
    pub crawl_base: Option<String>,
    /// `next-when-labelled`, `train`: an iteration of the chain to follow.
    #[serde(default)]
    pub chain: Option<i64>,
}

/// A schedule with when it runs next and its latest run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleItem {
    /// The schedule.
    #[serde(flatten)]
    pub schedule: Schedule,
    /// Its next occurrence, Unix epoch milliseconds.
    pub next_run_ms: Option<i64>,
    /// Its latest run.
    pub last_run: Option<JobRun>,
}

impl From<ScheduleStatus> for ScheduleItem {
    fn from(s: ScheduleStatus) -> Self {
        ScheduleItem { schedule: s.schedule, next_run_ms: s.next_run_ms, last_run: s.last_run }
    }
}

/// Every schedule (admins and annotators).
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleItem>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Vec<ScheduleItem>>, ApiError> {
    caller.may_read()?;
    Ok(Json(schedule_statuses(&state.metastore).await?.into_iter().map(Into::into).collect()))
}

/// Adds a schedule (admins). Its cron expression, time zone, the fields its kind needs, its
/// template (read as its first run would read it) and its crawl base's `collinfo.json` are
/// checked first (400 naming the field; nothing is stored); a name in use is a 409.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", security(("bearer" = [])), request_body = NewScheduleBody,
    responses((status = 201, body = ScheduleItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(State(state): State<ApiState>, caller: Caller, body: Result<Json<NewScheduleBody>, JsonRejection>) -> Result<(StatusCode, Json<ScheduleItem>), ApiError> {
    caller.must_be_admin("add schedules")?;
    let Json(b) = body.map_err(|e| rejection(e.status(), e.body_text(), "body"))?;
    let spec = ScheduleSpec {
        name: b.name.trim().to_string(),
        kind: b.kind,
        cron: b.cron.trim().to_string(),
        timezone: b.timezone.unwrap_or_else(|| "UTC".into()),
        template: b.template,
        crawl_base: b.crawl_base,
        chain: b.chain,
        created_by: caller.name.clone(),
    };
    let keys: Vec<String> = match (&state.control, spec.kind) {
        (Some(c), JobKind::Train) => c.run_request.train_keys(),
        (Some(c), _) => c.run_request.schema()["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default(),
        (None, _) => Vec::new(),
    };
    check_schedule(&spec, &keys).map_err(|(field, message)| ApiError::bad_request(&field, message))?;
    if let Some(chain) = spec.chain {
        state.metastore.iteration(chain).await.map_err(|_| ApiError::bad_request("chain", format!("no iteration {chain}")))?;
    }
    if let Some(c) = &state.control {
        crate::scheduler::check_template(c.run_request.clone(), &spec, &state.storage.clone().unwrap_or_default()).await.map_err(|(field, message)| ApiError::bad_request(&field, message))?;
    }
    if state.metastore.schedules().await?.iter().any(|s| s.spec.name == spec.name) {
        return Err(ApiError::conflict(format!("a schedule named {:?} exists already", spec.name)));
    }
    let s = state.metastore.add_schedule(&spec).await?;
    tracing::info!(schedule = %s.spec.name, kind = %s.spec.kind, cron = %s.spec.cron, by = %caller.name, "schedule added");
    let next_run_ms = next_run(&s.spec, chrono::Utc::now().timestamp_millis());
    Ok((StatusCode::CREATED, Json(ScheduleItem { schedule: s, next_run_ms, last_run: None })))
}

/// What a DELETE removed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Removed {
    /// The row removed.
    pub id: i64,
}

/// Removes a schedule and its runs' rows (admins); the iterations it started stay.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = i64, Path, description = "schedule id")), security(("bearer" = [])),
    responses((status = 200, body = Removed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Json<Removed>, ApiError> {
    caller.must_be_admin("remove schedules")?;
    let id = crate::iterations::path_id(path, "schedule")?;
    state.metastore.remove_schedule(id).await?;
    tracing::info!(schedule = id, by = %caller.name, "schedule removed");
    Ok(Json(Removed { id }))
}

/// The query of `GET /jobs`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// Only this schedule's runs.
    #[param(minimum = 1)]
    pub schedule: Option<i64>,
    /// At most this many runs, newest first (1 to 1000). Default: 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Runs of schedules, newest first, with their outcome or error (admins and annotators); 404
/// for a schedule that is not there.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "schedules", params(JobsQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<JobRun>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn jobs(State(state): State<ApiState>, caller: Caller, query: Result<Query<JobsQuery>, QueryRejection>) -> Result<Json<Vec<JobRun>>, ApiError> {
    caller.may_read()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let limit = limit(q.limit)?;
    if let Some(id) = q.schedule {
        if id < 1 {
            return Err(ApiError::bad_request("schedule", format!("schedule {id} is not a schedule id (1 or more)")));
        }
        state.metastore.schedule(id).await.map_err(|_| ApiError::not_found(format!("no schedule {id}")))?;
    }
    Ok(Json(state.metastore.job_runs(q.schedule, limit).await?))
}

/// A list route's `limit`: 1 to 1000, default 100.
pub(crate) fn limit(l: Option<i64>) -> Result<i64, ApiError> {
    match l {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request("limit", format!("limit {n} is not in [1, 1000]"))),
    }
}

/// A webhook to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// Where each event is POSTed (http:// or https://).
    pub url: String,
    /// The events it receives: `iteration.awaiting_annotation`, `iteration.failed`,
    /// `iteration.complete`, `iteration.converged`, `job.failed`.
    pub events: Vec<String>,
    /// Shared secret: each body is signed with HMAC-SHA256 under it, sent as
    /// `X-Corpusminer-Signature-256: sha256=<hex>`. Never returned.
    pub secret: String,
}

/// Every webhook, without secrets (admins).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, body = Vec<Webhook>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn webhooks(State(state): State<ApiState>, caller: Caller) -> Result<Json<Vec<Webhook>>, ApiError> {
    caller.must_be_admin("list webhooks")?;
    Ok(Json(state.metastore.webhooks().await?))
}

/// Adds a webhook (admins): 400 naming the field for a URL that is not http(s), an unknown
/// event or an empty secret.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "schedules", security(("bearer" = [])), request_body = NewWebhookBody,
    responses((status = 201, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_webhook(State(state): State<ApiState>, caller: Caller, body: Result<Json<NewWebhookBody>, JsonRejection>) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    caller.must_be_admin("add webhooks")?;
    let Json(b) = body.map_err(|e| rejection(e.status(), e.body_text(), "body"))?;
    let url = reqwest::Url::parse(b.url.trim()).map_err(|e| ApiError::bad_request("url", format!("{:?} is not a URL: {e}", b.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::bad_request("url", format!("{url} is not an http:// or https:// URL")));
    }
    if b.events.is_empty() {
        return Err(ApiError::bad_request("events", format!("give at least one event of {}", EVENTS.join(", "))));
    }
    if let Some(e) = b.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::bad_request("events", format!("unknown event {e:?}: expected one of {}", EVENTS.join(", "))));
    }
    if b.secret.trim().is_empty() {
        return Err(ApiError::bad_request("secret", "a webhook needs a non-blank secret: it signs each body"));
    }
    let w = state.metastore.add_webhook(url.as_str(), &b.events, &b.secret, &caller.name).await?;
    tracing::info!(webhook = w.id, url = %w.url, events = ?w.events, by = %caller.name, "webhook added");
    Ok((StatusCode::CREATED, Json(w)))
}

/// Removes a webhook and its deliveries (admins).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "schedules", params(("id" = i64, Path, description = "webhook id")), security(("bearer" = [])),
    responses((status = 200, body = Removed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_webhook(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Json<Removed>, ApiError> {
    caller.must_be_admin("remove webhooks")?;
    let id = crate::iterations::path_id(path, "webhook")?;
    state.metastore.remove_webhook(id).await?;
    Ok(Json(Removed { id }))
}

/// The query of `GET /webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// At most this many, newest first (1 to 1000). Default: 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A webhook's deliveries, newest first: state, attempts, last status and error (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "schedules", params(("id" = i64, Path, description = "webhook id"), DeliveriesQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Delivery>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>, query: Result<Query<DeliveriesQuery>, QueryRejection>) -> Result<Json<Vec<Delivery>>, ApiError> {
    caller.must_be_admin("read webhook deliveries")?;
    let id = crate::iterations::path_id(path, "webhook")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    if !state.metastore.webhooks().await?.iter().any(|w| w.id == id) {
        return Err(ApiError::not_found(format!("no webhook {id}")));
    }
    Ok(Json(state.metastore.deliveries(Some(id), limit(q.limit)?).await?))
}
