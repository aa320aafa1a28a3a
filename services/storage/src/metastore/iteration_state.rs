//! The iteration state machine's rows: named states, compare-and-set transitions (so a `cancel`
//! from another process is never overwritten by a step that finishes afterwards), failure with
//! the state to resume from, cancellation and deletion.

use super::{now_ms, Metastore, MetastoreError};
use sqlx::Row;

/// Where an iteration of the loop stands (DESIGN.md, steps 2 and 4 to 7).
///
/// `Preparing` → `PreparingNegatives` → `Training` → `Scoring` → `Selecting` → then
/// `AwaitingAnnotation` (new proposals wait for labels) or `Complete`. Any active state can end
/// in `Failed` (resumable where it failed) or `Cancelled` (final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IterationState {
    /// Listing shards, growing the seed from the parent's annotations, writing the seed manifest.
    Preparing,
    /// Drawing negatives (files and a random sample of crawl pages).
    PreparingNegatives,
    /// Training the classifier (or loading the given model).
    Training,
    /// Workers score the shards.
    Scoring,
    /// Threshold, host ratios, proposals, corpus, convergence, report.
    Selecting,
    /// Done; proposals of hosts nobody has labelled yet wait for annotation.
    AwaitingAnnotation,
    /// Done.
    Complete,
    /// Stopped by an error; `resume` restarts at the state it failed in.
    Failed,
    /// Stopped on request; never resumed.
    Cancelled,
}

impl IterationState {
    /// Every state, in the order an iteration passes through them.
    pub const ALL: [IterationState; 9] = [
        Self::Preparing,
        Self::PreparingNegatives,
        Self::Training,
        Self::Scoring,
        Self::Selecting,
        Self::AwaitingAnnotation,
        Self::Complete,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The name stored in the metastore.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "preparing",
            Self::PreparingNegatives => "preparing_negatives",
            Self::Training => "training",
            Self::Scoring => "scoring",
            Self::Selecting => "selecting",
            Self::AwaitingAnnotation => "awaiting_annotation",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state of a stored name; `None` for a name no state has.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The webhook event of entering this state ([`super::schedules::EVENTS`]), if it has one.
    pub fn event(self) -> Option<&'static str> {
        match self {
            Self::AwaitingAnnotation => Some("iteration.awaiting_annotation"),
            Self::Complete => Some("iteration.complete"),
            Self::Failed => Some("iteration.failed"),
            _ => None,
        }
    }

    /// A state work is still to be done in (what `resume` picks up).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Preparing | Self::PreparingNegatives | Self::Training | Self::Scoring | Self::Selecting)
    }

    /// The iteration's result exists (its corpus and report are written).
    pub fn is_done(self) -> bool {
        matches!(self, Self::AwaitingAnnotation | Self::Complete)
    }

    /// Whether `resume` has work in an iteration in this state with `failed_shards` failed
    /// shards: an active or failed one, or a done one whose failed shards can be scored again.
    pub fn is_resumable(self, failed_shards: u64) -> bool {
        self.is_active() || self == Self::Failed || (self.is_done() && failed_shards > 0)
    }
}

impl std::fmt::Display for IterationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Metastore {
    /// Moves iteration `id` from `from` to `to` only if it is still in `from` (compare-and-set).
    /// `Ok(false)` when it is not (cancelled meanwhile, or another process moved it).
    /// Errors: `NotFound`.
    pub async fn advance(&self, id: i64, from: IterationState, to: IterationState) -> Result<bool, MetastoreError> {
        let q = sqlx::query("UPDATE iterations SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
            .bind(to.as_str())
            .bind(now_ms())
            .bind(id)
            .bind(from.as_str());
        self.compare_and_set(id, Some((from, to)), q).await
    }

    /// Runs a conditional update of iteration `id`: `Ok(true)` when it changed the row,
    /// `Ok(false)` when its condition no longer held, `NotFound` when there is no such row.
    /// A `change` (from, to) queues the webhook events of entering `to` (`iteration.<state>`,
    /// see [`IterationState::event`], and `iteration.converged`) in the same transaction, so
    /// each transition notifies once.
    pub(super) async fn compare_and_set<'a>(&self, id: i64, change: Option<(IterationState, IterationState)>, query: sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>>) -> Result<bool, MetastoreError> {
        let mut tx = self.pool.begin().await?;
        if query.execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            self.iteration(id).await?;
            return Ok(false);
        }
        if let Some((from, to)) = change {
            super::schedules::queue_state_events(&mut tx, id, from, to).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records what the iteration used (JSON text: seed manifest, negatives, settings).
    /// Errors: `NotFound`.
    pub async fn set_inputs(&self, id: i64, inputs_json: &str) -> Result<(), MetastoreError> {
        let q = sqlx::query("UPDATE iterations SET inputs = $1, updated_at = $2 WHERE id = $3")
            .bind(inputs_json)
            .bind(now_ms())
            .bind(id);
        self.update_iteration(id, q).await
    }

    /// Marks iteration `id` failed in state `during` with `error`, unless it was cancelled
    /// meanwhile (then `Ok(false)`). Errors: `NotFound`.
    pub async fn fail_iteration(&self, id: i64, during: IterationState, error: &str) -> Result<bool, MetastoreError> {
        let q = sqlx::query(
            "UPDATE iterations SET state = 'failed', failed_state = $1, error = $2, updated_at = $3 \
             WHERE id = $4 AND state = $1",
        )
        .bind(during.as_str())
        .bind(crate::redact::redact_text(error))
        .bind(now_ms())
        .bind(id);
        self.compare_and_set(id, Some((during, IterationState::Failed)), q).await
    }

    /// Puts a failed iteration back into the state it failed in (clearing the error) and returns
    /// that state; an active iteration is returned as it is. Errors: `NotFound`, and
    /// `InvalidState` for a done or cancelled iteration (nothing changes).
    pub async fn reopen_iteration(&self, id: i64) -> Result<IterationState, MetastoreError> {
        let it = self.iteration(id).await?;
        let state = IterationState::parse(&it.state).ok_or_else(|| invalid(id, &it.state, "resume"))?;
        if state.is_active() {
            return Ok(state);
        }
        if state != IterationState::Failed {
            return Err(invalid(id, &it.state, "resume"));
        }
        let during = it
            .failed_state
            .as_deref()
            .and_then(IterationState::parse)
            .filter(|s| s.is_active())
            .ok_or_else(|| invalid(id, "failed (in an unknown state)", "resume"))?;
        let done = sqlx::query("UPDATE iterations SET state = $1, error = NULL, updated_at = $2 WHERE id = $3 AND state = 'failed'")
            .bind(during.as_str())
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(invalid(id, "changed meanwhile", "resume"));
        }
        Ok(during)
    }

    /// Sends an iteration whose selection ran with some shards failed back to `scoring`, with
    /// those shards pending again (attempts reset), so that `resume` retries them and selects
    /// anew over all shards. Applies to an iteration that is done (awaiting annotation or
    /// complete) or failed after scoring, and has failed shards and no children (a child grew
    /// from its selection). Returns the shards put back (0: nothing changed).
    pub async fn reopen_failed_shards(&self, id: i64) -> Result<u64, MetastoreError> {
        let it = self.iteration(id).await?;
        let state = IterationState::parse(&it.state).ok_or_else(|| invalid(id, &it.state, "resume"))?;
        let after_scoring = state.is_done() || (state == IterationState::Failed && it.failed_state.as_deref() == Some(IterationState::Selecting.as_str()));
        if !after_scoring || self.shard_counts(id).await?.failed == 0 || !self.children(id).await?.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query("UPDATE iterations SET state = 'scoring', error = NULL, updated_at = $1 WHERE id = $2 AND state = $3")
            .bind(now_ms())
            .bind(id)
            .bind(state.as_str())
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(invalid(id, "changed meanwhile", "resume"));
        }
        let shards = sqlx::query("UPDATE shards SET state = 'pending', attempts = 0 WHERE iteration_id = $1 AND state = 'failed'")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(shards)
    }

    /// Cancels iteration `id` (active, failed or awaiting annotation) and returns the state it
    /// was in. A process running it stops at its next step or shard. Errors: `NotFound`, and
    /// `InvalidState` for a complete or already cancelled iteration (nothing changes).
    pub async fn cancel_iteration(&self, id: i64) -> Result<IterationState, MetastoreError> {
        let it = self.iteration(id).await?;
        let state = IterationState::parse(&it.state).ok_or_else(|| invalid(id, &it.state, "cancel"))?;
        if matches!(state, IterationState::Complete | IterationState::Cancelled) {
            return Err(invalid(id, &it.state, "cancel"));
        }
        if !self.advance(id, state, IterationState::Cancelled).await? {
            return Err(invalid(id, "changed meanwhile", "cancel"));
        }
        Ok(state)
    }

    /// Deletes iteration `id` and every row of it (shards, aggregates, proposals); annotations
    /// are not an iteration's and stay. Refused (`InvalidState`, nothing changes) while the
    /// iteration is active (cancel it first) or has children (a chain is deleted from its end,
    /// so no iteration is left without the parent it grew from).
    pub async fn delete_iteration(&self, id: i64) -> Result<(), MetastoreError> {
        let it = self.iteration(id).await?;
        if IterationState::parse(&it.state).is_some_and(|s| s.is_active()) {
            return Err(invalid(id, &it.state, "delete (cancel it first)"));
        }
        let children = self.children(id).await?;
        if !children.is_empty() {
            let list = children.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
            return Err(invalid(id, &it.state, &format!("delete while iterations {list} grow from it (delete those first, or the whole chain below it with --recursive)")));
        }
        let mut tx = self.pool.begin().await?;
        // Explicit deletes: SQLite enforces ON DELETE only with foreign_keys on, which an
        // outside connection may not have set.
        for table in ["shards", "score_histogram", "host_buckets", "language_buckets", "host_languages", "skip_counts", "proposals", "idempotency_keys"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE iteration_id = $1")).bind(id).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE job_runs SET iteration_id = NULL WHERE iteration_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM iterations WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The iterations grown directly from `id` (its children), by id.
    pub async fn children(&self, id: i64) -> Result<Vec<i64>, MetastoreError> {
        let rows = sqlx::query("SELECT id FROM iterations WHERE parent_id = $1 ORDER BY id").bind(id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
    }

    /// Hands every leased shard of `iteration` back (`pending`), so a resumed run scores the
    /// shards a killed process held. Their old lease tokens no longer complete them, so a
    /// worker that was in fact still alive cannot double-count. Returns how many.
    pub async fn requeue_leased(&self, iteration: i64) -> Result<u64, MetastoreError> {
        let done = sqlx::query(
            "UPDATE shards SET state = 'pending', lease_token = NULL, lease_expires_at = NULL \
             WHERE iteration_id = $1 AND state = 'leased'",
        )
        .bind(iteration)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The newest iteration (highest id), if any.
    pub async fn latest_iteration(&self) -> Result<Option<i64>, MetastoreError> {
        let row = sqlx::query("SELECT MAX(id) FROM iterations").fetch_one(&self.pool).await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }
}

fn invalid(id: i64, state: &str, action: &str) -> MetastoreError {
    MetastoreError::InvalidState { what: format!("iteration {id}"), state: state.to_string(), action: action.to_string() }
}

#[cfg(test)]
mod tests {
    use super::IterationState;

    #[test]
    fn names_round_trip_and_classes_partition() {
        for s in IterationState::ALL {
            assert_eq!(IterationState::parse(s.as_str()), Some(s));
            assert!(!(s.is_active() && s.is_done()));
        }
        assert_eq!(IterationState::parse("created"), None);
        assert_eq!(IterationState::ALL.iter().filter(|s| s.is_active()).count(), 5);
    }

    #[test]
    fn resumable_means_work_is_left() {
        use IterationState::*;
        assert!(Scoring.is_resumable(0) && Failed.is_resumable(0) && Complete.is_resumable(1) && AwaitingAnnotation.is_resumable(2));
        assert!(!Complete.is_resumable(0) && !Cancelled.is_resumable(3));
    }
}
