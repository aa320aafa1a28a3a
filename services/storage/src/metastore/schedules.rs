//! Scheduled jobs and webhooks (migration 0011).
//!
//! A schedule runs one [`JobKind`] on a cron expression. Every `serve` replica ticks, and a run
//! is claimed by inserting its `(schedule, slot)` row, unique, in the same transaction as what
//! the run starts ([`JobStart`]): two replicas never run one slot, and a replica that dies
//! before committing leaves the slot to the next tick. A failed run keeps its row; its retry is
//! claimed by moving `attempts` on from the value read, again in the transaction of its work.
//!
//! Webhooks subscribe to [`EVENTS`]. An event becomes one delivery row per subscribed webhook in
//! the transaction that makes it (an iteration's state change, a failed job), and is delivered
//! by whichever replica claims it, with retries ([`Metastore::claim_deliveries`]).

use super::{now_ms, Metastore, MetastoreError};
use crate::IterationState;
use sqlx::Row;

/// The job kinds a schedule can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Start an iteration, from the schedule's template, on the newest crawl the crawl base's
    /// `collinfo.json` lists, once no iteration has mined it yet (older crawls are not
    /// back-filled).
    MineNewCrawl,
    /// Start the next iteration of a chain once every host its newest iteration proposed has a
    /// decided label.
    NextWhenLabelled,
    /// Hand expired shard leases back to `pending`.
    ExpireLeases,
    /// Train a model (`corpusminer train`, a process of its own) on the corpus of the newest
    /// done iteration of a chain, once per iteration, with the schedule's template of train
    /// choices.
    Train,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 4] = [JobKind::MineNewCrawl, JobKind::NextWhenLabelled, JobKind::ExpireLeases, JobKind::Train];

    /// The kind's stored and typed name (`mine-new-crawl`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MineNewCrawl => "mine-new-crawl",
            JobKind::NextWhenLabelled => "next-when-labelled",
            JobKind::ExpireLeases => "expire-leases",
            JobKind::Train => "train",
        }
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown job kind {s:?}: expected mine-new-crawl, next-when-labelled, expire-leases or train"))
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Schedule {
    /// Row id.
    pub id: i64,
    /// Its settings.
    #[serde(flatten)]
    pub spec: ScheduleSpec,
    /// Unix epoch milliseconds.
    pub created_at_ms: i64,
}

/// What a schedule runs and when: what [`Metastore::add_schedule`] takes and stores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ScheduleSpec {
    /// Unique name.
    pub name: String,
    /// What it runs.
    pub kind: JobKind,
    /// Cron expression (5 fields, or 6 with seconds first), checked by the caller.
    pub cron: String,
    /// IANA time zone the expression is read in (`UTC`, `Europe/Paris`).
    pub timezone: String,
    /// `mine-new-crawl`: the `POST /iterations` body without inputs; `train`: the choices of
    /// `corpusminer train` (a JSON object of flags in snake_case).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub template: Option<serde_json::Value>,
    /// `mine-new-crawl`: where `collinfo.json` and `crawl-data/` are (URI or folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crawl_base: Option<String>,
    /// `next-when-labelled`, `train`: an iteration of the chain to follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<i64>,
    /// Who added it (the token's name).
    pub created_by: String,
}

impl ScheduleSpec {
    /// The template's fields (none when there is no template, or it is not an object).
    pub fn template_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        self.template.as_ref().and_then(|t| t.as_object()).cloned().unwrap_or_default()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// It did its work (started an iteration, released leases).
    Succeeded,
    /// There was nothing to do (no new crawl, labels still missing).
    Skipped,
    /// It failed and will be retried at `next_retry_at`.
    Failed,
    /// It failed its last attempt.
    GaveUp,
}

impl RunState {
    /// The stored and serialised name (`succeeded`, `skipped`, `failed`, `gave_up`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Succeeded => "succeeded",
            RunState::Skipped => "skipped",
            RunState::Failed => "failed",
            RunState::GaveUp => "gave_up",
        }
    }

    fn parse(s: &str) -> Result<Self, MetastoreError> {
        Ok(match s {
            "succeeded" => RunState::Succeeded,
            "skipped" => RunState::Skipped,
            "failed" => RunState::Failed,
            "gave_up" => RunState::GaveUp,
            other => return Err(MetastoreError::OutOfRange(format!("unknown job run state {other:?}"))),
        })
    }
}

/// One run of a schedule: one slot, however many attempts it took.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct JobRun {
    /// Row id.
    pub id: i64,
    /// The schedule.
    pub schedule_id: i64,
    /// The schedule's name (joined in).
    pub schedule: String,
    /// The job kind.
    pub kind: JobKind,
    /// The cron occurrence it ran for, Unix epoch milliseconds.
    pub slot_ms: i64,
    /// How it ended (so far).
    pub state: RunState,
    /// Attempts made.
    pub attempts: i64,
    /// The process of the last attempt (`host:pid`).
    pub claimed_by: String,
    /// First attempt, Unix epoch milliseconds.
    pub started_at_ms: i64,
    /// Last attempt's end, Unix epoch milliseconds.
    pub finished_at_ms: i64,
    /// What it did, in words.
    pub outcome: Option<String>,
    /// The last attempt's error.
    pub error: Option<String>,
    /// When the next attempt is due (failed runs).
    pub next_retry_at_ms: Option<i64>,
    /// The iteration it started (`train`: the iteration whose corpus it trained on).
    pub iteration_id: Option<i64>,
}

/// What a claimed run does in its claiming transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStart {
    /// Create an iteration of `crawl` with `config_json` in state `preparing` (growing from
    /// `parent`, which, awaiting annotation, is marked complete), driven once committed.
    Iteration {
        /// The crawl's name.
        crawl: String,
        /// The stored config (no secrets).
        config_json: String,
        /// The iteration it grows from.
        parent: Option<i64>,
    },
    /// Hand every expired shard lease back to `pending`.
    ExpireShardLeases,
    /// Train on iteration `iteration`'s corpus: recorded on the run (skipped when a run of the
    /// schedule did so already); the caller starts the training process once committed.
    Train {
        /// The iteration whose corpus is trained on.
        iteration: i64,
    },
    /// Nothing to do: the run is recorded as skipped with its outcome.
    Skip,
}

/// What a claimed run did: its row, and the iteration it created.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The run's row id.
    pub run_id: i64,
    /// The iteration created ([`JobStart::Iteration`]).
    pub iteration: Option<i64>,
    /// Shard leases released ([`JobStart::ExpireShardLeases`]).
    pub released: u64,
    /// The iteration to train on ([`JobStart::Train`], unless skipped).
    pub train: Option<i64>,
}

/// Events webhooks subscribe to.
pub const EVENTS: [&str; 5] = ["iteration.awaiting_annotation", "iteration.failed", "iteration.complete", "iteration.converged", "job.failed"];

/// A stored webhook as shown (never with its secret; its URL's password and token-like query
/// values masked).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Row id.
    pub id: i64,
    /// Where deliveries are POSTed, credentials masked.
    pub url: String,
    /// The events it receives ([`EVENTS`]).
    pub events: Vec<String>,
    /// Who added it.
    pub created_by: String,
    /// Unix epoch milliseconds.
    pub created_at_ms: i64,
}

/// One event for one webhook.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Row id (sent as `X-Corpusminer-Delivery`).
    pub id: i64,
    /// The webhook.
    pub webhook_id: i64,
    /// The event ([`EVENTS`]).
    pub event: String,
    /// The JSON body sent, as signed.
    pub body: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Unix epoch milliseconds.
    pub created_at_ms: i64,
    /// When the next attempt is due.
    pub next_attempt_at_ms: i64,
    /// The last attempt's HTTP status.
    pub last_status: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at_ms: Option<i64>,
}

/// A delivery claimed for sending: the row, where to and the secret to sign with.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// The webhook's URL.
    pub url: String,
    /// The webhook's shared secret.
    pub secret: String,
}

fn schedule_row(r: &sqlx::any::AnyRow) -> Result<Schedule, MetastoreError> {
    let kind: String = r.try_get("kind")?;
    let template: Option<String> = r.try_get("template")?;
    Ok(Schedule {
        id: r.try_get("id")?,
        spec: ScheduleSpec {
            name: r.try_get("name")?,
            kind: kind.parse().map_err(MetastoreError::OutOfRange)?,
            cron: r.try_get("cron")?,
            timezone: r.try_get("timezone")?,
            template: template.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| MetastoreError::OutOfRange(format!("a schedule's template is not JSON: {e}")))?,
            crawl_base: r.try_get("crawl_base")?,
            chain: r.try_get("chain")?,
            created_by: r.try_get("created_by")?,
        },
        created_at_ms: r.try_get("created_at")?,
    })
}

const RUN_COLUMNS: &str = "r.id, r.schedule_id, s.name, s.kind, r.slot, r.state, r.attempts, r.claimed_by, r.started_at, r.finished_at, r.outcome, r.error, r.next_retry_at, r.iteration_id";

fn run_row(r: &sqlx::any::AnyRow) -> Result<JobRun, MetastoreError> {
    let kind: String = r.try_get(3)?;
    let state: String = r.try_get(5)?;
    Ok(JobRun {
        id: r.try_get(0)?,
        schedule_id: r.try_get(1)?,
        schedule: r.try_get(2)?,
        kind: kind.parse().map_err(MetastoreError::OutOfRange)?,
        slot_ms: r.try_get(4)?,
        state: RunState::parse(&state)?,
        attempts: r.try_get(6)?,
        claimed_by: r.try_get(7)?,
        started_at_ms: r.try_get(8)?,
        finished_at_ms: r.try_get(9)?,
        outcome: r.try_get(10)?,
        error: r.try_get(11)?,
        next_retry_at_ms: r.try_get(12)?,
        iteration_id: r.try_get(13)?,
    })
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event, body, state, attempts, created_at, next_attempt_at, last_status, last_error, delivered_at";

fn delivery_row(r: &sqlx::any::AnyRow) -> Result<Delivery, MetastoreError> {
    Ok(Delivery {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event: r.try_get("event")?,
        body: r.try_get("body")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        created_at_ms: r.try_get("created_at")?,
        next_attempt_at_ms: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        delivered_at_ms: r.try_get("delivered_at")?,
    })
}

/// Inserts one delivery of `event` with `body` for every webhook subscribed to it, inside `tx`
/// (the transaction that makes the event). Returns the deliveries queued.
pub(super) async fn queue_event(tx: &mut sqlx::Transaction<'_, sqlx::Any>, event: &str, body: &serde_json::Value) -> Result<u64, MetastoreError> {
    let hooks = sqlx::query("SELECT id, events FROM webhooks").fetch_all(&mut **tx).await?;
    let now = now_ms();
    let text = body.to_string();
    let mut queued = 0;
    for h in &hooks {
        let events: String = h.try_get(1)?;
        if !events.split(',').any(|e| e == event) {
            continue;
        }
        sqlx::query("INSERT INTO webhook_deliveries (webhook_id, event, body, state, attempts, created_at, next_attempt_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)")
            .bind(h.try_get::<i64, _>(0)?)
            .bind(event)
            .bind(&text)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        queued += 1;
    }
    Ok(queued)
}

/// Retention of pages and of tokens against the parent at which an iteration that finishes
/// selection counts as converged for the `iteration.converged` event: the paper's stopping
/// point (arXiv 2402.03300 §2.1, "nearly 98% of the data had been collected").
pub const CONVERGED_RETENTION: f64 = 0.98;

/// Queues, inside `tx`, the events of iteration `id` moving from `from` to `to`: the event of
/// `to` ([`IterationState::event`]) and, when selection ends with a report whose retentions
/// both reach [`CONVERGED_RETENTION`], `iteration.converged`.
pub(super) async fn queue_state_events(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: i64, from: IterationState, to: IterationState) -> Result<(), MetastoreError> {
    let Some(event) = to.event() else { return Ok(()) };
    let row = sqlx::query("SELECT crawl, parent_id, error, report FROM iterations WHERE id = $1").bind(id).fetch_one(&mut **tx).await?;
    let fields = serde_json::json!({ "iteration": id, "state": to.as_str(), "crawl": row.try_get::<String, _>(0)?, "parent": row.try_get::<Option<i64>, _>(1)?, "error": row.try_get::<Option<String>, _>(2)? });
    queue_event(tx, event, &event_body(event, fields.clone())).await?;
    if from == IterationState::Selecting && matches!(to, IterationState::AwaitingAnnotation | IterationState::Complete) {
        let report: Option<String> = row.try_get(3)?;
        let convergence = report.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok()).map(|r| r["convergence"].clone()).unwrap_or_default();
        let retention = |k: &str| convergence[k].as_f64().unwrap_or(0.0);
        if retention("retention_pages") >= CONVERGED_RETENTION && retention("retention_tokens") >= CONVERGED_RETENTION {
            let mut fields = fields;
            fields["convergence"] = convergence;
            queue_event(tx, "iteration.converged", &event_body("iteration.converged", fields)).await?;
        }
    }
    Ok(())
}

/// The body of an event: `{"event", "at_ms", …fields}`.
fn event_body(event: &str, fields: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({ "event": event, "at_ms": now_ms() });
    if let (Some(b), serde_json::Value::Object(f)) = (body.as_object_mut(), fields) {
        b.extend(f);
    }
    body
}

impl Metastore {
    /// Adds a schedule. Errors: `InvalidInput` for a name in use or an empty name.
    pub async fn add_schedule(&self, s: &ScheduleSpec) -> Result<Schedule, MetastoreError> {
        if s.name.trim().is_empty() {
            return Err(MetastoreError::InvalidInput("a schedule needs a non-empty name".into()));
        }
        if self.schedules().await?.iter().any(|x| x.spec.name == s.name) {
            return Err(MetastoreError::InvalidInput(format!("a schedule named {:?} exists already", s.name)));
        }
        let now = now_ms();
        let row = sqlx::query("INSERT INTO schedules (name, kind, cron, timezone, template, crawl_base, chain, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(&s.name)
            .bind(s.kind.as_str())
            .bind(&s.cron)
            .bind(&s.timezone)
            .bind(s.template.as_ref().map(|t| t.to_string()))
            .bind(&s.crawl_base)
            .bind(s.chain)
            .bind(&s.created_by)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        let id: i64 = row.try_get(0)?;
        self.schedule(id).await
    }

    /// Every schedule, oldest first.
    pub async fn schedules(&self) -> Result<Vec<Schedule>, MetastoreError> {
        let rows = sqlx::query("SELECT * FROM schedules ORDER BY id").fetch_all(self.pool()).await?;
        rows.iter().map(schedule_row).collect()
    }

    /// Schedule `id`. Errors: `NotFound`.
    pub async fn schedule(&self, id: i64) -> Result<Schedule, MetastoreError> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(schedule_row).transpose()?.ok_or_else(|| MetastoreError::NotFound { what: format!("schedule {id}") })
    }

    /// Removes schedule `id` and its runs' rows. Errors: `NotFound`.
    pub async fn remove_schedule(&self, id: i64) -> Result<(), MetastoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM job_runs WHERE schedule_id = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(MetastoreError::NotFound { what: format!("schedule {id}") });
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest slot (Unix epoch ms) schedule `id` has a run row for, if any.
    pub async fn last_slot(&self, schedule: i64) -> Result<Option<i64>, MetastoreError> {
        let row = sqlx::query("SELECT MAX(slot) FROM job_runs WHERE schedule_id = $1").bind(schedule).fetch_one(self.pool()).await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Claims `slot` of schedule `schedule` for `holder` and does `start` in one transaction,
    /// recording the run as succeeded (or skipped, for [`JobStart::Skip`]) with `outcome`.
    /// `Ok(None)`, with nothing changed, when the slot or a later one of the schedule has a
    /// run already (another replica claimed it). Errors: `NotFound` for a missing parent.
    pub async fn claim_run(&self, schedule: i64, slot: i64, holder: &str, start: &JobStart, outcome: &str) -> Result<Option<Claimed>, MetastoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        let state = if *start == JobStart::Skip { RunState::Skipped } else { RunState::Succeeded };
        let Some(run_id) = insert_run(&mut tx, schedule, slot, holder, state, now, Some(outcome), None, None).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let claimed = do_start(&mut tx, run_id, start, now).await?;
        tx.commit().await?;
        Ok(Some(claimed))
    }

    /// Records a failed first attempt at `slot` (`error`; the retry is due at `retry_at`, or
    /// never: `None` gives up) and queues the `job.failed` event. `Ok(None)` when the slot or a
    /// later one has a run already.
    pub async fn fail_run(&self, schedule: i64, slot: i64, holder: &str, error: &str, retry_at: Option<i64>) -> Result<Option<i64>, MetastoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        let state = if retry_at.is_some() { RunState::Failed } else { RunState::GaveUp };
        let error = crate::redact::redact_text(error);
        let Some(run_id) = insert_run(&mut tx, schedule, slot, holder, state, now, None, Some(&error), retry_at).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        queue_job_failed(&mut tx, run_id, &error, 1, retry_at).await?;
        tx.commit().await?;
        Ok(Some(run_id))
    }

    /// Marks run `run_id`, claimed as succeeded, failed after all: what it started afterwards
    /// (a training process) could not start (`error`). Retried at `retry_at`, or given up
    /// (`None`); queues `job.failed`.
    pub async fn fail_claimed_run(&self, run_id: i64, error: &str, retry_at: Option<i64>) -> Result<(), MetastoreError> {
        let mut tx = self.pool().begin().await?;
        let state = if retry_at.is_some() { RunState::Failed } else { RunState::GaveUp };
        let error = crate::redact::redact_text(error);
        let row = sqlx::query("UPDATE job_runs SET state = $1, error = $2, next_retry_at = $3, finished_at = $4 WHERE id = $5 RETURNING attempts")
            .bind(state.as_str())
            .bind(&error)
            .bind(retry_at)
            .bind(now_ms())
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MetastoreError::NotFound { what: format!("job run {run_id}") })?;
        queue_job_failed(&mut tx, run_id, &error, row.try_get(0)?, retry_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Failed runs whose retry is due, oldest first.
    pub async fn due_retries(&self) -> Result<Vec<JobRun>, MetastoreError> {
        let q = format!("SELECT {RUN_COLUMNS} FROM job_runs r JOIN schedules s ON s.id = r.schedule_id WHERE r.state = 'failed' AND r.next_retry_at <= $1 ORDER BY r.next_retry_at, r.id");
        let rows = sqlx::query(&q).bind(now_ms()).fetch_all(self.pool()).await?;
        rows.iter().map(run_row).collect()
    }

    /// Claims the retry of `run` (read with `run.attempts` attempts) and does `start` in one
    /// transaction, recording the run succeeded or skipped with `outcome`. `Ok(None)` with
    /// nothing changed when another replica moved the run on first.
    pub async fn claim_retry(&self, run: &JobRun, holder: &str, start: &JobStart, outcome: &str) -> Result<Option<Claimed>, MetastoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        let state = if *start == JobStart::Skip { RunState::Skipped } else { RunState::Succeeded };
        let moved = sqlx::query("UPDATE job_runs SET state = $1, attempts = attempts + 1, claimed_by = $2, finished_at = $3, outcome = $4, error = NULL, next_retry_at = NULL WHERE id = $5 AND state = 'failed' AND attempts = $6")
            .bind(state.as_str())
            .bind(holder)
            .bind(now)
            .bind(outcome)
            .bind(run.id)
            .bind(run.attempts)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let claimed = do_start(&mut tx, run.id, start, now).await?;
        tx.commit().await?;
        Ok(Some(claimed))
    }

    /// Records another failed attempt at `run` (read with `run.attempts` attempts): retried at
    /// `retry_at`, or given up (`None`). `Ok(false)` when another replica moved it on first.
    pub async fn fail_retry(&self, run: &JobRun, holder: &str, error: &str, retry_at: Option<i64>) -> Result<bool, MetastoreError> {
        let mut tx = self.pool().begin().await?;
        let state = if retry_at.is_some() { RunState::Failed } else { RunState::GaveUp };
        let error = crate::redact::redact_text(error);
        let moved = sqlx::query("UPDATE job_runs SET state = $1, attempts = attempts + 1, claimed_by = $2, finished_at = $3, error = $4, next_retry_at = $5 WHERE id = $6 AND state = 'failed' AND attempts = $7")
            .bind(state.as_str())
            .bind(holder)
            .bind(now_ms())
            .bind(&error)
            .bind(retry_at)
            .bind(run.id)
            .bind(run.attempts)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        queue_job_failed(&mut tx, run.id, &error, run.attempts + 1, retry_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Runs, newest first, of schedule `schedule` (all when `None`), at most `limit`.
    pub async fn job_runs(&self, schedule: Option<i64>, limit: i64) -> Result<Vec<JobRun>, MetastoreError> {
        let filter = if schedule.is_some() { "r.schedule_id = $2" } else { "$2 = $2" };
        let q = format!("SELECT {RUN_COLUMNS} FROM job_runs r JOIN schedules s ON s.id = r.schedule_id WHERE {filter} ORDER BY r.slot DESC, r.id DESC LIMIT $1");
        let rows = sqlx::query(&q).bind(limit).bind(schedule.unwrap_or(0)).fetch_all(self.pool()).await?;
        rows.iter().map(run_row).collect()
    }

    /// Every crawl name an iteration exists for (what `mine-new-crawl` counts as mined).
    pub async fn mined_crawls(&self) -> Result<Vec<String>, MetastoreError> {
        let rows = sqlx::query("SELECT DISTINCT crawl FROM iterations").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Adds a webhook for `events` ([`EVENTS`]). Errors: `InvalidInput` for an unknown event,
    /// no event, or an empty secret.
    pub async fn add_webhook(&self, url: &str, events: &[String], secret: &str, created_by: &str) -> Result<Webhook, MetastoreError> {
        if events.is_empty() {
            return Err(MetastoreError::InvalidInput(format!("a webhook needs at least one event of {}", EVENTS.join(", "))));
        }
        if let Some(e) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(MetastoreError::InvalidInput(format!("unknown event {e:?}: expected one of {}", EVENTS.join(", "))));
        }
        if secret.trim().is_empty() {
            return Err(MetastoreError::InvalidInput("a webhook needs a non-blank secret (it signs each body)".into()));
        }
        let mut events = events.to_vec();
        events.sort();
        events.dedup();
        let events = &events[..];
        let now = now_ms();
        let row = sqlx::query("INSERT INTO webhooks (url, events, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(url)
            .bind(events.join(","))
            .bind(secret)
            .bind(created_by)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(Webhook { id: row.try_get(0)?, url: crate::redact::redact_uri(url), events: events.to_vec(), created_by: created_by.to_string(), created_at_ms: now })
    }

    /// Every webhook, oldest first (without secrets).
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, MetastoreError> {
        let rows = sqlx::query("SELECT id, url, events, created_by, created_at FROM webhooks ORDER BY id").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let events: String = r.try_get(2)?;
                let url: String = r.try_get(1)?;
                Ok(Webhook { id: r.try_get(0)?, url: crate::redact::redact_uri(&url), events: events.split(',').map(str::to_string).collect(), created_by: r.try_get(3)?, created_at_ms: r.try_get(4)? })
            })
            .collect()
    }

    /// Removes webhook `id` and its deliveries. Errors: `NotFound`.
    pub async fn remove_webhook(&self, id: i64) -> Result<(), MetastoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
        if sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(MetastoreError::NotFound { what: format!("webhook {id}") });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deliveries of webhook `webhook` (all when `None`), newest first, at most `limit`.
    pub async fn deliveries(&self, webhook: Option<i64>, limit: i64) -> Result<Vec<Delivery>, MetastoreError> {
        let filter = if webhook.is_some() { "webhook_id = $2" } else { "$2 = $2" };
        let q = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {filter} ORDER BY id DESC LIMIT $1");
        let rows = sqlx::query(&q).bind(limit).bind(webhook.unwrap_or(0)).fetch_all(self.pool()).await?;
        rows.iter().map(delivery_row).collect()
    }

    /// Claims up to `limit` pending deliveries that are due and unclaimed (or whose claim
    /// lapsed) for `claim_ms`: no other replica sends them meanwhile.
    pub async fn claim_deliveries(&self, limit: i64, claim_ms: i64) -> Result<Vec<DueDelivery>, MetastoreError> {
        let now = now_ms();
        let candidates = sqlx::query("SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_attempt_at, id LIMIT $2")
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for c in &candidates {
            let id: i64 = c.try_get(0)?;
            // Compare-and-set per row: a replica that read the same candidate loses here.
            let won = sqlx::query("UPDATE webhook_deliveries SET claimed_until = $1 WHERE id = $2 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < $3)")
                .bind(now + claim_ms)
                .bind(id)
                .bind(now)
                .execute(self.pool())
                .await?
                .rows_affected()
                == 1;
            if !won {
                continue;
            }
            let q = format!("SELECT d.{}, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1", DELIVERY_COLUMNS.replace(", ", ", d."));
            let row = sqlx::query(&q).bind(id).fetch_one(self.pool()).await?;
            out.push(DueDelivery { delivery: delivery_row(&row)?, url: row.try_get("url")?, secret: row.try_get("secret")? });
        }
        Ok(out)
    }

    /// Records an attempt at delivery `id`: delivered (`ok`), else retried at `retry_at` or
    /// failed for good (`None`); `status` and `error` are the attempt's.
    pub async fn finish_delivery(&self, id: i64, ok: bool, status: Option<u16>, error: Option<&str>, retry_at: Option<i64>) -> Result<(), MetastoreError> {
        let now = now_ms();
        let state = if ok { "delivered" } else if retry_at.is_some() { "pending" } else { "failed" };
        sqlx::query("UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3, next_attempt_at = $4, claimed_until = NULL, delivered_at = $5 WHERE id = $6")
            .bind(state)
            .bind(status.map(i64::from))
            .bind(error)
            .bind(retry_at.unwrap_or(now))
            .bind(ok.then_some(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_run(tx: &mut sqlx::Transaction<'_, sqlx::Any>, schedule: i64, slot: i64, holder: &str, state: RunState, now: i64, outcome: Option<&str>, error: Option<&str>, retry_at: Option<i64>) -> Result<Option<i64>, MetastoreError> {
    // The write comes first: on SQLite a transaction that reads before it writes cannot wait
    // for the write lock, and fails at once when another replica wrote meanwhile.
    let row = sqlx::query(
        "INSERT INTO job_runs (schedule_id, slot, state, attempts, claimed_by, started_at, finished_at, outcome, error, next_retry_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $5, $6, $7, $8) ON CONFLICT (schedule_id, slot) DO NOTHING RETURNING id",
    )
    .bind(schedule)
    .bind(slot)
    .bind(state.as_str())
    .bind(holder)
    .bind(now)
    .bind(outcome)
    .bind(error)
    .bind(retry_at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // A later slot's run means this one was coalesced away (a replica whose clock lags).
    let later = sqlx::query("SELECT COUNT(*) FROM job_runs WHERE schedule_id = $1 AND slot > $2").bind(schedule).bind(slot).fetch_one(&mut **tx).await?;
    if later.try_get::<i64, _>(0)? > 0 {
        return Ok(None);
    }
    Ok(Some(row.try_get::<i64, _>(0)?))
}

async fn do_start(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: i64, start: &JobStart, now: i64) -> Result<Claimed, MetastoreError> {
    let mut claimed = Claimed { run_id, iteration: None, released: 0, train: None };
    match start {
        JobStart::Iteration { crawl, config_json, parent } => {
            // Checked again in the claiming transaction: the crawl (no parent) or the parent's
            // next step (a parent) may have been started since the run was prepared.
            let existing = match parent {
                None => sqlx::query("SELECT MIN(id) FROM iterations WHERE crawl = $1").bind(crawl).fetch_one(&mut **tx).await?,
                Some(p) => sqlx::query("SELECT MIN(id) FROM iterations WHERE parent_id = $1").bind(p).fetch_one(&mut **tx).await?,
            };
            if let Some(id) = existing.try_get::<Option<i64>, _>(0)? {
                let outcome = match parent {
                    None => format!("{crawl} is mined already, by iteration {id}"),
                    Some(p) => format!("iteration {p} has a next iteration already: {id}"),
                };
                sqlx::query("UPDATE job_runs SET state = 'skipped', outcome = $1 WHERE id = $2").bind(outcome).bind(run_id).execute(&mut **tx).await?;
                return Ok(claimed);
            }
            if let Some(p) = parent {
                let found = sqlx::query("SELECT COUNT(*) FROM iterations WHERE id = $1").bind(p).fetch_one(&mut **tx).await?;
                if found.try_get::<i64, _>(0)? == 0 {
                    return Err(MetastoreError::NotFound { what: format!("iteration {p}") });
                }
                let completed = sqlx::query("UPDATE iterations SET state = 'complete', updated_at = $1 WHERE id = $2 AND state = 'awaiting_annotation'").bind(now).bind(p).execute(&mut **tx).await?;
                if completed.rows_affected() == 1 {
                    queue_state_events(tx, *p, IterationState::AwaitingAnnotation, IterationState::Complete).await?;
                }
            }
            let row = sqlx::query("INSERT INTO iterations (crawl, state, created_at, updated_at, config, parent_id) VALUES ($1, 'preparing', $2, $2, $3, $4) RETURNING id")
                .bind(crawl)
                .bind(now)
                .bind(config_json)
                .bind(*parent)
                .fetch_one(&mut **tx)
                .await?;
            let id: i64 = row.try_get(0)?;
            sqlx::query("UPDATE job_runs SET iteration_id = $1 WHERE id = $2").bind(id).bind(run_id).execute(&mut **tx).await?;
            claimed.iteration = Some(id);
        }
        JobStart::ExpireShardLeases => {
            claimed.released = sqlx::query("UPDATE shards SET state = 'pending', lease_token = NULL, lease_expires_at = NULL, worker = NULL WHERE state = 'leased' AND lease_expires_at < $1")
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let outcome = format!("released {} expired shard lease{}", claimed.released, if claimed.released == 1 { "" } else { "s" });
            sqlx::query("UPDATE job_runs SET outcome = $1 WHERE id = $2").bind(outcome).bind(run_id).execute(&mut **tx).await?;
        }
        JobStart::Train { iteration } => {
            // A run that trained on it (or failed to, and will retry) has it.
            let done = sqlx::query("SELECT MIN(id) FROM job_runs WHERE schedule_id = (SELECT schedule_id FROM job_runs WHERE id = $1) AND iteration_id = $2 AND state IN ('succeeded', 'failed') AND id <> $1")
                .bind(run_id)
                .bind(*iteration)
                .fetch_one(&mut **tx)
                .await?;
            if let Some(earlier) = done.try_get::<Option<i64>, _>(0)? {
                let outcome = format!("iteration {iteration} was trained on already, by run {earlier} (or is retried by it)");
                sqlx::query("UPDATE job_runs SET state = 'skipped', outcome = $1 WHERE id = $2").bind(outcome).bind(run_id).execute(&mut **tx).await?;
                return Ok(claimed);
            }
            sqlx::query("UPDATE job_runs SET iteration_id = $1 WHERE id = $2").bind(*iteration).bind(run_id).execute(&mut **tx).await?;
            claimed.train = Some(*iteration);
        }
        JobStart::Skip => {}
    }
    Ok(claimed)
}

async fn queue_job_failed(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: i64, error: &str, attempts: i64, retry_at: Option<i64>) -> Result<(), MetastoreError> {
    let row = sqlx::query("SELECT s.name, s.kind, r.slot FROM job_runs r JOIN schedules s ON s.id = r.schedule_id WHERE r.id = $1").bind(run_id).fetch_one(&mut **tx).await?;
    let body = event_body(
        "job.failed",
        serde_json::json!({ "run": run_id, "schedule": row.try_get::<String, _>(0)?, "kind": row.try_get::<String, _>(1)?, "slot_ms": row.try_get::<i64, _>(2)?, "attempts": attempts, "error": error, "next_retry_at_ms": retry_at }),
    );
    queue_event(tx, "job.failed", &body).await?;
    Ok(())
}
