//! `corpusminer serve`: the HTTP API over the metastore, versioned JSON under `/api/v1`.
//!
//! - Reads go straight to the metastore, so every replica of `serve` on one PostgreSQL answers
//!   the same.
//! - Every route but `/healthz`, `/readyz` and `/api/v1/openapi.json` needs a bearer token
//!   ([`auth`]); each handler checks what the token's role may do.
//! - Errors are JSON `{error, message, field}` ([`error`]); an invalid request changes nothing
//!   (every value is checked before the first write). Request bodies are limited to
//!   [`MAX_BODY_BYTES`].
//! - The OpenAPI 3 document is generated from the handlers' annotations (`utoipa`); the body
//!   schema of `POST /iterations` comes from the `run` flags themselves ([`control::RunRequest`]).
//! - With a [`control::Control`] the server also starts, resumes and deletes iterations and
//!   drives them in-process ([`drivers`]); without one it only reads.

pub mod annotations;
pub mod auth;
pub mod browse;
pub mod control;
pub mod corpus;
pub mod drivers;
pub mod error;
pub mod iterations;
pub mod metrics;
pub mod scheduler;
pub mod schedules;
pub mod training;
pub mod ui;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use corpusminer_storage::{Metastore, ObjectStore, StorageConfig};
use std::sync::Arc;
use error::{ApiError, ErrorBody};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Largest request body accepted, in bytes (1 MiB); a larger one is answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The metastore (iterations, shards, proposals, annotations, tokens).
    pub metastore: Metastore,
    /// The output folder replacing the recorded one (SQLite in a local `--out`: the folder may
    /// have moved), else `None`.
    pub out: Option<String>,
    /// Object-store settings replacing the recorded ones (`--s3-endpoint`), else `None`.
    pub storage: Option<StorageConfig>,
    /// Starting and driving iterations; `None`: a read-only API (those routes answer 503).
    pub control: Option<Arc<control::Control>>,
    /// The server's output folder, checked by `/readyz`.
    pub output: Option<Arc<dyn ObjectStore>>,
}

impl ApiState {
    /// A read-only API over `metastore`, iterations' files where they are recorded.
    pub fn new(metastore: Metastore) -> Self {
        ApiState { metastore, out: None, storage: None, control: None, output: None }
    }

    /// The output store of iteration `it`, with this server's folder and S3 settings
    /// ([`corpusminer_coordinator::driver::iteration_store`]). Errors: 503 naming the folder.
    pub fn store_of(&self, it: &corpusminer_storage::Iteration) -> Result<Arc<dyn ObjectStore>, ApiError> {
        corpusminer_coordinator::driver::iteration_store(it, self.storage.as_ref(), self.out.as_deref()).map_err(|e| ApiError::unavailable(format!("iteration {}'s output folder: {e:#}", it.id)))
    }
}

/// The OpenAPI document of [`router`].
#[derive(OpenApi)]
#[openapi(
    info(title = "corpusminer", description = "Mining a domain corpus out of Common Crawl: iterations, proposals, annotations."),
    paths(healthz, readyz, metrics::render, iterations::list, iterations::get, iterations::proposals, browse::host_paths, browse::page, iterations::cancel, control::create, control::next, control::resume, control::delete, corpus::list, corpus::download, corpus::parquet, annotations::list, annotations::post, annotations::delete, annotations::disputes, schedules::list, schedules::add, schedules::remove, schedules::jobs, schedules::webhooks, schedules::add_webhook, schedules::remove_webhook, schedules::deliveries, training::list),
    components(schemas(ErrorBody, Health)),
    modifiers(&BearerAuth),
    tags((name = "iterations", description = "Iterations of the mining loop"), (name = "annotations", description = "URL path prefixes labelled by people"), (name = "corpus", description = "The corpus files of done iterations"), (name = "schedules", description = "Scheduled jobs, their runs, webhooks, and training runs"), (name = "health", description = "Liveness and readiness"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("a token from `corpusminer admin token create`")).build()));
    }
}

/// Liveness or readiness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// The metastore answers a query and the output folder a lookup.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
    state.metastore.iteration_ids().await.map_err(|e| ApiError::unavailable(format!("metastore {}: {e}", state.metastore.redacted_url())))?;
    if let Some(out) = &state.output {
        out.exists(corpusminer_coordinator::iteration::REPORT_KEY).await.map_err(|e| ApiError::unavailable(format!("output folder {}: {e}", out.uri())))?;
    }
    Ok(Json(Health { status: "ok".into() }))
}

/// The document, with the `POST /iterations` body schema of the `run` flags when this server
/// starts iterations.
pub fn openapi_document(state: &ApiState) -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    if let Some(c) = &state.control {
        doc["paths"]["/api/v1/iterations"]["post"]["requestBody"]["content"]["application/json"]["schema"] = c.run_request.schema();
    }
    doc
}

async fn openapi_json(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(openapi_document(&state))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route (the API is under /api/v1; its document is /api/v1/openapi.json)")
}

/// The whole API.
pub fn router(state: ApiState) -> Router {
    metrics::install();
    let v1 = Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/iterations", get(iterations::list).post(control::create))
        .route("/iterations/{id}", get(iterations::get).delete(control::delete))
        .route("/iterations/{id}/proposals", get(iterations::proposals))
        .route("/iterations/{id}/hosts/{host}/paths", get(browse::host_paths))
        .route("/iterations/{id}/pages/{page_id}", get(browse::page))
        .route("/iterations/{id}/cancel", post(iterations::cancel))
        .route("/iterations/{id}/next", post(control::next))
        .route("/iterations/{id}/resume", post(control::resume))
        .route("/iterations/{id}/corpus/files", get(corpus::list))
        .route("/iterations/{id}/corpus/parquet", get(corpus::parquet))
        .route("/iterations/{id}/corpus/files/{name}", get(corpus::download))
        .route("/annotations", get(annotations::list).post(annotations::post))
        .route("/annotations/disputes", get(annotations::disputes))
        .route("/annotations/{id}", axum::routing::delete(annotations::delete))
        .route("/schedules", get(schedules::list).post(schedules::add))
        .route("/schedules/{id}", axum::routing::delete(schedules::remove))
        .route("/jobs", get(schedules::jobs))
        .route("/webhooks", get(schedules::webhooks).post(schedules::add_webhook))
        .route("/webhooks/{id}", axum::routing::delete(schedules::remove_webhook))
        .route("/webhooks/{id}/deliveries", get(schedules::deliveries))
        .route("/training", get(training::list));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .nest("/api/v1", v1)
        .nest("/ui", ui::routes())
        .route("/", get(|| async { axum::response::Redirect::to("/ui/iterations") }))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError { status: StatusCode::METHOD_NOT_ALLOWED, body: ErrorBody { error: "method_not_allowed".into(), message: "this route does not take that method".into(), field: None } } })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then finishes the requests in
/// flight (axum's graceful shutdown).
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
