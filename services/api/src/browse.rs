//! What annotators look at: `GET /iterations/{id}/hosts/{host}/paths` (a host's URL path
//! prefixes as a tree, with pages, kept pages and mean score per prefix) and
//! `GET /iterations/{id}/pages/{page_id}` (a page's URL, score and extracted text), both read
//! from the iteration's scored-page and text files ([`corpusminer_coordinator::browse`]).

use crate::auth::Caller;
use crate::error::{rejection, ApiError, ErrorBody};
use crate::ApiState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use corpusminer_coordinator::annotation::normalize_prefix;
use corpusminer_coordinator::browse;
use corpusminer_storage::ShardRow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Deepest path tree served, in segments below the host.
pub const MAX_DEPTH: usize = 8;

/// Options of the path tree.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// Path segments below the host, 1 to 8 (default 3).
    pub depth: Option<usize>,
}

/// A page listed under a prefix.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SamplePage {
    /// Page id (`GET /iterations/{id}/pages/{page_id}`).
    pub id: String,
    /// Its URL.
    pub url: String,
    /// P(math).
    pub score: f32,
}

/// One URL path prefix of a host and the longer prefixes below it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PathNode {
    /// The prefix as annotations name it (`mathoverflow.net/questions`).
    pub prefix: String,
    /// Pages scored under it.
    pub pages: u64,
    /// Pages kept (at or above the iteration's threshold; 0 before one is chosen).
    pub kept_pages: u64,
    /// Mean P(math) of its pages.
    pub mean_score: f64,
    /// Its highest-scoring pages, best first (at most 3).
    pub samples: Vec<SamplePage>,
    /// Longer prefixes, most pages first.
    #[schema(no_recursion)]
    pub children: Vec<PathNode>,
}

impl From<browse::PathNode> for PathNode {
    fn from(n: browse::PathNode) -> Self {
        PathNode {
            prefix: n.prefix,
            pages: n.pages,
            kept_pages: n.kept_pages,
            mean_score: n.mean_score,
            samples: n.samples.into_iter().map(|(id, url, score)| SamplePage { id, url, score }).collect(),
            children: n.children.into_iter().map(Into::into).collect(),
        }
    }
}

/// A host's path tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostPaths {
    /// The iteration.
    pub iteration: i64,
    /// The host, as scored (lowercase, no `www.`).
    pub host: String,
    /// The threshold kept pages are counted at, once chosen.
    pub threshold: Option<f64>,
    /// The tree; its root is the host itself.
    pub tree: PathNode,
}

/// One page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    /// Page id (the WARC-Record-ID's UUID).
    pub id: String,
    /// Its URL.
    pub url: String,
    /// Its host.
    pub host: String,
    /// P(math).
    pub score: f32,
    /// Tokens of its text.
    pub tokens: u64,
    /// Language (ISO 639-1, `und` when not told).
    pub lang: String,
    /// Capture date (WARC-Date).
    pub date: Option<String>,
    /// At or above the iteration's threshold (false before one is chosen).
    pub kept: bool,
    /// The shard it came from.
    pub shard: String,
    /// Its extracted text (mathematics as LaTeX), when its score reached the run's text floor.
    pub text: Option<String>,
}

/// Iteration `id`, its shards and its output store: what the scored-page readers need (here
/// and in the web UI).
pub(crate) async fn scored_shards(state: &ApiState, id: i64) -> Result<(corpusminer_storage::Iteration, Vec<ShardRow>, Arc<dyn corpusminer_storage::ObjectStore>), ApiError> {
    let it = state.metastore.iteration(id).await?;
    let shards = state.metastore.shards(id).await?;
    let store = state.store_of(&it)?;
    Ok((it, shards, store))
}

/// A scored-page file that could not be read: 503.
pub(crate) fn unavailable(e: browse::BrowseError) -> ApiError {
    ApiError::unavailable(format!("reading the scored pages: {e}"))
}

/// A `{host}` path parameter as scored pages name hosts (the annotation prefix spelling:
/// lowercase, no `www.`, no port). Errors: 400 when it is not a host alone.
pub(crate) fn host_param(host: &str) -> Result<String, ApiError> {
    match normalize_prefix(host) {
        Ok(h) if !h.contains('/') => Ok(h),
        _ => Err(ApiError::bad_request("host", format!("{host:?} is not a host name"))),
    }
}

/// A host's URL path prefixes as a tree (annotators and admins): pages, kept pages and mean
/// score per prefix, with each prefix's best pages. 404 when the iteration scored no page of
/// the host.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/hosts/{host}/paths", tag = "iterations",
    params(("id" = i64, Path, description = "iteration id", example = 1), ("host" = String, Path, description = "a host (`www.` and case do not matter)"), PathQuery), security(("bearer" = [])),
    responses((status = 200, body = HostPaths), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn host_paths(State(state): State<ApiState>, caller: Caller, path: Result<Path<(i64, String)>, PathRejection>, query: Result<Query<PathQuery>, QueryRejection>) -> Result<Json<HostPaths>, ApiError> {
    caller.may_read()?;
    let (id, host) = path.map(|Path(p)| p).map_err(|e| ApiError::bad_request("id", format!("path: {}", e.body_text())))?;
    let Query(q) = query.map_err(|e| rejection(e.status(), e.body_text(), "depth"))?;
    let depth = q.depth.unwrap_or(3);
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(ApiError::bad_request("depth", format!("depth {depth} is not in 1..={MAX_DEPTH}")));
    }
    let host = host_param(&host)?;
    let (it, shards, store) = scored_shards(&state, id).await?;
    let bucket = it.threshold_bucket.map(|b| b.max(0) as usize);
    let tree = browse::host_paths(&store, &shards, &host, bucket, depth).await.map_err(unavailable)?;
    let tree = tree.ok_or_else(|| ApiError::not_found(format!("iteration {id} scored no page of {host}")))?;
    Ok(Json(HostPaths { iteration: id, host, threshold: it.threshold, tree: tree.into() }))
}

/// One page of the iteration (annotators and admins): URL, score, language and, when stored,
/// its extracted text. 404 when no scored shard holds it.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/pages/{page_id}", tag = "iterations",
    params(("id" = i64, Path, description = "iteration id", example = 1), ("page_id" = String, Path, description = "page id (from samples, proposals or the corpus)")), security(("bearer" = [])),
    responses((status = 200, body = Page), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn page(State(state): State<ApiState>, caller: Caller, path: Result<Path<(i64, String)>, PathRejection>) -> Result<Json<Page>, ApiError> {
    caller.may_read()?;
    let (id, page_id) = path.map(|Path(p)| p).map_err(|e| ApiError::bad_request("id", format!("path: {}", e.body_text())))?;
    if page_id.is_empty() || page_id.len() > 200 {
        return Err(ApiError::bad_request("page_id", "a page id is 1 to 200 characters"));
    }
    let (it, shards, store) = scored_shards(&state, id).await?;
    let found = browse::find_page(&store, &shards, &page_id).await.map_err(unavailable)?;
    let f = found.ok_or_else(|| ApiError::not_found(format!("iteration {id} has no page {page_id:?}")))?;
    let kept = it.threshold_bucket.is_some_and(|b| corpusminer_pipeline::histogram::bucket_of(f.page.score) as i64 >= b);
    let p = f.page;
    Ok(Json(Page { id: p.id, url: p.url, host: p.host, score: p.score, tokens: p.tokens, lang: p.lang, date: p.date, kept, shard: f.shard, text: f.text }))
}
