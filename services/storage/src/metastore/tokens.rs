//! API tokens of `corpusminer serve`: a bearer token is 32 random bytes (OS randomness), shown
//! once as `cm_` + 64 hex digits; the metastore keeps only its SHA-256, so a leaked database
//! leaks no usable token. A revoked token keeps its row with `revoked_at` set.
//!
//! The web UI exchanges a token for a session ([`Metastore::create_session`]): the cookie holds
//! a session secret (`cms_` + 64 hex digits) whose SHA-256 is stored with its token and expiry,
//! so the cookie never carries the token, logout ends the session on every replica, and
//! revoking the token ends its sessions too.

use super::{now_ms, Metastore, MetastoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::fmt;
use std::str::FromStr;

/// What a token may do. Annotators read and annotate; admins also start, cancel and delete
/// iterations and manage tokens and schedules; workers only lease shards and report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Read, and write annotations.
    Annotator,
    /// Lease shards and report them (the gRPC workers).
    Worker,
}

impl Role {
    /// The role's name as stored and typed: `admin`, `annotator`, `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Annotator => "annotator",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "annotator" => Ok(Role::Annotator),
            "worker" => Ok(Role::Worker),
            other => Err(format!("unknown role {other:?}: expected admin, annotator or worker")),
        }
    }
}

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiToken {
    /// Row id (what `admin token revoke` takes).
    pub id: i64,
    /// Who or what holds it (recorded on every annotation made with it).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Unix epoch milliseconds.
    pub created_at_ms: i64,
    /// Unix epoch milliseconds; `None` while the token is valid.
    pub revoked_at_ms: Option<i64>,
}

/// Prefix of every token, so a token in a log or a config file is recognisable.
pub const TOKEN_PREFIX: &str = "cm_";

/// Prefix of every web UI session secret (the cookie's value).
pub const SESSION_PREFIX: &str = "cms_";

/// SHA-256 of `token`, hex: the key a token is stored and looked up by.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn row_to_token(r: &sqlx::any::AnyRow) -> Result<ApiToken, MetastoreError> {
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: role.parse().map_err(MetastoreError::OutOfRange)?,
        created_at_ms: r.try_get("created_at")?,
        revoked_at_ms: r.try_get("revoked_at")?,
    })
}

impl Metastore {
    /// Makes a new token for `name` with `role`; returns the stored row and the token, which
    /// exists nowhere else afterwards. Errors: `InvalidInput` when `name` is empty.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<(ApiToken, String), MetastoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(MetastoreError::InvalidInput("a token needs a non-empty name".into()));
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let now = now_ms();
        let row = sqlx::query("INSERT INTO api_tokens (name, role, token_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name)
            .bind(role.as_str())
            .bind(token_digest(&token))
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        let stored = ApiToken { id: row.try_get::<i64, _>(0)?, name: name.to_string(), role, created_at_ms: now, revoked_at_ms: None };
        Ok((stored, token))
    }

    /// Every token, valid and revoked, oldest first.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, MetastoreError> {
        let rows = sqlx::query("SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id").fetch_all(self.pool()).await?;
        rows.iter().map(row_to_token).collect()
    }

    /// The valid (not revoked) token whose SHA-256 is that of `token`, if any.
    pub async fn token_by_secret(&self, token: &str) -> Result<Option<ApiToken>, MetastoreError> {
        let row = sqlx::query("SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL")
            .bind(token_digest(token))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(row_to_token).transpose()
    }

    /// Revokes token `id` (it stops working at once). Errors: `NotFound` when no valid token has
    /// that id (revoking twice is an error, so a typo is noticed).
    pub async fn revoke_token(&self, id: i64) -> Result<(), MetastoreError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(now_ms()).bind(id).execute(self.pool()).await?;
        if done.rows_affected() == 0 {
            return Err(MetastoreError::NotFound { what: format!("valid token {id}") });
        }
        Ok(())
    }

    /// Opens a web UI session for `token` (a valid token's row) lasting `ttl`; returns the session
    /// secret, which exists nowhere else afterwards. Expired sessions are deleted on the way.
    pub async fn create_session(&self, token: &ApiToken, ttl: std::time::Duration) -> Result<String, MetastoreError> {
        let now = now_ms();
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1").bind(now).execute(self.pool()).await?;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("{SESSION_PREFIX}{}", hex::encode(bytes));
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        sqlx::query("INSERT INTO ui_sessions (session_sha256, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_digest(&secret))
            .bind(token.id)
            .bind(now)
            .bind(now.saturating_add(ttl_ms))
            .execute(self.pool())
            .await?;
        Ok(secret)
    }

    /// The token of the live session whose secret is `secret`: not expired, not ended, and its
    /// token not revoked.
    pub async fn token_by_session(&self, secret: &str) -> Result<Option<ApiToken>, MetastoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.name, t.role, t.created_at, t.revoked_at FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id \
             WHERE s.session_sha256 = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
        )
        .bind(token_digest(secret))
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(row_to_token).transpose()
    }

    /// Ends the session whose secret is `secret` (logout); ending an unknown or ended session
    /// does nothing.
    pub async fn end_session(&self, secret: &str) -> Result<(), MetastoreError> {
        sqlx::query("DELETE FROM ui_sessions WHERE session_sha256 = $1").bind(token_digest(secret)).execute(self.pool()).await?;
        Ok(())
    }
}
