//! Every error of the API is a JSON body `{error, message, field?}` with a 4xx or 5xx status:
//! `error` a stable machine-readable code, `message` what a person reads, `field` the request
//! field at fault when there is one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use corpusminer_storage::MetastoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code: `unauthorized`, `forbidden`, `not_found`, `bad_request`, `conflict`,
    /// `payload_too_large`, `unprocessable`, `unavailable`, `internal`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault (query parameter, path parameter or body field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answered to a request.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status (4xx or 5xx).
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, error: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        ApiError { status, body: ErrorBody { error: error.into(), message: message.into(), field: field.map(str::to_string) } }
    }

    /// 400: the request is malformed or a value is out of range; `field` names it.
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message, Some(field))
    }

    /// 401: no credentials, or credentials that are not (or no longer) valid.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message, None)
    }

    /// 403: valid credentials whose role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message, None)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message, None)
    }

    /// 409: the resource is in a state that does not allow this (nothing changed).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message, None)
    }

    /// 422: a well-formed request that contradicts an earlier one (an Idempotency-Key reused
    /// with another body).
    pub fn unprocessable(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message, Some(field))
    }

    /// 503: a dependency (metastore, store) cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message, None)
    }

    /// 500: logged with its cause; the body says no more than that it happened.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error (logged by the server)", None)
    }
}

impl From<MetastoreError> for ApiError {
    fn from(e: MetastoreError) -> Self {
        match e {
            MetastoreError::NotFound { what } => ApiError::not_found(format!("{what} not found")),
            MetastoreError::InvalidState { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string(), None),
            MetastoreError::InvalidInput(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m, None),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Maps axum's own rejections (malformed JSON, a query that does not parse, a body over the
/// limit) to the same JSON error bodies. A JSON body's data error names the field it is about
/// ([`json_field`]); others name `field`.
pub fn rejection(status: StatusCode, message: String, field: &str) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "payload_too_large", message, None),
        s if s.is_client_error() => {
            let named = json_field(&message).unwrap_or_else(|| field.to_string());
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message, Some(&named))
        }
        _ => ApiError::internal(message),
    }
}

/// The field a JSON body's data error is about, from axum's message: it gives the path to the
/// value (`annotations[0].colour: unknown field …`, serde_path_to_error's) after its prefix, and
/// a missing field's name in backticks after its parent's path (`annotations[0].label`). `None`
/// when the message names neither (a syntax error, a body of the wrong type).
pub fn json_field(message: &str) -> Option<String> {
    let detail = message.split_once("into the target type: ")?.1;
    let (path, rest) = match detail.split_once(": ") {
        Some((p, r)) if !p.is_empty() && !p.contains(char::is_whitespace) => (Some(p), r),
        _ => (None, detail),
    };
    let named = ["unknown field `", "missing field `"].iter().find_map(|k| rest.strip_prefix(k)).and_then(|r| r.split('`').next());
    match (path, named) {
        // An unknown field's path already ends with it; a missing one's is its parent's.
        (Some(p), Some(n)) if p == n || p.ends_with(&format!(".{n}")) => Some(p.to_string()),
        (Some(p), Some(n)) => Some(format!("{p}.{n}")),
        (Some(p), None) => Some(p.to_string()),
        (None, Some(n)) => Some(n.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod json_field_tests {
    use super::json_field;

    #[test]
    fn data_errors_name_their_field() {
        let m = |d: &str| format!("Failed to deserialize the JSON body into the target type: {d}");
        assert_eq!(json_field(&m("kind: unknown variant `daily`, expected one of `mine-new-crawl`, `train` at line 1 column 30")).as_deref(), Some("kind"));
        assert_eq!(json_field(&m("annotations[0].colour: unknown field `colour`, expected one of `prefix`, `label` at line 1 column 60")).as_deref(), Some("annotations[0].colour"));
        assert_eq!(json_field(&m("annotations[0]: missing field `label` at line 1 column 25")).as_deref(), Some("annotations[0].label"));
        assert_eq!(json_field(&m("missing field `cron` at line 1 column 20")).as_deref(), Some("cron"));
        assert_eq!(json_field(&m("invalid type: sequence, expected struct NewScheduleBody at line 1 column 0")), None);
        assert_eq!(json_field("Failed to parse the request body as JSON: key must be a string at line 1 column 2"), None);
    }
}
