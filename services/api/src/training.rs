//! `GET /training`: the training runs `corpusminer train` processes record in the metastore
//! (their own processes, started by hand, by a Kubernetes Job or by a `train` schedule), with
//! their progress and where their reports are.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::ApiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use corpusminer_storage::metastore::TrainingRun;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A training run as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrainingRunItem {
    /// Row id.
    pub id: i64,
    /// The run's name (its output folder, or a name given).
    pub name: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Steps in the run.
    pub steps: u64,
    /// Steps done.
    pub step: u64,
    /// The latest step's training loss, nats per token.
    pub loss: Option<f64>,
    /// Mean training tokens per second so far.
    pub tokens_per_s: Option<f64>,
    /// Seconds left at that rate.
    pub eta_s: Option<f64>,
    /// Where its report is (object key or URI), once done.
    pub report: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Its last update, Unix epoch milliseconds.
    pub updated_at_ms: i64,
}

impl From<TrainingRun> for TrainingRunItem {
    fn from(r: TrainingRun) -> Self {
        TrainingRunItem {
            id: r.id,
            name: r.name,
            state: r.state,
            steps: r.steps,
            step: r.progress.map_or(0, |p| p.step),
            loss: r.progress.map(|p| p.loss),
            tokens_per_s: r.progress.map(|p| p.tokens_per_s),
            eta_s: r.progress.map(|p| p.eta_s),
            report: r.report_key,
            error: r.error,
            updated_at_ms: r.updated_at_ms,
        }
    }
}

/// The query of `GET /training`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrainingQuery {
    /// At most this many runs, newest first (1 to 1000). Default: 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Training runs, newest first, with their progress (admins and annotators).
#[utoipa::path(get, path = "/api/v1/training", tag = "schedules", params(TrainingQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<TrainingRunItem>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller, query: Result<Query<TrainingQuery>, QueryRejection>) -> Result<Json<Vec<TrainingRunItem>>, ApiError> {
    caller.may_read()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let limit = crate::schedules::limit(q.limit)?;
    Ok(Json(state.metastore.training_runs(limit).await?.into_iter().map(Into::into).collect()))
}
