//! The corpus delivered: `GET /iterations/{id}/corpus/files` lists an iteration's corpus files
//! (dolma JSONL parts and the manifest, under `iterations/<id>/corpus/` of its output folder)
//! and `GET /iterations/{id}/corpus/files/{name}` streams one, from a local folder or S3 alike,
//! without holding it in memory.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::iterations::iteration_id;
use crate::ApiState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use corpusminer_coordinator::iteration::join_key;
use corpusminer_storage::{Iteration, IterationState, ObjectStore};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// One corpus file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CorpusFile {
    /// File name (`part-00000.jsonl.zst`, `manifest.json`).
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Where to download it (`/api/v1/iterations/{id}/corpus/files/{name}`).
    pub url: String,
}

/// An iteration's corpus files, by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CorpusFiles {
    /// The iteration.
    pub id: i64,
    /// Its files.
    pub files: Vec<CorpusFile>,
}

fn corpus_prefix(id: i64) -> String {
    join_key(&["iterations", &id.to_string(), "corpus"]) + "/"
}

/// The iteration (which must be done) and its output store.
async fn done_iteration(state: &ApiState, id: i64) -> Result<(Iteration, Arc<dyn ObjectStore>), ApiError> {
    let it = state.metastore.iteration(id).await?;
    if !IterationState::parse(&it.state).is_some_and(|s| s.is_done()) {
        return Err(ApiError::conflict(format!("iteration {id} is {}: its corpus is written when it is done", it.state)));
    }
    let store = state.store_of(&it)?;
    Ok((it, store))
}

/// Lists a done iteration's corpus files (annotators and admins); 409 before it is done.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/corpus/files", tag = "corpus", params(("id" = i64, Path, description = "iteration id", example = 1)), security(("bearer" = [])),
    responses((status = 200, body = CorpusFiles), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Json<CorpusFiles>, ApiError> {
    caller.may_read()?;
    let id = iteration_id(path)?;
    let (_, store) = done_iteration(&state, id).await?;
    let prefix = corpus_prefix(id);
    let keys = store.list(&prefix).await.map_err(|e| ApiError::unavailable(format!("listing {}{prefix}: {e}", store.uri())))?;
    let mut files = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(name) = key.strip_prefix(&prefix).filter(|n| !n.contains('/')) else { continue };
        let bytes = store.size(&key).await.map_err(|e| ApiError::unavailable(format!("{key}: {e}")))?;
        files.push(CorpusFile { name: name.to_string(), bytes, url: format!("/api/v1/iterations/{id}/corpus/files/{name}") });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(CorpusFiles { id, files }))
}

/// Streams one corpus file (annotators and admins): its bytes as stored
/// (`application/zstd` for `.zst`, JSON for the manifest). 404 for a name not in the listing.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/corpus/files/{name}", tag = "corpus",
    params(("id" = i64, Path, description = "iteration id", example = 1), ("name" = String, Path, description = "a file name from the listing", example = "manifest.json")), security(("bearer" = [])),
    responses((status = 200, description = "the file's bytes", content((Vec<u8> = "application/zstd"), (Vec<u8> = "application/gzip"), (Object = "application/json"), (Vec<u8> = "application/octet-stream"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn download(State(state): State<ApiState>, caller: Caller, path: Result<Path<(i64, String)>, PathRejection>) -> Result<Response, ApiError> {
    caller.may_read()?;
    let (id, name) = path.map(|Path(p)| p).map_err(|e| ApiError::bad_request("id", format!("path: {}", e.body_text())))?;
    if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return Err(ApiError::bad_request("name", format!("{name:?} is not a corpus file name")));
    }
    let (_, store) = done_iteration(&state, id).await?;
    let key = corpus_prefix(id) + &name;
    if !store.exists(&key).await.map_err(|e| ApiError::unavailable(format!("{key}: {e}")))? {
        return Err(ApiError::not_found(format!("iteration {id} has no corpus file {name:?} (GET /api/v1/iterations/{id}/corpus/files lists them)")));
    }
    let size = store.size(&key).await.map_err(|e| ApiError::unavailable(format!("{key}: {e}")))?;
    let reader = store.open_read(&key, 0).await.map_err(|e| ApiError::unavailable(format!("{key}: {e}")))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    let kind = if name.ends_with(".zst") {
        "application/zstd"
    } else if name.ends_with(".json") {
        "application/json"
    } else if name.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The whole corpus of a done iteration as one Parquet file (annotators and admins): columns
/// id, text, source, added, created and metadata (a struct of the dolma metadata fields), as
/// `corpusminer export --format parquet` writes it. Built in a temporary file, then streamed.
#[utoipa::path(get, path = "/api/v1/iterations/{id}/corpus/parquet", tag = "corpus", params(("id" = i64, Path, description = "iteration id", example = 1)), security(("bearer" = [])),
    responses((status = 200, description = "the corpus as Parquet", content_type = "application/vnd.apache.parquet"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn parquet(State(state): State<ApiState>, caller: Caller, path: Result<Path<i64>, PathRejection>) -> Result<Response, ApiError> {
    caller.may_read()?;
    let id = iteration_id(path)?;
    let (_, store) = done_iteration(&state, id).await?;
    let file = tokio::task::spawn_blocking(tempfile::tempfile).await.map_err(ApiError::internal)?.map_err(ApiError::internal)?;
    let writer = file.try_clone().map_err(ApiError::internal)?;
    corpusminer_coordinator::export::export_iteration(store, id, std::io::BufWriter::new(writer)).await.map_err(|e| ApiError::unavailable(format!("exporting iteration {id}: {e}")))?;
    let mut file = tokio::fs::File::from_std(file);
    use tokio::io::AsyncSeekExt;
    let size = file.seek(std::io::SeekFrom::End(0)).await.map_err(ApiError::internal)?;
    file.seek(std::io::SeekFrom::Start(0)).await.map_err(ApiError::internal)?;
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.apache.parquet"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"corpus-{id}.parquet\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
