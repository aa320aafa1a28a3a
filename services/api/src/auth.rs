//! Bearer tokens: every route but health, readiness, metrics and the OpenAPI document needs
//! `Authorization: Bearer cm_…`, a token made by `corpusminer admin token create`. The token is
//! looked up by its SHA-256 in the metastore on each request (a revoked token stops working at
//! once, on every replica). The web UI's session cookie carries a session secret that the
//! token was exchanged for at sign-in ([`SESSION_COOKIE`]), looked up the same way. What a role
//! may do is checked by the handler through [`Caller`].

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

/// The cookie a web UI session is kept in ([`crate::ui`]): the session secret
/// (`Metastore::create_session`), HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "cm_session";

/// How long a web UI session lasts after sign-in: 12 hours, a working day.
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The header the web UI sends on every request that changes something: a cross-site page can
/// send no custom header without a CORS preflight, which this server never answers, so a
/// session cookie alone never authorises a write.
pub const UI_HEADER: &str = "x-corpusminer-ui";

/// The value of cookie `name` in the Cookie headers of `headers`.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| c.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let found = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => {
                let value = header.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
                let token = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| ApiError::unauthorized("the Authorization header is not `Bearer TOKEN`"))?;
                state.metastore.token_by_secret(token).await?
            }
            None => {
                let session = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty());
                let Some(session) = session else {
                    return Err(ApiError::unauthorized("no Authorization header: send `Authorization: Bearer TOKEN` (make one with `corpusminer admin token create`)"));
                };
                let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                if !safe && parts.headers.get(UI_HEADER).is_none() {
                    return Err(ApiError::forbidden(format!("a session authorises a change only with the {UI_HEADER} header (the web UI sends it)")));
                }
                match state.metastore.token_by_session(session).await? {
                    Some(t) => Some(t),
                    None => return Err(ApiError::unauthorized("the session has ended (signed out, expired, or its token revoked): sign in again")),
                }
            }
        };
        match found {
            Some(t) => Ok(Caller { name: t.name, role: t.role }),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
