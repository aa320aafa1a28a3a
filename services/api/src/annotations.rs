//! `GET /api/v1/annotations` and `POST /api/v1/annotations`: the annotation store that
//! `annotate import` and `annotate list` use. A posted annotation records the token's name as its
//! annotator; the whole request is checked before anything is written.

use crate::auth::Caller;
use crate::error::{rejection, ApiError, ErrorBody};
use crate::iterations::Paging;
use crate::ApiState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use corpusminer_coordinator::annotation::normalize_prefix;
use corpusminer_storage::metastore::{Label, NewAnnotation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most annotations one request may post.
pub const MAX_ANNOTATIONS_PER_REQUEST: usize = 10_000;

/// An annotation as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnnotationItem {
    /// Row id.
    pub id: i64,
    /// The URL path prefix, normalised (`mathoverflow.net/questions`).
    pub prefix: String,
    /// `math` or `nonmath`.
    pub label: String,
    /// Who made it (the token's name for annotations made through the API).
    pub annotator: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
    /// A note, if one was given.
    pub note: Option<String>,
    /// An admin's settlement of the prefix.
    pub settles: bool,
}

/// A page of annotations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnnotationPage {
    /// The annotations of this page.
    pub items: Vec<AnnotationItem>,
    /// Annotations in all (current ones, or every row with `history`).
    pub total: usize,
    /// Items skipped before this page.
    pub offset: usize,
}

/// Query of `GET /annotations`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnnotationQuery {
    /// Items skipped (default 0).
    #[serde(default)]
    pub offset: usize,
    /// Items returned, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// `true`: every annotation ever made, oldest first; default: the current one of each
    /// prefix, by prefix.
    #[serde(default)]
    pub history: bool,
}

/// One annotation to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnnotationBody {
    /// A URL or URL path prefix (`https://www.mathoverflow.net/questions/`); stored normalised.
    pub prefix: String,
    /// `math` or `nonmath`.
    pub label: String,
    /// Why, for the next person.
    pub note: Option<String>,
    /// Settle the prefix (admins only): this label decides it whatever the annotators said.
    #[serde(default)]
    pub settle: bool,
}

/// `POST /annotations`: one annotation or several.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostAnnotations {
    /// The annotations, applied in order (a later one of the same prefix supersedes).
    pub annotations: Vec<NewAnnotationBody>,
}

/// What `POST /annotations` made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostedAnnotations {
    /// The new rows, in the order posted.
    pub items: Vec<AnnotationItem>,
}

fn item(a: corpusminer_storage::metastore::Annotation) -> AnnotationItem {
    AnnotationItem { id: a.id, prefix: a.prefix, label: a.label.to_string(), annotator: a.annotator, created_at: a.created_at.to_rfc3339(), note: a.note, settles: a.settles }
}

/// Annotations, paged: the label that decides each prefix (its settlement, else its annotators'
/// common label; disputed prefixes are listed by `GET /annotations/disputes`), or the whole
/// history.
#[utoipa::path(get, path = "/api/v1/annotations", tag = "annotations", params(AnnotationQuery), security(("bearer" = [])),
    responses((status = 200, body = AnnotationPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller, query: Result<Query<AnnotationQuery>, QueryRejection>) -> Result<Json<AnnotationPage>, ApiError> {
    caller.may_read()?;
    let Query(q) = query.map_err(|e| rejection(e.status(), e.body_text(), "query"))?;
    let paging = Paging { offset: q.offset, limit: q.limit };
    let all: Vec<AnnotationItem> = state.metastore.annotations(q.history).await?.into_iter().map(item).collect();
    let (items, total) = paging.page(&all)?;
    Ok(Json(AnnotationPage { items, total, offset: q.offset }))
}

/// Makes annotations, recorded as the caller's. Every one is checked first: one bad prefix or
/// label refuses the request and nothing is written.
#[utoipa::path(post, path = "/api/v1/annotations", tag = "annotations", request_body = PostAnnotations, security(("bearer" = [])),
    responses((status = 201, body = PostedAnnotations), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn post(State(state): State<ApiState>, caller: Caller, body: Result<Json<PostAnnotations>, JsonRejection>) -> Result<(StatusCode, Json<PostedAnnotations>), ApiError> {
    caller.may_annotate()?;
    let Json(body) = body.map_err(|e| rejection(e.status(), e.body_text(), "body"))?;
    if body.annotations.is_empty() {
        return Err(ApiError::bad_request("annotations", "no annotations given"));
    }
    if body.annotations.len() > MAX_ANNOTATIONS_PER_REQUEST {
        return Err(ApiError::bad_request("annotations", format!("{} annotations in one request: at most {MAX_ANNOTATIONS_PER_REQUEST}", body.annotations.len())));
    }
    let now = chrono::Utc::now();
    let mut rows = Vec::with_capacity(body.annotations.len());
    for (i, a) in body.annotations.iter().enumerate() {
        let prefix = normalize_prefix(&a.prefix).map_err(|e| ApiError::bad_request(&format!("annotations[{i}].prefix"), e.to_string()))?;
        let label: Label = a.label.parse().map_err(|e: String| ApiError::bad_request(&format!("annotations[{i}].label"), e))?;
        if a.settle {
            caller.must_be_admin("settle a prefix").map_err(|mut e| {
                e.body.field = Some(format!("annotations[{i}].settle"));
                e
            })?;
        }
        rows.push(NewAnnotation { prefix, label, annotator: caller.name.clone(), created_at: now, note: a.note.clone().filter(|n| !n.trim().is_empty()), settles: a.settle });
    }
    let ids = state.metastore.add_annotations(&rows).await?;
    let items = ids
        .into_iter()
        .zip(rows)
        .map(|(id, r)| AnnotationItem { id, prefix: r.prefix, label: r.label.to_string(), annotator: r.annotator, created_at: r.created_at.to_rfc3339(), note: r.note, settles: r.settles })
        .collect();
    Ok((StatusCode::CREATED, Json(PostedAnnotations { items })))
}

/// A prefix its annotators disagree on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisputeItem {
    /// The prefix.
    pub prefix: String,
    /// Each annotator's latest label: `[annotator, label]`.
    pub labels: Vec<(String, String)>,
}

/// Two annotators' agreement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementItem {
    /// One annotator.
    pub a: String,
    /// The other.
    pub b: String,
    /// Prefixes both labelled.
    pub prefixes: u64,
    /// Of those, prefixes labelled the same.
    pub agreed: u64,
    /// Cohen's kappa; `null` when undefined (both gave a single label only).
    pub kappa: Option<f64>,
}

/// Disputed prefixes and agreement per pair of annotators.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Disputes {
    /// Prefixes no seed uses until an admin settles them (`POST /annotations` with `settle`).
    pub disputes: Vec<DisputeItem>,
    /// Cohen's kappa of each pair of annotators on the prefixes both labelled.
    pub agreement: Vec<AgreementItem>,
}

/// Disputes and agreement among several annotators (annotators and admins).
#[utoipa::path(get, path = "/api/v1/annotations/disputes", tag = "annotations", security(("bearer" = [])),
    responses((status = 200, body = Disputes), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn disputes(State(state): State<ApiState>, caller: Caller) -> Result<Json<Disputes>, ApiError> {
    caller.may_read()?;
    Ok(Json(disputes_of(&state.metastore.annotations(true).await?)))
}

/// [`Disputes`] of an annotation history.
pub fn disputes_of(history: &[corpusminer_storage::metastore::Annotation]) -> Disputes {
    use corpusminer_storage::metastore::{disputed_prefixes, pair_agreement};
    Disputes {
        disputes: disputed_prefixes(history).into_iter().map(|d| DisputeItem { prefix: d.prefix, labels: d.labels.into_iter().map(|(w, l)| (w, l.to_string())).collect() }).collect(),
        agreement: pair_agreement(history).into_iter().map(|p| AgreementItem { a: p.a, b: p.b, prefixes: p.prefixes, agreed: p.agreed, kappa: p.kappa }).collect(),
    }
}

/// What `DELETE /annotations/{id}` removed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedAnnotation {
    /// The annotation.
    pub id: i64,
}

/// Deletes an annotation (undo): annotators their own, admins any. The labels it had
/// superseded decide again. 404 for no such annotation of the caller's.
#[utoipa::path(delete, path = "/api/v1/annotations/{id}", tag = "annotations", params(("id" = i64, Path, description = "annotation id")), security(("bearer" = [])),
    responses((status = 200, body = DeletedAnnotation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<ApiState>, caller: Caller, path: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>) -> Result<Json<DeletedAnnotation>, ApiError> {
    caller.may_annotate()?;
    let id = crate::iterations::path_id(path, "annotation")?;
    let own = (caller.role != corpusminer_storage::Role::Admin).then_some(caller.name.as_str());
    state.metastore.delete_annotation(id, own).await?;
    tracing::info!(annotation = id, by = %caller.name, "annotation deleted (undo)");
    Ok(Json(DeletedAnnotation { id }))
}
