//! `GET /api/v1/iterations`, `GET /api/v1/iterations/{id}` and
//! `GET /api/v1/iterations/{id}/proposals`: what the metastore holds of each iteration (state,
//! inputs, shard progress, report) and the hosts it proposes for annotation.

use crate::auth::Caller;
use crate::error::{rejection, ApiError, ErrorBody};
use crate::ApiState;
use corpusminer_coordinator::annotation::prefix_on_host;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use corpusminer_storage::{Iteration, ShardCounts};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most items one page of a listing holds.
pub const MAX_LIMIT: usize = 500;
/// Items of a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// Paging of a listing: `offset` items skipped, at most `limit` returned.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items skipped (default 0).
    #[serde(default)]
    pub offset: usize,
    /// Items returned, 1 to 500 (default 50).
    pub limit: Option<usize>,
}

impl Paging {
    /// The limit to apply; errors name the field.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_request("limit", format!("limit {n} is not in 1..={MAX_LIMIT}"))),
        }
    }

    /// `items[offset..offset + limit]` and the total.
    pub fn page<T: Clone>(&self, items: &[T]) -> Result<(Vec<T>, usize), ApiError> {
        let limit = self.limit()?;
        let from = self.offset.min(items.len());
        Ok((items[from..(from + limit).min(items.len())].to_vec(), items.len()))
    }
}

/// Shards of an iteration by state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardProgress {
    /// Every shard of the iteration.
    pub total: u64,
    /// Not yet leased.
    pub pending: u64,
    /// Leased by a worker now.
    pub leased: u64,
    /// Scored and committed.
    pub done: u64,
    /// Failed for good (reasons in `failures`).
    pub failed: u64,
}

impl From<ShardCounts> for ShardProgress {
    fn from(c: ShardCounts) -> Self {
        ShardProgress { total: c.total(), pending: c.pending, leased: c.leased, done: c.done, failed: c.failed }
    }
}

/// One iteration in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IterationSummary {
    /// Iteration id.
    pub id: i64,
    /// The crawl it reads (`CC-MAIN-2024-10`, or the name given to local shards).
    pub crawl: String,
    /// `preparing`, `scoring`, `selecting`, `done`, `failed`, `cancelled`, …
    pub state: String,
    /// The iteration it continues, for the second and later of a chain.
    pub parent_id: Option<i64>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When its row last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// The P(math) threshold chosen, once chosen.
    pub threshold: Option<f64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Shards by state.
    pub shards: ShardProgress,
}

/// One iteration in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IterationDetail {
    /// What a listing shows.
    #[serde(flatten)]
    pub summary: IterationSummary,
    /// The settings it runs with, as stored (credentials are never stored).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Its inputs as resolved (seed and negatives files, shards), once prepared.
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<serde_json::Value>,
    /// The report, once the iteration is done.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Failed shards' reasons with counts (`timeout: 2, not_warc: 1`), empty when none failed.
    pub failures: String,
    /// Pages so far, their rate and the time left; the step when this server drives it.
    pub progress: LiveProgress,
    /// The corpus manifest (`corpus/manifest.json`: files, counts, checksums, filters), once
    /// the iteration is done.
    #[schema(value_type = Option<Object>)]
    pub corpus_manifest: Option<serde_json::Value>,
}

/// The corpus manifest of a done iteration; `None` before, or when it cannot be read (logged).
async fn corpus_manifest(state: &ApiState, it: &Iteration) -> Option<serde_json::Value> {
    if !corpusminer_storage::IterationState::parse(&it.state).is_some_and(|s| s.is_done()) {
        return None;
    }
    let key = corpusminer_coordinator::iteration::join_key(&["iterations", &it.id.to_string(), "corpus", "manifest.json"]);
    let read = async {
        let store = state.store_of(it).map_err(|e| anyhow::anyhow!(e.body.message))?;
        let bytes = store.get(&key).await?;
        Ok::<_, anyhow::Error>(serde_json::from_slice(&bytes)?)
    };
    read.await.map_err(|e| tracing::warn!(iteration = it.id, error = %e, "reading the corpus manifest failed")).ok()
}

/// Live progress of an iteration, read from the metastore (every replica answers the same);
/// `step` and `detail` only from the server that drives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveProgress {
    /// Pages scored in done shards.
    pub pages: u64,
    /// Pages per second of the current scoring run (shards finished since it started), while
    /// scoring.
    pub pages_per_second: Option<f64>,
    /// Seconds until every shard is scored at the current run's pace, while scoring.
    pub eta_seconds: Option<f64>,
    /// The process driving it now (`host:pid`), while its lease is held.
    pub driven_by: Option<String>,
    /// When that lease runs out unless renewed (RFC 3339).
    pub lease_expires_at: Option<String>,
    /// The step in progress, when this server drives it.
    pub step: Option<String>,
    /// What the step is doing, when this server drives it.
    pub detail: Option<String>,
}

/// [`LiveProgress`] of `it`, from its `shards` (as `Metastore::shards` lists them).
pub fn live_progress(state: &ApiState, it: &Iteration, shards: &[corpusminer_storage::ShardRow]) -> LiveProgress {
    let done: Vec<_> = shards.iter().filter(|s| s.state == "done").collect();
    let pages: u64 = done.iter().map(|s| s.pages.unwrap_or(0).max(0) as u64).sum();
    let (mut pages_per_second, mut eta_seconds) = (None, None);
    if it.state == corpusminer_storage::IterationState::Scoring.as_str() {
        let inputs: corpusminer_coordinator::driver::IterationInputs = it.inputs_json.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        if let Some(run) = inputs.scoring_runs.last().filter(|r| r.seconds.is_none()) {
            let elapsed = (chrono::Utc::now().timestamp_millis() - run.started_ms).max(1) as f64 / 1000.0;
            let since: Vec<_> = done.iter().filter(|s| s.finished_at.is_some_and(|t| t.timestamp_millis() >= run.started_ms)).collect();
            let run_pages: u64 = since.iter().map(|s| s.pages.unwrap_or(0).max(0) as u64).sum();
            pages_per_second = Some(run_pages as f64 / elapsed);
            let left = shards.iter().filter(|s| s.state == "pending" || s.state == "leased").count();
            if !since.is_empty() {
                eta_seconds = Some(left as f64 * elapsed / since.len() as f64);
            }
        }
    }
    let live = it.lease_expires_at.is_some_and(|t| t > chrono::Utc::now());
    let step = state.control.as_ref().and_then(|c| c.drivers.step(it.id));
    LiveProgress {
        pages,
        pages_per_second,
        eta_seconds,
        driven_by: it.lease_holder.clone().filter(|_| live),
        lease_expires_at: it.lease_expires_at.filter(|_| live).map(|t| t.to_rfc3339()),
        step: step.as_ref().map(|s| s.step.clone()),
        detail: step.map(|s| s.detail),
    }
}

/// A page of iterations, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IterationPage {
    /// The iterations of this page.
    pub items: Vec<IterationSummary>,
    /// Iterations in all.
    pub total: usize,
    /// Items skipped before this page.
    pub offset: usize,
}

fn json_or_string(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string()))
}

async fn summary(state: &ApiState, it: &Iteration) -> Result<IterationSummary, ApiError> {
    Ok(IterationSummary {
        id: it.id,
        crawl: it.crawl.clone(),
        state: it.state.clone(),
        parent_id: it.parent_id,
        created_at: it.created_at.to_rfc3339(),
        updated_at: it.updated_at.to_rfc3339(),
        threshold: it.threshold,
        error: it.error.clone(),
        shards: state.metastore.shard_counts(it.id).await?.into(),
    })
}

/// Parses the `{id}` path parameter.
pub fn iteration_id(path: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    path_id(path, "iteration")
}

/// Parses an `{id}` path parameter of a `what` (`iteration`, `schedule`): 400 on field `id`.
pub fn path_id(path: Result<Path<i64>, PathRejection>, what: &str) -> Result<i64, ApiError> {
    path.map(|Path(id)| id).map_err(|e| ApiError::bad_request("id", format!("{what} id: {}", e.body_text())))
}

/// Iterations, newest first, paged.
#[utoipa::path(get, path = "/api/v1/iterations", tag = "iterations", params(Paging), security(("bearer" = [])),
    responses((status = 200, body = IterationPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller, paging: Result<Query<Paging>, QueryRejection>) -> Result<Json<IterationPage>, ApiError> {
    caller.may_read()?;
    let Query(paging) = paging.map_err(|e| rejection(e.status(), e.body_text(), "query"))?;
    let mut ids = state.metastore.iteration_ids().await?;
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let (ids, total) = paging.page(&ids)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        items.push(summary(&state, &state.metastore.iteration(id).await?).await?);
    }
    Ok(Json(IterationPage { items, total, offset: paging.offset }))
}

/// One iteration: state, settings, inputs, shard progress and, once done, its report.
#[utoipa::path(get, path = "/api/v1/iterations/{id}", tag = "iterations", params(("id" = i64, Path, description = "iteration id", example = 1)), security(("bearer" = [])),
    responses((status = 200, body = IterationDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Json<IterationDetail>, ApiError> {
    caller.may_read()?;
    let id = iteration_id(path)?;
    let it = state.metastore.iteration(id).await?;
    let shards = state.metastore.shards(id).await?;
    Ok(Json(IterationDetail {
        summary: summary(&state, &it).await?,
        config: json_or_string(&it.config_json),
        inputs: it.inputs_json.as_deref().map(json_or_string),
        report: it.report_json.as_deref().map(json_or_string),
        failures: corpusminer_coordinator::driver::failure_reasons(&shards),
        progress: live_progress(&state, &it, &shards),
        corpus_manifest: corpus_manifest(&state, &it).await,
    }))
}

/// How proposals are ordered.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ProposalSort {
    /// Kept share of the host's pages (default).
    #[default]
    Ratio,
    /// Kept pages.
    KeptPages,
    /// Pages scored.
    Pages,
    /// Host name.
    Host,
}

/// Filters and order of `GET /iterations/{id}/proposals`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// Items skipped (default 0).
    #[serde(default)]
    pub offset: usize,
    /// Items returned, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Order: `ratio` (default), `kept_pages`, `pages` or `host`.
    #[serde(default)]
    #[param(inline)]
    pub sort: ProposalSort,
    /// `true` for ascending; descending by default (ascending for `host`).
    pub ascending: Option<bool>,
    /// Only hosts containing this text.
    pub host: Option<String>,
    /// Only hosts whose kept ratio is at least this (0..1).
    pub min_ratio: Option<f64>,
    /// `true`: only hosts with an annotation on them; `false`: only those without.
    pub labelled: Option<bool>,
}

/// A host proposed for annotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalItem {
    /// The host (`www.` dropped).
    pub host: String,
    /// Its registrable domain.
    pub domain: String,
    /// Pages scored.
    pub pages: u64,
    /// Pages kept.
    pub kept_pages: u64,
    /// Tokens of its pages.
    pub tokens: u64,
    /// Tokens of its kept pages.
    pub kept_tokens: u64,
    /// `kept_pages / pages`.
    pub ratio: f64,
    /// The top-scoring kept URLs with their scores.
    pub samples: Vec<(String, f32)>,
    /// The current label of the host itself, or of a path on it (`math`/`nonmath`), when one
    /// is annotated.
    pub label: Option<String>,
}

/// A page of proposals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalPage {
    /// The proposals of this page.
    pub items: Vec<ProposalItem>,
    /// Proposals matching the filters.
    pub total: usize,
    /// Items skipped before this page.
    pub offset: usize,
}

/// The hosts an iteration proposes for annotation, filtered, sorted and paged.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/proposals", tag = "iterations", params(("id" = i64, Path, description = "iteration id", example = 1), ProposalQuery), security(("bearer" = [])),
    responses((status = 200, body = ProposalPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn proposals(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    query: Result<Query<ProposalQuery>, QueryRejection>,
) -> Result<Json<ProposalPage>, ApiError> {
    caller.may_read()?;
    let id = iteration_id(path)?;
    let Query(q) = query.map_err(|e| rejection(e.status(), e.body_text(), "query"))?;
    if let Some(r) = q.min_ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(ApiError::bad_request("min_ratio", format!("min_ratio {r} is not in [0, 1]")));
        }
    }
    let paging = Paging { offset: q.offset, limit: q.limit };
    paging.limit()?;
    state.metastore.iteration(id).await?;
    let annotations = state.metastore.annotations(false).await?;
    let needle = q.host.as_deref().map(str::to_lowercase);
    let mut items: Vec<ProposalItem> = state
        .metastore
        .proposals(id)
        .await?
        .into_iter()
        .map(|p| {
            // The host's own annotation decides; else the most specific one on a path of it.
            let label = annotations.iter().filter(|a| prefix_on_host(&a.prefix, &p.host)).min_by_key(|a| a.prefix.len()).map(|a| a.label.to_string());
            ProposalItem { host: p.host, domain: p.domain, pages: p.pages, kept_pages: p.kept_pages, tokens: p.tokens, kept_tokens: p.kept_tokens, ratio: p.ratio, samples: p.samples, label }
        })
        .filter(|p| needle.as_deref().is_none_or(|n| p.host.contains(n)))
        .filter(|p| q.min_ratio.is_none_or(|r| p.ratio >= r))
        .filter(|p| q.labelled.is_none_or(|l| p.label.is_some() == l))
        .collect();
    let ascending = q.ascending.unwrap_or(q.sort == ProposalSort::Host);
    items.sort_by(|a, b| {
        let o = match q.sort {
            ProposalSort::Ratio => a.ratio.total_cmp(&b.ratio),
            ProposalSort::KeptPages => a.kept_pages.cmp(&b.kept_pages),
            ProposalSort::Pages => a.pages.cmp(&b.pages),
            ProposalSort::Host => a.host.cmp(&b.host),
        };
        let o = if ascending { o } else { o.reverse() };
        o.then_with(|| a.host.cmp(&b.host))
    });
    let (items, total) = paging.page(&items)?;
    Ok(Json(ProposalPage { items, total, offset: paging.offset }))
}

/// What `POST /iterations/{id}/cancel` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cancelled {
    /// The iteration.
    pub id: i64,
    /// The state it was in.
    pub was: String,
    /// `cancelled`.
    pub state: String,
}

/// Cancels an iteration (admins only): a process running it stops at its next shard or step.
/// A complete or already cancelled iteration is a 409 and stays as it was.
#[utoipa::path(post, path = "/api/v1/iterations/{id}/cancel", tag = "iterations", params(("id" = i64, Path, description = "iteration id")), security(("bearer" = [])),
    responses((status = 200, body = Cancelled), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Json<Cancelled>, ApiError> {
    caller.must_be_admin("cancel iterations")?;
    let id = iteration_id(path)?;
    let was = state.metastore.cancel_iteration(id).await?;
    tracing::info!(iteration = id, by = %caller.name, was = %was, "iteration cancelled through the API");
    Ok(Json(Cancelled { id, was: was.to_string(), state: "cancelled".into() }))
}
