//! Iteration leases: the one process that drives an iteration's steps holds a lease on its row
//! (holder name, random token, expiry in Unix epoch ms), renews it by heartbeat, and gives it
//! back when it stops. Another process takes it only once it has expired (or, on the holder's
//! own machine, once the holder's pid is gone), so two `serve` replicas on one PostgreSQL never
//! drive the same step. Every state transition of a leased drive is fenced by the token
//! ([`Metastore::advance_leased`]): a process whose lease was taken over cannot move the
//! iteration on. Also the idempotency keys of `POST /api/v1/iterations`.

use super::{now_ms, IterationState, Metastore, MetastoreError};
use sqlx::Row;
use std::time::Duration;

/// A held lease on an iteration: proof, by `token`, that this process drives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IterationLease {
    /// The iteration.
    pub iteration_id: i64,
    /// Who holds it (`host:pid`).
    pub holder: String,
    /// Random token of this lease; a takeover gets a new one.
    pub token: String,
    /// When it runs out unless renewed (Unix epoch ms).
    pub expires_at_ms: i64,
}

fn expiry(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2))
}

impl Metastore {
    /// Takes the lease on iteration `id` for `holder` for `ttl`, when nobody holds it, its
    /// lease has expired, or it is held under `take_over` (the token of a holder known to be
    /// gone). Atomic: of two callers, one gets it. `None` when someone else holds it.
    /// Errors: `NotFound`.
    pub async fn acquire_iteration_lease(&self, id: i64, holder: &str, ttl: Duration, take_over: Option<&str>) -> Result<Option<IterationLease>, MetastoreError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let expires = expiry(ttl);
        let q = sqlx::query(
            "UPDATE iterations SET lease_holder = $1, lease_token = $2, lease_expires_at = $3 \
             WHERE id = $4 AND (lease_token IS NULL OR lease_expires_at <= $5 OR lease_token = $6)",
        )
        .bind(holder)
        .bind(&token)
        .bind(expires)
        .bind(id)
        .bind(now_ms())
        .bind(take_over.unwrap_or(""));
        if !self.compare_and_set(id, None, q).await? {
            return Ok(None);
        }
        Ok(Some(IterationLease { iteration_id: id, holder: holder.to_string(), token, expires_at_ms: expires }))
    }

    /// Extends `lease` by `ttl` from now; `Ok(false)` when it is no longer held (expired and
    /// taken over, or released). Errors: `NotFound`.
    pub async fn renew_iteration_lease(&self, lease: &mut IterationLease, ttl: Duration) -> Result<bool, MetastoreError> {
        let expires = expiry(ttl);
        let q = sqlx::query("UPDATE iterations SET lease_expires_at = $1 WHERE id = $2 AND lease_token = $3").bind(expires).bind(lease.iteration_id).bind(&lease.token);
        let held = self.compare_and_set(lease.iteration_id, None, q).await?;
        if held {
            lease.expires_at_ms = expires;
        }
        Ok(held)
    }

    /// Gives `lease` back (when still held), so another process may drive the iteration at once.
    pub async fn release_iteration_lease(&self, lease: &IterationLease) -> Result<(), MetastoreError> {
        sqlx::query("UPDATE iterations SET lease_holder = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_token = $2")
            .bind(lease.iteration_id)
            .bind(&lease.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// [`Metastore::advance`] fenced by `lease`: moves the iteration from `from` to `to` only if
    /// it is still in `from` and still leased under `lease.token`. `Ok(false)` otherwise.
    pub async fn advance_leased(&self, lease: &IterationLease, from: IterationState, to: IterationState) -> Result<bool, MetastoreError> {
        let q = sqlx::query("UPDATE iterations SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4 AND lease_token = $5")
            .bind(to.as_str())
            .bind(now_ms())
            .bind(lease.iteration_id)
            .bind(from.as_str())
            .bind(&lease.token);
        self.compare_and_set(lease.iteration_id, Some((from, to)), q).await
    }

    /// [`Metastore::fail_iteration`] fenced by `lease`: marks the iteration failed in `during`
    /// with `error` only if it is still in `during` and leased under `lease.token`.
    pub async fn fail_iteration_leased(&self, lease: &IterationLease, during: IterationState, error: &str) -> Result<bool, MetastoreError> {
        let q = sqlx::query(
            "UPDATE iterations SET state = 'failed', failed_state = $1, error = $2, updated_at = $3 \
             WHERE id = $4 AND state = $1 AND lease_token = $5",
        )
        .bind(during.as_str())
        .bind(crate::redact::redact_text(error))
        .bind(now_ms())
        .bind(lease.iteration_id)
        .bind(&lease.token);
        self.compare_and_set(lease.iteration_id, Some((during, IterationState::Failed)), q).await
    }

    /// The current lease of iteration `id` as (holder, token, expiry ms), if any row holds one
    /// (expired or not). Errors: `NotFound`.
    pub async fn iteration_lease(&self, id: i64) -> Result<Option<IterationLease>, MetastoreError> {
        let row = sqlx::query("SELECT lease_holder, lease_token, lease_expires_at FROM iterations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| MetastoreError::NotFound { what: format!("iteration {id}") })?;
        let (holder, token, expires): (Option<String>, Option<String>, Option<i64>) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        Ok(match (holder, token, expires) {
            (Some(holder), Some(token), Some(expires_at_ms)) => Some(IterationLease { iteration_id: id, holder, token, expires_at_ms }),
            _ => None,
        })
    }

    /// Iterations in an active state whose lease is free or expired now and whose row has not
    /// changed for `idle` (a just-created iteration is left to the process that created it),
    /// by id: what a `serve` replica picks up (one a restarted `serve` left, or one a killed
    /// replica held).
    pub async fn unleased_active_iterations(&self, idle: Duration) -> Result<Vec<i64>, MetastoreError> {
        let active: Vec<&str> = IterationState::ALL.iter().filter(|s| s.is_active()).map(|s| s.as_str()).collect();
        let placeholders: Vec<String> = (0..active.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT id FROM iterations WHERE (lease_token IS NULL OR lease_expires_at <= $1) AND updated_at <= $2 AND state IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        let now = now_ms();
        let mut q = sqlx::query(&sql).bind(now).bind(now - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX / 2));
        for s in active {
            q = q.bind(s);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
    }

    /// The iteration an earlier request with idempotency `key` created, and the SHA-256 of
    /// that request's body, if any.
    pub async fn idempotent_iteration(&self, key: &str) -> Result<Option<(i64, String)>, MetastoreError> {
        let row = sqlx::query("SELECT iteration_id, request_sha256 FROM idempotency_keys WHERE idem_key = $1").bind(key).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?))).transpose()?)
    }

    /// Records that `key`, with a request body of SHA-256 `request_sha256`, created iteration
    /// `id`; returns what the key names now: `id`, or the iteration (and body digest) of a
    /// request with the same key that recorded it first (a race).
    pub async fn record_idempotency_key(&self, key: &str, request_sha256: &str, id: i64) -> Result<(i64, String), MetastoreError> {
        sqlx::query("INSERT INTO idempotency_keys (idem_key, request_sha256, iteration_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (idem_key) DO NOTHING")
            .bind(key)
            .bind(request_sha256)
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(self.idempotent_iteration(key).await?.unwrap_or((id, request_sha256.to_string())))
    }
}
