//! Training runs' rows: a `corpusminer train` process records its progress (step, loss,
//! tokens/s, ETA) as it goes and, at the end, where its report is, so `serve` can show both
//! without talking to the process.

use super::{now_ms, Metastore, MetastoreError};
use sqlx::Row;

/// Progress after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingProgress {
    /// Steps done.
    pub step: u64,
    /// That step's training loss, nats per token.
    pub loss: f64,
    /// Mean training tokens per second so far.
    pub tokens_per_s: f64,
    /// Seconds left at that rate.
    pub eta_s: f64,
}

/// A training run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRun {
    /// Row id.
    pub id: i64,
    /// The run's name (its output folder, or a name given).
    pub name: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// The run's settings (JSON).
    pub config: String,
    /// Steps in the run.
    pub steps: u64,
    /// The latest progress (step 0 and no values before the first step).
    pub progress: Option<TrainingProgress>,
    /// Object key (or URI) of the report, once done.
    pub report_key: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Unix epoch milliseconds.
    pub updated_at_ms: i64,
}

fn to_i64(v: u64, what: &str) -> Result<i64, MetastoreError> {
    i64::try_from(v).map_err(|_| MetastoreError::OutOfRange(format!("{what} {v}")))
}

impl Metastore {
    /// Records a new run (state `running`, step 0); returns its id.
    pub async fn start_training_run(&self, name: &str, config_json: &str, steps: u64) -> Result<i64, MetastoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO training_runs (name, state, config, step, steps, created_at, updated_at) \
             VALUES ($1, 'running', $2, 0, $3, $4, $4) RETURNING id",
        )
        .bind(name)
        .bind(config_json)
        .bind(to_i64(steps, "steps")?)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Records progress of a running run. Errors: `NotFound` (no such run, or not running).
    pub async fn training_progress(&self, id: i64, p: TrainingProgress) -> Result<(), MetastoreError> {
        let done = sqlx::query(
            "UPDATE training_runs SET step = $1, loss = $2, tokens_per_s = $3, eta_s = $4, updated_at = $5 \
             WHERE id = $6 AND state = 'running'",
        )
        .bind(to_i64(p.step, "step")?)
        .bind(p.loss)
        .bind(p.tokens_per_s)
        .bind(p.eta_s)
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(MetastoreError::NotFound { what: format!("running training run {id}") });
        }
        Ok(())
    }

    /// Ends a run: `done` with its report's key, or `failed` with the error. Errors: `NotFound`.
    pub async fn finish_training_run(&self, id: i64, report_key: Option<&str>, error: Option<&str>) -> Result<(), MetastoreError> {
        let state = if error.is_some() { "failed" } else { "done" };
        let done = sqlx::query("UPDATE training_runs SET state = $1, report_key = $2, error = $3, updated_at = $4 WHERE id = $5")
            .bind(state)
            .bind(report_key)
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetastoreError::NotFound { what: format!("training run {id}") });
        }
        Ok(())
    }

    /// The run `id`. Errors: `NotFound`.
    pub async fn training_run(&self, id: i64) -> Result<TrainingRun, MetastoreError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM training_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| MetastoreError::NotFound { what: format!("training run {id}") })?;
        training_row(&row)
    }

    /// The newest `limit` runs, newest first.
    pub async fn training_runs(&self, limit: i64) -> Result<Vec<TrainingRun>, MetastoreError> {
        let rows = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM training_runs ORDER BY id DESC LIMIT $1")).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(training_row).collect()
    }
}

const RUN_COLUMNS: &str = "id, name, state, config, step, steps, loss, tokens_per_s, eta_s, report_key, error, updated_at";

fn training_row(row: &sqlx::any::AnyRow) -> Result<TrainingRun, MetastoreError> {
    let step: i64 = row.try_get("step")?;
    let loss: Option<f64> = row.try_get("loss")?;
    let progress = match (step, loss) {
        (s, Some(loss)) if s > 0 => Some(TrainingProgress {
            step: s as u64,
            loss,
            tokens_per_s: row.try_get::<Option<f64>, _>("tokens_per_s")?.unwrap_or(0.0),
            eta_s: row.try_get::<Option<f64>, _>("eta_s")?.unwrap_or(0.0),
        }),
        _ => None,
    };
    Ok(TrainingRun {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        state: row.try_get("state")?,
        config: row.try_get("config")?,
        steps: row.try_get::<i64, _>("steps")? as u64,
        progress,
        report_key: row.try_get("report_key")?,
        error: row.try_get("error")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}
