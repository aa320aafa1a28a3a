//! Bearer tokens: every route but health, readiness, metrics and the OpenAPI document needs
//! `Authorization: Bearer cm_…`, a token made by `corpusminer admin token create`. The token is
//! looked up by its SHA-256 in the metastore on each request (a revoked token stops working at
//! once, on every replica). What a role may do is checked by the handler through [`Caller`].

use crate::error::ApiError;
use crate::ApiState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use corpusminer_storage::Role;

/// Who made the request: the token's name and role.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The token's name (recorded as the annotator of what it writes).
    pub name: String,
    /// The token's role.
    pub role: Role,
}

impl Caller {
    /// Ok when the caller reads: admins and annotators (workers only lease and report).
    pub fn may_read(&self) -> Result<(), ApiError> {
        self.one_of(&[Role::Admin, Role::Annotator], "read iterations and annotations")
    }

    /// Ok when the caller writes annotations: admins and annotators.
    pub fn may_annotate(&self) -> Result<(), ApiError> {
        self.one_of(&[Role::Admin, Role::Annotator], "write annotations")
    }

    /// Ok for admins (start, cancel and delete iterations; schedules).
    pub fn must_be_admin(&self, action: &str) -> Result<(), ApiError> {
        self.one_of(&[Role::Admin], action)
    }

    fn one_of(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!("token {:?} has role {}; to {action} it needs {}", self.name, self.role, allowed.join(" or "))))
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("no Authorization header: send `Authorization: Bearer TOKEN` (make one with `corpusminer admin token create`)"))?;
        let value = header.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header is not `Bearer TOKEN`"))?;
        match state.metastore.token_by_secret(token).await? {
            Some(t) => Ok(Caller { name: t.name, role: t.role }),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
