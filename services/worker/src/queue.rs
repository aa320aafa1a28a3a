//! What a worker needs from the control plane, and nothing else: lease a shard, renew the lease
//! while it works, complete it with its aggregates, fail it with a reason, and learn whether the
//! iteration was cancelled. One process implements it with the metastore itself
//! ([`Metastore`]: `run`, `serve --workers N`); a stateless worker on another machine will
//! implement it with a client of the coordinator (DESIGN.md, "One process or many").

use corpusminer_storage::metastore::{IterationState, Lease, Metastore, MetastoreError, ShardResult};
use std::time::Duration;

/// Why a queue call failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The lease is no longer this worker's (it expired and the shard was leased again, or it
    /// was finished): what the call would have written is refused, so nothing counts twice.
    #[error("the lease of shard {shard_id} is lost")]
    LeaseLost {
        /// The shard.
        shard_id: i64,
    },
    /// The control plane failed (the metastore, the connection).
    #[error("{0}")]
    Unavailable(String),
}

impl From<MetastoreError> for QueueError {
    fn from(e: MetastoreError) -> Self {
        match e {
            MetastoreError::LeaseLost { shard_id } => QueueError::LeaseLost { shard_id },
            other => QueueError::Unavailable(other.to_string()),
        }
    }
}

/// What a heartbeat learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The lease is still held (and now renewed).
    pub held: bool,
    /// The iteration was cancelled: stop after this shard.
    pub cancelled: bool,
}

/// The shard queue of one control plane.
#[async_trait::async_trait]
pub trait ShardQueue: Send + Sync + 'static {
    /// Whether iteration `iteration` was cancelled (checked before each lease).
    async fn cancelled(&self, iteration: i64) -> Result<bool, QueueError>;
    /// Leases the next pending (or expired) shard of `iteration` for `ttl`, recorded under
    /// `worker`; `None` when none is left.
    async fn lease(&self, iteration: i64, worker: &str, ttl: Duration) -> Result<Option<Lease>, QueueError>;
    /// Renews `lease` for `ttl` from now.
    async fn heartbeat(&self, lease: &mut Lease, ttl: Duration) -> Result<Heartbeat, QueueError>;
    /// Commits the shard's aggregates and marks it done, in one transaction. `LeaseLost` when the
    /// lease is no longer held (nothing is written).
    async fn complete(&self, lease: &Lease, result: &ShardResult) -> Result<(), QueueError>;
    /// Ends a failed attempt: back to `pending` with `retry`, else `failed`, with `reason` (a
    /// snake_case word) and `error`. `LeaseLost` when the lease is no longer held.
    async fn fail(&self, lease: &Lease, reason: &str, error: &str, retry: bool) -> Result<(), QueueError>;
}

#[async_trait::async_trait]
impl ShardQueue for Metastore {
    async fn cancelled(&self, iteration: i64) -> Result<bool, QueueError> {
        Ok(self.iteration(iteration).await?.state == IterationState::Cancelled.as_str())
    }

    async fn lease(&self, iteration: i64, worker: &str, ttl: Duration) -> Result<Option<Lease>, QueueError> {
        Ok(self.lease_shard(iteration, worker, ttl).await?)
    }

    async fn heartbeat(&self, lease: &mut Lease, ttl: Duration) -> Result<Heartbeat, QueueError> {
        let held = self.renew_shard_lease(lease, ttl).await?;
        let cancelled = ShardQueue::cancelled(self, lease.iteration_id).await?;
        Ok(Heartbeat { held, cancelled })
    }

    async fn complete(&self, lease: &Lease, result: &ShardResult) -> Result<(), QueueError> {
        Ok(self.complete_shard(lease, result).await?)
    }

    async fn fail(&self, lease: &Lease, reason: &str, error: &str, retry: bool) -> Result<(), QueueError> {
        Ok(self.fail_shard(lease, reason, error, retry).await?)
    }
}
