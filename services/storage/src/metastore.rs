//! Where rows live: iterations, shards and their leases, and the per-shard aggregates (score
//! histogram, per-host bucket counts, skip counts) that the coordinator turns into a threshold
//! and the 10%-rule host list (DeepSeekMath, arXiv 2402.03300 §2.1).
//!
//! One [`Metastore`] over `sqlx::AnyPool` serves both backends: SQLite (the embedded default, WAL
//! mode) and PostgreSQL. SQL is written once with `$N` placeholders, which both drivers accept;
//! only shard leasing differs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single-writer lock on
//! SQLite). Migrations live in `/migrations/{sqlite,postgres}` and run at connect.
//!
//! Times are stored as Unix epoch milliseconds and returned as `chrono::DateTime<Utc>`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

mod iteration_state;
mod leases;
pub mod schedules;
mod tokens;
mod training;
pub use iteration_state::IterationState;
pub use leases::IterationLease;
pub use tokens::{token_digest, ApiToken, Role, TOKEN_PREFIX};
pub use training::{TrainingProgress, TrainingRun};

/// The migrations of each dialect, embedded at compile time: `(version, description, sql)`.
/// Same versions, descriptions and checksums (SHA-384 of the SQL) as `sqlx::migrate!` would
/// give, so either can apply them. (`sqlx::migrate!` needs sqlx's `macros` feature, which the
/// workspace does not enable: a heavy proc-macro build for three lines.)
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "annotations",
        include_str!("../../../migrations/sqlite/0002_annotations.sql"),
    ),
    (
        3,
        "iteration loop",
        include_str!("../../../migrations/sqlite/0003_iteration_loop.sql"),
    ),
    (
        4,
        "shard files and failures",
        include_str!("../../../migrations/sqlite/0004_shard_files_and_failures.sql"),
    ),
    (
        5,
        "training runs",
        include_str!("../../../migrations/sqlite/0005_training_runs.sql"),
    ),
    (
        6,
        "languages",
        include_str!("../../../migrations/sqlite/0006_languages.sql"),
    ),
    (
        7,
        "api tokens",
        include_str!("../../../migrations/sqlite/0007_api_tokens.sql"),
    ),
    (
        8,
        "iteration leases",
        include_str!("../../../migrations/sqlite/0008_iteration_leases.sql"),
    ),
    (
        9,
        "annotation settlements",
        include_str!("../../../migrations/sqlite/0009_annotation_settlements.sql"),
    ),
    (
        10,
        "ui sessions",
        include_str!("../../../migrations/sqlite/0010_ui_sessions.sql"),
    ),
    (
        11,
        "schedules and webhooks",
        include_str!("../../../migrations/sqlite/0011_schedules_and_webhooks.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "annotations",
        include_str!("../../../migrations/postgres/0002_annotations.sql"),
    ),
    (
        3,
        "iteration loop",
        include_str!("../../../migrations/postgres/0003_iteration_loop.sql"),
    ),
    (
        4,
        "shard files and failures",
        include_str!("../../../migrations/postgres/0004_shard_files_and_failures.sql"),
    ),
    (
        5,
        "training runs",
        include_str!("../../../migrations/postgres/0005_training_runs.sql"),
    ),
    (
        6,
        "languages",
        include_str!("../../../migrations/postgres/0006_languages.sql"),
    ),
    (
        7,
        "api tokens",
        include_str!("../../../migrations/postgres/0007_api_tokens.sql"),
    ),
    (
        8,
        "iteration leases",
        include_str!("../../../migrations/postgres/0008_iteration_leases.sql"),
    ),
    (
        9,
        "annotation settlements",
        include_str!("../../../migrations/postgres/0009_annotation_settlements.sql"),
    ),
    (
        10,
        "ui sessions",
        include_str!("../../../migrations/postgres/0010_ui_sessions.sql"),
    ),
    (
        11,
        "schedules and webhooks",
        include_str!("../../../migrations/postgres/0011_schedules_and_webhooks.sql"),
    ),
];

fn migrator(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    use std::borrow::Cow;
    let migrations: Vec<Migration> = migrations
        .iter()
        .map(|&(version, desc, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(desc),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Bind parameters per statement in batched inserts: under SQLite's limit (32,766 since 3.32)
/// and PostgreSQL's (65,535).
const MAX_PARAMS: usize = 30_000;

/// A metastore failure.
#[derive(Debug, thiserror::Error)]
pub enum MetastoreError {
    /// The iteration (or other row) does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `iteration 7`.
        what: String,
    },
    /// The shard is no longer leased under this token: the lease expired and was handed to
    /// another worker, or the shard was already completed or failed. Nothing was written.
    #[error("lease lost on shard {shard_id}")]
    LeaseLost {
        /// The shard whose lease was lost.
        shard_id: i64,
    },
    /// The connection URL is not `sqlite:...`, `postgres://...` or a path.
    #[error("invalid metastore url {url}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The action is not allowed in the row's current state; nothing was written.
    #[error("{what} is {state}: cannot {action}")]
    InvalidState {
        /// What was acted on, e.g. `iteration 7`.
        what: String,
        /// Its state.
        state: String,
        /// The refused action.
        action: String,
    },
    /// A value does not fit the database's signed 64-bit integers.
    #[error("value out of range: {0}")]
    OutOfRange(String),
    /// A value given is not acceptable (an empty name); nothing was written.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Running the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a statement, or the connection broke.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The metastore could not be opened: the server refused or could not be reached, or the
    /// SQLite file could not be opened or created (a read-only or missing folder).
    #[error("opening the metastore {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
}

/// Which database is behind a [`Metastore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// One iteration of the loop: a crawl scored by one model with one threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration {
    /// Row id.
    pub id: i64,
    /// Crawl name, e.g. `CC-MAIN-2024-10`.
    pub crawl: String,
    /// State name, one of [`IterationState`]'s (`IterationState::parse`).
    pub state: String,
    /// The iteration whose seed and annotations this one grew from.
    pub parent_id: Option<i64>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When any field last changed.
    pub updated_at: DateTime<Utc>,
    /// The run's configuration, JSON text.
    pub config_json: String,
    /// Where the classifier model is stored.
    pub model_uri: Option<String>,
    /// SHA-256 of the model file, lowercase hex.
    pub model_sha256: Option<String>,
    /// Validation metrics of the model, JSON text.
    pub validation_json: Option<String>,
    /// Chosen score threshold (a probability in [0, 1]).
    pub threshold: Option<f64>,
    /// The histogram bucket the threshold falls in (pages in buckets >= it are kept).
    pub threshold_bucket: Option<i64>,
    /// Final report, JSON text.
    pub report_json: Option<String>,
    /// Everything the iteration used (seed manifest, negatives, classifier settings), JSON text.
    pub inputs_json: Option<String>,
    /// Why the iteration failed (state `failed`).
    pub error: Option<String>,
    /// The state a failed iteration was in; `resume` restarts there.
    pub failed_state: Option<String>,
    /// The process driving the iteration (`host:pid`), while its lease is held
    /// ([`Metastore::acquire_iteration_lease`]); possibly expired: compare `lease_expires_at`.
    pub lease_holder: Option<String>,
    /// When that lease runs out unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

/// A shard handed to a worker until `expires_at`; `token` proves ownership at completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The iteration the shard belongs to.
    pub iteration_id: i64,
    /// Row id of the shard.
    pub shard_id: i64,
    /// The shard's URI (one WARC file).
    pub uri: String,
    /// Random token of this lease; a re-lease gets a new one.
    pub token: String,
    /// The worker that holds it.
    pub worker: String,
    /// When the lease runs out and another worker may take the shard.
    pub expires_at: DateTime<Utc>,
    /// Leases of this shard so far, this one included.
    pub attempts: i64,
}

/// Per-host counts of one score bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostBucket {
    /// Host, without `www.` (the domain of the 10% rule).
    pub host: String,
    /// Registrable domain (public-suffix roll-up).
    pub domain: String,
    /// Score bucket index.
    pub bucket: i64,
    /// Pages of this host in this bucket.
    pub pages: i64,
    /// Their tokens.
    pub tokens: i64,
}

/// What a worker reports for a finished shard, committed with the lease in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardResult {
    /// The scored-page file: its object key relative to the output folder's root.
    pub scored_key: String,
    /// The page-text file: its object key relative to the output folder's root.
    pub texts_key: String,
    /// WARC records read.
    pub records: i64,
    /// HTML pages scored.
    pub pages: i64,
    /// Compressed bytes read.
    pub bytes_in: i64,
    /// `(bucket, pages, tokens)`; repeated buckets are summed.
    pub histogram: Vec<(i64, i64, i64)>,
    /// Per-host bucket counts; repeated `(host, bucket)` pairs are summed.
    pub hosts: Vec<HostBucket>,
    /// Skipped inputs per snake_case reason.
    pub skips: BTreeMap<String, u64>,
    /// Scored pages per (language, bucket); repeated pairs are summed.
    pub languages: Vec<LanguageBucket>,
    /// Pages with text per (host, language); repeated pairs are summed.
    pub host_languages: Vec<HostLanguage>,
}

/// Scored pages of one language in one score bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LanguageBucket {
    /// ISO 639-1 code, or `und`.
    pub lang: String,
    /// Score bucket index.
    pub bucket: i64,
    /// Pages.
    pub pages: i64,
    /// Their tokens.
    pub tokens: i64,
}

/// Pages of one host in one language (every page whose text was extracted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostLanguage {
    /// Host.
    pub host: String,
    /// ISO 639-1 code, or `und`.
    pub lang: String,
    /// Pages.
    pub pages: i64,
    /// Their tokens.
    pub tokens: i64,
}

/// Pages and tokens of one language in an iteration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LanguageCount {
    /// ISO 639-1 code, or `und`.
    pub lang: String,
    /// Pages whose text was extracted, scored or skipped by a `--languages` filter.
    pub pages: i64,
    /// Their tokens.
    pub tokens: i64,
    /// Pages scored (the language was selected).
    pub scored_pages: i64,
    /// Tokens scored.
    pub scored_tokens: i64,
    /// Scored pages in buckets >= the threshold bucket.
    pub kept_pages: i64,
    /// Their tokens.
    pub kept_tokens: i64,
}

/// Shards of an iteration per state. An expired lease still counts as `leased` until re-leased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardCounts {
    /// Not yet leased.
    pub pending: u64,
    /// Leased to a worker.
    pub leased: u64,
    /// Completed, aggregates committed.
    pub done: u64,
    /// Failed (see `ShardRow::error`).
    pub failed: u64,
}

impl ShardCounts {
    /// All shards.
    pub fn total(&self) -> u64 {
        self.pending + self.leased + self.done + self.failed
    }
}

/// One row of the `shards` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRow {
    /// Row id.
    pub shard_id: i64,
    /// Owning iteration.
    pub iteration_id: i64,
    /// The shard's URI.
    pub uri: String,
    /// `pending`, `leased`, `done` or `failed`.
    pub state: String,
    /// Current lease token while leased.
    pub lease_token: Option<String>,
    /// Lease expiry while leased.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Last worker that leased it.
    pub worker: Option<String>,
    /// Leases so far.
    pub attempts: i64,
    /// Message of the last failed attempt (kept while a retried shard is pending again).
    pub error: Option<String>,
    /// Reason of the last failed attempt: `io`, `empty`, `not_warc` or `panic`.
    pub failure_reason: Option<String>,
    /// WARC records read (done shards).
    pub records: Option<i64>,
    /// Pages scored (done shards).
    pub pages: Option<i64>,
    /// Compressed bytes read (done shards).
    pub bytes_in: Option<i64>,
    /// Scored-page file (done shards): object key relative to the output folder's root.
    pub scored_key: Option<String>,
    /// Page-text file (done shards): object key relative to the output folder's root.
    pub texts_key: Option<String>,
    /// When it was completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Per-host totals at a threshold bucket: the input of the 10% rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCount {
    /// Host.
    pub host: String,
    /// Its registrable domain.
    pub domain: String,
    /// Pages of the host, all buckets.
    pub pages: i64,
    /// Tokens of the host, all buckets.
    pub tokens: i64,
    /// Pages in buckets >= the threshold bucket.
    pub kept_pages: i64,
    /// Tokens in buckets >= the threshold bucket.
    pub kept_tokens: i64,
}

/// The metastore: a pool over SQLite or PostgreSQL with the schema migrated.
#[derive(Debug, Clone)]
pub struct Metastore {
    pool: AnyPool,
    backend: Backend,
    redacted_url: String,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `url` with its password (userinfo or `?password=`) and other credentials replaced by `***`
/// ([`crate::redact::redact_uri`]).
pub fn redact_url(url: &str) -> String {
    crate::redact::redact_uri(url)
}

/// The rows of a multi-row `VALUES` clause: `rows` rows of `cols` placeholders, numbered
/// `$1, $2, ...` for PostgreSQL and anonymous `?` for SQLite (SQLite looks named parameters up
/// in a list, so 30,000 `$N` cost seconds to prepare; `?` binds by position at no cost).
fn values_clause(backend: Backend, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(r * cols + c + 1).to_string());
                }
                Backend::Sqlite => out.push('?'),
            }
        }
        out.push(')');
    }
    out
}

impl Metastore {
    /// Connects and runs the embedded migrations.
    ///
    /// `url`: `postgres://user:pass@host/db` (or `postgresql://`), `sqlite:///abs/path.db`,
    /// `sqlite://relative.db`, `sqlite::memory:`, or a plain file path (SQLite). A SQLite file
    /// and its folder are created if missing; the database is put in WAL mode.
    ///
    /// Errors: `InvalidUrl`, `Database` (cannot connect), `Migrate`.
    pub async fn connect(url: &str) -> Result<Self, MetastoreError> {
        Self::connect_with(url, 10).await
    }

    /// [`Metastore::connect`] with at most `max_connections` pooled connections.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, MetastoreError> {
        sqlx::any::install_default_drivers();
        let redacted_url = redact_url(url);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // One direct connection first: an unreachable server fails at once instead of after
            // the pool's acquire timeout, and the migrations run on it.
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
                .await
                .map_err(|source| MetastoreError::Connect { url: redacted_url.clone(), source })?;
            migrator(POSTGRES_MIGRATIONS).run(&mut conn).await?;
            let _ = sqlx::Connection::close(conn).await;
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            return Ok(Self {
                pool,
                backend: Backend::Postgres,
                redacted_url,
            });
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite:") {
            rest.strip_prefix("//").unwrap_or(rest)
        } else if url.contains("://") {
            return Err(MetastoreError::InvalidUrl {
                url: redacted_url,
                reason: "expected postgres://, sqlite: or a file path".into(),
            });
        } else {
            url
        };
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(MetastoreError::InvalidUrl {
                url: redacted_url,
                reason: "no database path".into(),
            });
        }
        let memory = path == ":memory:";
        let any_url = if memory {
            "sqlite::memory:".to_string()
        } else {
            if let Some(parent) = std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| MetastoreError::InvalidUrl {
                    url: redacted_url.clone(),
                    reason: format!("cannot create {}: {e}", parent.display()),
                })?;
            }
            format!("sqlite://{path}?mode=rwc")
        };
        let pool = AnyPoolOptions::new()
            // One connection holds an in-memory database; more would each see an empty one.
            .max_connections(if memory { 1 } else { max_connections })
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA busy_timeout = 60000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&any_url)
            .await
            .map_err(|source| MetastoreError::Connect { url: redacted_url.clone(), source })?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
            redacted_url,
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL with its password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> String {
        self.redacted_url.clone()
    }

    /// The pool, for callers that need a query of their own.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates a first iteration of `crawl` in state `preparing`; returns its id.
    pub async fn create_iteration(
        &self,
        crawl: &str,
        config_json: &str,
    ) -> Result<i64, MetastoreError> {
        self.create_iteration_from(crawl, config_json, None).await
    }

    /// Creates an iteration of `crawl` in state `preparing` that grows from `parent`; returns
    /// its id. Errors: `NotFound` for a missing parent.
    pub async fn create_iteration_from(
        &self,
        crawl: &str,
        config_json: &str,
        parent: Option<i64>,
    ) -> Result<i64, MetastoreError> {
        if let Some(p) = parent {
            self.iteration(p).await?;
        }
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO iterations (crawl, state, created_at, updated_at, config, parent_id) \
             VALUES ($1, 'preparing', $2, $2, $3, $4) RETURNING id",
        )
        .bind(crawl)
        .bind(now)
        .bind(config_json)
        .bind(parent)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// The iteration `id`. Errors: `NotFound`.
    pub async fn iteration(&self, id: i64) -> Result<Iteration, MetastoreError> {
        let row = sqlx::query(
            "SELECT id, crawl, state, created_at, updated_at, config, model_uri, model_sha256, \
             validation, threshold, threshold_bucket, report, parent_id, inputs, error, failed_state, lease_holder, lease_expires_at \
             FROM iterations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetastoreError::NotFound {
            what: format!("iteration {id}"),
        })?;
        Ok(Iteration {
            id: row.try_get(0)?,
            crawl: row.try_get(1)?,
            state: row.try_get(2)?,
            created_at: from_ms(row.try_get(3)?),
            updated_at: from_ms(row.try_get(4)?),
            config_json: row.try_get(5)?,
            model_uri: row.try_get(6)?,
            model_sha256: row.try_get(7)?,
            validation_json: row.try_get(8)?,
            threshold: row.try_get(9)?,
            threshold_bucket: row.try_get(10)?,
            report_json: row.try_get(11)?,
            parent_id: row.try_get(12)?,
            inputs_json: row.try_get(13)?,
            error: row.try_get(14)?,
            failed_state: row.try_get(15)?,
            lease_holder: row.try_get(16)?,
            lease_expires_at: row.try_get::<Option<i64>, _>(17)?.map(from_ms),
        })
    }

    /// Ids of all iterations, oldest first.
    pub async fn iteration_ids(&self) -> Result<Vec<i64>, MetastoreError> {
        let rows = sqlx::query("SELECT id FROM iterations ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(Into::into))
            .collect()
    }

    async fn update_iteration<'a>(
        &self,
        id: i64,
        query: sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>>,
    ) -> Result<(), MetastoreError> {
        let done = query.execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(MetastoreError::NotFound {
                what: format!("iteration {id}"),
            });
        }
        Ok(())
    }

    /// Sets the iteration's state, whatever it was (see [`Metastore::advance`] for the
    /// compare-and-set the state machine uses). Errors: `NotFound`.
    pub async fn set_state(&self, id: i64, state: IterationState) -> Result<(), MetastoreError> {
        let q = sqlx::query("UPDATE iterations SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(now_ms())
            .bind(id);
        self.update_iteration(id, q).await
    }

    /// Records the model: its URI, SHA-256 (hex) and validation metrics (JSON). Errors: `NotFound`.
    pub async fn set_model(
        &self,
        id: i64,
        uri: &str,
        sha256: &str,
        validation_json: &str,
    ) -> Result<(), MetastoreError> {
        let q = sqlx::query(
            "UPDATE iterations SET model_uri = $1, model_sha256 = $2, validation = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(uri)
        .bind(sha256)
        .bind(validation_json)
        .bind(now_ms())
        .bind(id);
        self.update_iteration(id, q).await
    }

    /// Records the chosen threshold (score) and its histogram bucket. Errors: `NotFound`.
    pub async fn set_threshold(
        &self,
        id: i64,
        threshold: f64,
        bucket: i64,
    ) -> Result<(), MetastoreError> {
        let q = sqlx::query(
            "UPDATE iterations SET threshold = $1, threshold_bucket = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(threshold)
        .bind(bucket)
        .bind(now_ms())
        .bind(id);
        self.update_iteration(id, q).await
    }

    /// Records the final report (JSON). Errors: `NotFound`.
    pub async fn set_report(&self, id: i64, report_json: &str) -> Result<(), MetastoreError> {
        let q = sqlx::query("UPDATE iterations SET report = $1, updated_at = $2 WHERE id = $3")
            .bind(report_json)
            .bind(now_ms())
            .bind(id);
        self.update_iteration(id, q).await
    }

    /// Adds shards (pending) to an iteration; URIs already present are left alone, so this is
    /// idempotent. Returns how many were inserted. Errors: `NotFound` for a missing iteration.
    pub async fn add_shards(&self, iteration: i64, uris: &[String]) -> Result<u64, MetastoreError> {
        self.iteration(iteration).await?;
        let mut inserted = 0;
        let mut tx = self.pool.begin().await?;
        for chunk in uris.chunks(MAX_PARAMS / 2) {
            let sql = format!(
                "INSERT INTO shards (iteration_id, uri) VALUES {} ON CONFLICT (iteration_id, uri) DO NOTHING",
                values_clause(self.backend, chunk.len(), 2)
            );
            let mut q = sqlx::query(&sql);
            for uri in chunk {
                q = q.bind(iteration).bind(uri.as_str());
            }
            inserted += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Leases one shard of `iteration` to `worker` for `lease`: a pending one, or a leased one
    /// whose lease has expired, lowest id first. Gives it a new random token and counts the
    /// attempt. Atomic under concurrency: two callers never get the same shard (PostgreSQL:
    /// `FOR UPDATE SKIP LOCKED`; SQLite: the statement runs under the database's write lock).
    /// `None` when nothing is leasable now.
    pub async fn lease_shard(
        &self,
        iteration: i64,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, MetastoreError> {
        let now = now_ms();
        let expires = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE shards SET state = 'leased', lease_token = $1, lease_expires_at = $2, worker = $3, \
             attempts = attempts + 1 \
             WHERE shard_id = (SELECT shard_id FROM shards WHERE iteration_id = $4 \
               AND (state = 'pending' OR (state = 'leased' AND lease_expires_at <= $5)) \
               ORDER BY shard_id LIMIT 1{lock}) \
             RETURNING shard_id, uri, attempts"
        );
        let row = sqlx::query(&sql)
            .bind(&token)
            .bind(expires)
            .bind(worker)
            .bind(iteration)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Lease {
            iteration_id: iteration,
            shard_id: row.try_get(0)?,
            uri: row.try_get(1)?,
            token,
            worker: worker.to_string(),
            expires_at: from_ms(expires),
            attempts: row.try_get(2)?,
        }))
    }

    /// Completes a leased shard in ONE transaction: checks that the shard is still leased under
    /// `lease.token` (else `LeaseLost`, and nothing is written), adds the histogram, host and
    /// skip rows to the iteration's totals (upserts, in multi-row batches), writes the shard's
    /// stats and marks it `done`. A lease past its expiry that nobody re-leased still completes.
    pub async fn complete_shard(
        &self,
        lease: &Lease,
        result: &ShardResult,
    ) -> Result<(), MetastoreError> {
        // Merge repeats first: an upsert may not touch one row twice in a statement, and
        // sorted keys give every transaction the same lock order (no deadlocks).
        let mut hist: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for &(bucket, pages, tokens) in &result.histogram {
            let e = hist.entry(bucket).or_default();
            e.0 += pages;
            e.1 += tokens;
        }
        let mut hosts: BTreeMap<(&str, i64), (&str, i64, i64)> = BTreeMap::new();
        for h in &result.hosts {
            let e = hosts
                .entry((h.host.as_str(), h.bucket))
                .or_insert((h.domain.as_str(), 0, 0));
            e.1 += h.pages;
            e.2 += h.tokens;
        }
        let mut skips = Vec::with_capacity(result.skips.len());
        for (reason, &count) in &result.skips {
            let count = i64::try_from(count)
                .map_err(|_| MetastoreError::OutOfRange(format!("skip count {reason}={count}")))?;
            skips.push((reason.as_str(), count));
        }

        let it = lease.iteration_id;
        let mut tx = self.pool.begin().await?;
        // The guarded write comes first: on SQLite it takes the write lock before any read.
        let marked = sqlx::query(
            "UPDATE shards SET state = 'done', lease_token = NULL, lease_expires_at = NULL, error = NULL, \
             failure_reason = NULL, records = $1, pages = $2, bytes_in = $3, scored_key = $4, texts_key = $9, \
             finished_at = $5 WHERE shard_id = $6 AND iteration_id = $7 AND state = 'leased' AND lease_token = $8",
        )
        .bind(result.records)
        .bind(result.pages)
        .bind(result.bytes_in)
        .bind(result.scored_key.as_str())
        .bind(now_ms())
        .bind(lease.shard_id)
        .bind(it)
        .bind(lease.token.as_str())
        .bind(result.texts_key.as_str())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(MetastoreError::LeaseLost {
                shard_id: lease.shard_id,
            });
        }

        let hist: Vec<_> = hist.into_iter().collect();
        for chunk in hist.chunks(MAX_PARAMS / 4) {
            let sql = format!(
                "INSERT INTO score_histogram (iteration_id, bucket, pages, tokens) VALUES {} \
                 ON CONFLICT (iteration_id, bucket) DO UPDATE SET \
                 pages = score_histogram.pages + excluded.pages, tokens = score_histogram.tokens + excluded.tokens",
                values_clause(self.backend, chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for &(bucket, (pages, tokens)) in chunk {
                q = q.bind(it).bind(bucket).bind(pages).bind(tokens);
            }
            q.execute(&mut *tx).await?;
        }

        let hosts: Vec<_> = hosts.into_iter().collect();
        for chunk in hosts.chunks(MAX_PARAMS / 6) {
            let sql = format!(
                "INSERT INTO host_buckets (iteration_id, host, domain, bucket, pages, tokens) VALUES {} \
                 ON CONFLICT (iteration_id, host, bucket) DO UPDATE SET \
                 pages = host_buckets.pages + excluded.pages, tokens = host_buckets.tokens + excluded.tokens",
                values_clause(self.backend, chunk.len(), 6)
            );
            let mut q = sqlx::query(&sql);
            for &((host, bucket), (domain, pages, tokens)) in chunk {
                q = q
                    .bind(it)
                    .bind(host)
                    .bind(domain)
                    .bind(bucket)
                    .bind(pages)
                    .bind(tokens);
            }
            q.execute(&mut *tx).await?;
        }

        for chunk in skips.chunks(MAX_PARAMS / 3) {
            let sql = format!(
                "INSERT INTO skip_counts (iteration_id, reason, count) VALUES {} \
                 ON CONFLICT (iteration_id, reason) DO UPDATE SET count = skip_counts.count + excluded.count",
                values_clause(self.backend, chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for &(reason, count) in chunk {
                q = q.bind(it).bind(reason).bind(count);
            }
            q.execute(&mut *tx).await?;
        }
        let mut langs: BTreeMap<(&str, i64), (i64, i64)> = BTreeMap::new();
        for l in &result.languages {
            let e = langs.entry((l.lang.as_str(), l.bucket)).or_default();
            e.0 += l.pages;
            e.1 += l.tokens;
        }
        let langs: Vec<_> = langs.into_iter().collect();
        for chunk in langs.chunks(MAX_PARAMS / 5) {
            let sql = format!(
                "INSERT INTO language_buckets (iteration_id, lang, bucket, pages, tokens) VALUES {} \
                 ON CONFLICT (iteration_id, lang, bucket) DO UPDATE SET \
                 pages = language_buckets.pages + excluded.pages, tokens = language_buckets.tokens + excluded.tokens",
                values_clause(self.backend, chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for &((lang, bucket), (pages, tokens)) in chunk {
                q = q.bind(it).bind(lang).bind(bucket).bind(pages).bind(tokens);
            }
            q.execute(&mut *tx).await?;
        }
        let mut host_langs: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
        for h in &result.host_languages {
            let e = host_langs.entry((h.host.as_str(), h.lang.as_str())).or_default();
            e.0 += h.pages;
            e.1 += h.tokens;
        }
        let host_langs: Vec<_> = host_langs.into_iter().collect();
        for chunk in host_langs.chunks(MAX_PARAMS / 5) {
            let sql = format!(
                "INSERT INTO host_languages (iteration_id, host, lang, pages, tokens) VALUES {} \
                 ON CONFLICT (iteration_id, host, lang) DO UPDATE SET \
                 pages = host_languages.pages + excluded.pages, tokens = host_languages.tokens + excluded.tokens",
                values_clause(self.backend, chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for &((host, lang), (pages, tokens)) in chunk {
                q = q.bind(it).bind(host).bind(lang).bind(pages).bind(tokens);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Renews a shard lease for `ttl` from now (a worker's heartbeat while it streams the
    /// shard). `Ok(false)` when the lease is no longer held under `lease.token` (it expired and
    /// another worker took the shard, or the shard was finished): the holder's completion will
    /// be refused. On success `lease.expires_at` moves on.
    pub async fn renew_shard_lease(&self, lease: &mut Lease, ttl: Duration) -> Result<bool, MetastoreError> {
        let expires = now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
        let done = sqlx::query("UPDATE shards SET lease_expires_at = $1 WHERE shard_id = $2 AND iteration_id = $3 AND state = 'leased' AND lease_token = $4")
            .bind(expires)
            .bind(lease.shard_id)
            .bind(lease.iteration_id)
            .bind(lease.token.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        lease.expires_at = from_ms(expires);
        Ok(true)
    }

    /// Ends a failed attempt at a leased shard: with `retry`, the shard goes back to `pending`
    /// (another lease may take it); otherwise it is `failed` for good. Either way `reason` (a
    /// stable snake_case word: `io`, `empty`, `not_warc`, `panic`) and `error` (the message) are
    /// kept, and nothing of the attempt is counted. Errors: `LeaseLost` when the token is no
    /// longer current (nothing is written).
    pub async fn fail_shard(&self, lease: &Lease, reason: &str, error: &str, retry: bool) -> Result<(), MetastoreError> {
        let state = if retry { "pending" } else { "failed" };
        let error = crate::redact::redact_text(error);
        let done = sqlx::query(
            "UPDATE shards SET state = $6, error = $1, failure_reason = $7, lease_token = NULL, lease_expires_at = NULL, \
             finished_at = $2 WHERE shard_id = $3 AND iteration_id = $4 AND state = 'leased' AND lease_token = $5",
        )
        .bind(error.as_str())
        .bind(now_ms())
        .bind(lease.shard_id)
        .bind(lease.iteration_id)
        .bind(lease.token.as_str())
        .bind(state)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Err(MetastoreError::LeaseLost {
                shard_id: lease.shard_id,
            });
        }
        Ok(())
    }

    /// Puts the failed shards of `iteration` back to `pending` with their attempts reset (their
    /// reason and error are kept until they finish again); returns how many.
    pub async fn requeue_failed(&self, iteration: i64) -> Result<u64, MetastoreError> {
        let done = sqlx::query(
            "UPDATE shards SET state = 'pending', attempts = 0 WHERE iteration_id = $1 AND state = 'failed'",
        )
        .bind(iteration)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Shards of `iteration` per state.
    pub async fn shard_counts(&self, iteration: i64) -> Result<ShardCounts, MetastoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM shards WHERE iteration_id = $1 GROUP BY state",
        )
        .bind(iteration)
        .fetch_all(&self.pool)
        .await?;
        let mut c = ShardCounts::default();
        for row in rows {
            let state: String = row.try_get(0)?;
            let n = row.try_get::<i64, _>(1)?.max(0) as u64;
            match state.as_str() {
                "pending" => c.pending = n,
                "leased" => c.leased = n,
                "done" => c.done = n,
                "failed" => c.failed = n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// All shard rows of `iteration`, by id.
    pub async fn shards(&self, iteration: i64) -> Result<Vec<ShardRow>, MetastoreError> {
        let rows = sqlx::query(
            "SELECT shard_id, iteration_id, uri, state, lease_token, lease_expires_at, worker, attempts, \
             error, records, pages, bytes_in, scored_key, finished_at, texts_key, failure_reason FROM shards \
             WHERE iteration_id = $1 ORDER BY shard_id",
        )
        .bind(iteration)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shard_row).collect()
    }

    /// The iteration's merged score histogram: `(bucket, pages, tokens)` by bucket.
    pub async fn histogram(&self, iteration: i64) -> Result<Vec<(i64, i64, i64)>, MetastoreError> {
        let rows = sqlx::query(
            "SELECT bucket, pages, tokens FROM score_histogram WHERE iteration_id = $1 ORDER BY bucket",
        )
        .bind(iteration)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Per-host totals, and the part in buckets `>= min_bucket` (kept), computed in SQL; by host.
    pub async fn host_counts(
        &self,
        iteration: i64,
        min_bucket: i64,
    ) -> Result<Vec<HostCount>, MetastoreError> {
        let rows = sqlx::query(
            "SELECT host, MIN(domain), CAST(SUM(pages) AS BIGINT), CAST(SUM(tokens) AS BIGINT), \
             CAST(SUM(CASE WHEN bucket >= $2 THEN pages ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN bucket >= $2 THEN tokens ELSE 0 END) AS BIGINT) \
             FROM host_buckets WHERE iteration_id = $1 GROUP BY host ORDER BY host",
        )
        .bind(iteration)
        .bind(min_bucket)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HostCount {
                    host: r.try_get(0)?,
                    domain: r.try_get(1)?,
                    pages: r.try_get(2)?,
                    tokens: r.try_get(3)?,
                    kept_pages: r.try_get(4)?,
                    kept_tokens: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Pages and tokens per language of the iteration, with what is kept at `min_bucket` (the
    /// threshold's bucket), sorted by pages, most first (then by code).
    pub async fn language_counts(&self, iteration: i64, min_bucket: i64) -> Result<Vec<LanguageCount>, MetastoreError> {
        let mut by_lang: BTreeMap<String, LanguageCount> = BTreeMap::new();
        let rows = sqlx::query(
            "SELECT lang, CAST(SUM(pages) AS BIGINT), CAST(SUM(tokens) AS BIGINT) FROM host_languages \
             WHERE iteration_id = $1 GROUP BY lang",
        )
        .bind(iteration)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let lang: String = r.try_get(0)?;
            let e = by_lang.entry(lang.clone()).or_insert_with(|| LanguageCount { lang, ..LanguageCount::default() });
            e.pages = r.try_get(1)?;
            e.tokens = r.try_get(2)?;
        }
        let rows = sqlx::query(
            "SELECT lang, CAST(SUM(pages) AS BIGINT), CAST(SUM(tokens) AS BIGINT), \
             CAST(SUM(CASE WHEN bucket >= $2 THEN pages ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN bucket >= $2 THEN tokens ELSE 0 END) AS BIGINT) \
             FROM language_buckets WHERE iteration_id = $1 GROUP BY lang",
        )
        .bind(iteration)
        .bind(min_bucket)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let lang: String = r.try_get(0)?;
            let e = by_lang.entry(lang.clone()).or_insert_with(|| LanguageCount { lang, ..LanguageCount::default() });
            e.scored_pages = r.try_get(1)?;
            e.scored_tokens = r.try_get(2)?;
            e.kept_pages = r.try_get(3)?;
            e.kept_tokens = r.try_get(4)?;
        }
        let mut v: Vec<LanguageCount> = by_lang.into_values().collect();
        v.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.lang.cmp(&b.lang)));
        Ok(v)
    }

    /// Pages per (host, language) of the iteration: every host's languages, most pages first.
    pub async fn host_languages(&self, iteration: i64) -> Result<BTreeMap<String, Vec<(String, i64)>>, MetastoreError> {
        let rows = sqlx::query("SELECT host, lang, pages FROM host_languages WHERE iteration_id = $1")
            .bind(iteration)
            .fetch_all(&self.pool)
            .await?;
        let mut out: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for r in &rows {
            out.entry(r.try_get(0)?).or_default().push((r.try_get(1)?, r.try_get(2)?));
        }
        for langs in out.values_mut() {
            langs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(out)
    }

    /// Skip counts of the iteration per reason.
    pub async fn skip_counts(
        &self,
        iteration: i64,
    ) -> Result<BTreeMap<String, u64>, MetastoreError> {
        let rows = sqlx::query("SELECT reason, count FROM skip_counts WHERE iteration_id = $1")
            .bind(iteration)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<i64, _>(1)?.max(0) as u64,
                ))
            })
            .collect()
    }
}

fn shard_row(r: &AnyRow) -> Result<ShardRow, MetastoreError> {
    Ok(ShardRow {
        shard_id: r.try_get(0)?,
        iteration_id: r.try_get(1)?,
        uri: r.try_get(2)?,
        state: r.try_get(3)?,
        lease_token: r.try_get(4)?,
        lease_expires_at: r.try_get::<Option<i64>, _>(5)?.map(from_ms),
        worker: r.try_get(6)?,
        attempts: r.try_get(7)?,
        error: r.try_get(8)?,
        records: r.try_get(9)?,
        pages: r.try_get(10)?,
        bytes_in: r.try_get(11)?,
        scored_key: r.try_get(12)?,
        finished_at: r.try_get::<Option<i64>, _>(13)?.map(from_ms),
        texts_key: r.try_get(14)?,
        failure_reason: r.try_get(15)?,
    })
}

/// A host proposed for annotation by one iteration: its counts at the iteration's threshold
/// (the paper's "more than 10% of its pages kept" rule, arXiv 2402.03300 §2.1 step 4) and
/// sample kept pages for the annotator to look at.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    /// Host (the domain of the 10% rule), lowercased, without `www.`.
    pub host: String,
    /// Its registrable domain.
    pub domain: String,
    /// Pages of the host scored.
    pub pages: u64,
    /// Pages of the host kept.
    pub kept_pages: u64,
    /// Tokens of the host scored.
    pub tokens: u64,
    /// Tokens of the host kept.
    pub kept_tokens: u64,
    /// `kept_pages / pages`, in [0, 1].
    pub ratio: f64,
    /// Sample kept pages as `(url, score)`, best score first (stored as JSON text).
    pub samples: Vec<(String, f32)>,
}

/// What an annotation says about a URL path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Pages under the prefix hold mathematics.
    Math,
    /// Pages under the prefix do not.
    Nonmath,
}

impl Label {
    /// `math` or `nonmath`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Math => "math",
            Label::Nonmath => "nonmath",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Label {
    type Err = String;

    /// `math`, or `nonmath` (also `non-math`, `non_math`, `not-math`, `not_math`); any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "math" => Ok(Label::Math),
            "nonmath" | "non-math" | "non_math" | "not-math" | "not_math" => Ok(Label::Nonmath),
            other => Err(format!("label {other:?} is not math or nonmath")),
        }
    }
}

/// An annotation to store: `prefix` (already normalised, e.g. `mathoverflow.net/questions`)
/// marked `label` by `annotator` at `created_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnnotation {
    /// Normalised URL path prefix: host without `www.`, lowercased, then the path without a
    /// trailing slash (`mathoverflow.net/questions`), or the host alone.
    pub prefix: String,
    /// Math or not.
    pub label: Label,
    /// Who made it.
    pub annotator: String,
    /// When it was made; a later annotation of the same prefix supersedes an earlier one.
    pub created_at: DateTime<Utc>,
    /// Free text.
    pub note: Option<String>,
    /// An admin's settlement: it decides the prefix whatever the annotators said.
    pub settles: bool,
}

/// A stored annotation (see [`NewAnnotation`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Annotation {
    /// Row id (increases with insertion; breaks ties of `created_at`).
    pub id: i64,
    /// Normalised URL path prefix.
    pub prefix: String,
    /// Math or not.
    pub label: Label,
    /// Who made it.
    pub annotator: String,
    /// When it was made (millisecond precision).
    pub created_at: DateTime<Utc>,
    /// Free text.
    pub note: Option<String>,
    /// An admin's settlement of the prefix.
    pub settles: bool,
}

fn to_i64(what: &str, v: u64) -> Result<i64, MetastoreError> {
    i64::try_from(v).map_err(|_| MetastoreError::OutOfRange(format!("{what}={v}")))
}

fn annotation_row(r: &AnyRow) -> Result<Annotation, MetastoreError> {
    let label: String = r.try_get(2)?;
    Ok(Annotation {
        id: r.try_get(0)?,
        prefix: r.try_get(1)?,
        label: label
            .parse()
            .map_err(|e: String| MetastoreError::Database(sqlx::Error::Decode(e.into())))?,
        annotator: r.try_get(3)?,
        created_at: from_ms(r.try_get(4)?),
        note: r.try_get(5)?,
        settles: r.try_get::<i64, _>(6)? != 0,
    })
}

impl Metastore {
    /// Replaces the proposals of `iteration` with `proposals` (one transaction; a rerun of the
    /// selection leaves no stale host behind). Errors: `NotFound` for a missing iteration,
    /// `OutOfRange` for counts above `i64::MAX`, `Database` (e.g. a host given twice).
    pub async fn save_proposals(
        &self,
        iteration: i64,
        proposals: &[Proposal],
    ) -> Result<(), MetastoreError> {
        self.iteration(iteration).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM proposals WHERE iteration_id = $1")
            .bind(iteration)
            .execute(&mut *tx)
            .await?;
        for chunk in proposals.chunks(MAX_PARAMS / 10) {
            let sql = format!(
                "INSERT INTO proposals (iteration_id, host, domain, pages, kept_pages, tokens, \
                 kept_tokens, ratio, samples) VALUES {}",
                values_clause(self.backend, chunk.len(), 9)
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                let samples = serde_json::to_string(&p.samples).map_err(|e| {
                    MetastoreError::OutOfRange(format!("samples of {}: {e}", p.host))
                })?;
                q = q
                    .bind(iteration)
                    .bind(p.host.clone())
                    .bind(p.domain.clone())
                    .bind(to_i64("pages", p.pages)?)
                    .bind(to_i64("kept_pages", p.kept_pages)?)
                    .bind(to_i64("tokens", p.tokens)?)
                    .bind(to_i64("kept_tokens", p.kept_tokens)?)
                    .bind(p.ratio)
                    .bind(samples);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The proposals of `iteration`, most kept pages first, then highest ratio, then host
    /// (the order of the report's host list). Empty when none were saved.
    pub async fn proposals(&self, iteration: i64) -> Result<Vec<Proposal>, MetastoreError> {
        let rows = sqlx::query(
            "SELECT host, domain, pages, kept_pages, tokens, kept_tokens, ratio, samples \
             FROM proposals WHERE iteration_id = $1 ORDER BY kept_pages DESC, ratio DESC, host",
        )
        .bind(iteration)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let samples: String = r.try_get(7)?;
                Ok(Proposal {
                    host: r.try_get(0)?,
                    domain: r.try_get(1)?,
                    pages: r.try_get::<i64, _>(2)?.max(0) as u64,
                    kept_pages: r.try_get::<i64, _>(3)?.max(0) as u64,
                    tokens: r.try_get::<i64, _>(4)?.max(0) as u64,
                    kept_tokens: r.try_get::<i64, _>(5)?.max(0) as u64,
                    ratio: r.try_get(6)?,
                    samples: serde_json::from_str(&samples)
                        .map_err(|e| MetastoreError::Database(sqlx::Error::Decode(e.into())))?,
                })
            })
            .collect()
    }

    /// Stores annotations in one transaction (all or none); returns their ids in input order.
    /// Earlier annotations of the same prefixes are kept as history.
    pub async fn add_annotations(
        &self,
        annotations: &[NewAnnotation],
    ) -> Result<Vec<i64>, MetastoreError> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(annotations.len());
        for a in annotations {
            let row = sqlx::query(
                "INSERT INTO annotations (prefix, label, annotator, created_at, note, settles) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(a.prefix.as_str())
            .bind(a.label.as_str())
            .bind(a.annotator.as_str())
            .bind(a.created_at.timestamp_millis())
            .bind(a.note.clone())
            .bind(i64::from(a.settles))
            .fetch_one(&mut *tx)
            .await?;
            ids.push(row.try_get::<i64, _>(0)?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Deletes annotation `id` (an undo), when `annotator` made it, or for anyone when
    /// `annotator` is `None` (an admin). The rows it had superseded decide again. Errors:
    /// `NotFound` when there is no such row of that annotator (nothing changes).
    pub async fn delete_annotation(&self, id: i64, annotator: Option<&str>) -> Result<(), MetastoreError> {
        let done = match annotator {
            Some(who) => sqlx::query("DELETE FROM annotations WHERE id = $1 AND annotator = $2").bind(id).bind(who).execute(&self.pool).await?,
            None => sqlx::query("DELETE FROM annotations WHERE id = $1").bind(id).execute(&self.pool).await?,
        };
        if done.rows_affected() == 0 {
            return Err(MetastoreError::NotFound { what: format!("annotation {id}{}", annotator.map(|w| format!(" by {w}")).unwrap_or_default()) });
        }
        Ok(())
    }

    /// Annotations. `history = true`: every row, oldest first (by `created_at`, then id).
    /// `history = false`: the label that decides each prefix, ordered by prefix
    /// ([`decided_labels`]): its latest settlement, else the latest label of each annotator who
    /// labelled it when they all agree (the newest of those rows); a disputed prefix is left out.
    /// With one annotator, the latest row of each prefix.
    pub async fn annotations(&self, history: bool) -> Result<Vec<Annotation>, MetastoreError> {
        let rows = sqlx::query("SELECT id, prefix, label, annotator, created_at, note, settles FROM annotations ORDER BY created_at, id").fetch_all(&self.pool).await?;
        let all: Vec<Annotation> = rows.iter().map(annotation_row).collect::<Result<_, _>>()?;
        Ok(if history { all } else { decided_labels(&all) })
    }
}

/// Each prefix's latest label per annotator, and its latest settlement, from `history` (oldest
/// first): prefix → (annotator → row, settlement).
fn latest_per_annotator(history: &[Annotation]) -> BTreeMap<&str, (BTreeMap<&str, &Annotation>, Option<&Annotation>)> {
    let mut by: BTreeMap<&str, (BTreeMap<&str, &Annotation>, Option<&Annotation>)> = BTreeMap::new();
    for a in history {
        let e = by.entry(a.prefix.as_str()).or_default();
        if a.settles {
            e.1 = Some(a);
        } else {
            e.0.insert(a.annotator.as_str(), a);
        }
    }
    by
}

/// Whether a prefix with these latest labels per annotator and this settlement is disputed: its
/// annotators disagree and no settlement decides it.
fn is_disputed(labels: &BTreeMap<&str, &Annotation>, settled: Option<&Annotation>) -> bool {
    settled.is_none() && labels.values().any(|a| Some(a.label) != labels.values().next().map(|f| f.label))
}

/// The deciding label of each prefix of `history` (every row, oldest first), by prefix: the
/// latest settlement, else the annotators' common label (the newest of their rows); disputed
/// prefixes are left out ([`disputed_prefixes`]).
pub fn decided_labels(history: &[Annotation]) -> Vec<Annotation> {
    latest_per_annotator(history)
        .into_values()
        .filter_map(|(labels, settled)| {
            if let Some(s) = settled {
                return Some(s.clone());
            }
            let first = labels.values().next()?.label;
            labels.values().all(|a| a.label == first).then(|| labels.values().max_by_key(|a| (a.created_at, a.id)).map(|a| (*a).clone())).flatten()
        })
        .collect()
}

/// What one stored annotation does now, under the rules of [`decided_labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationStatus {
    /// It is its prefix's deciding label (the settlement, or the newest of the agreeing labels).
    Deciding,
    /// Its annotator's latest label, agreeing with the deciding one.
    Concurring,
    /// Its annotator's latest label on a prefix that is disputed and not settled: no seed uses it.
    Disputed,
    /// Its annotator's latest label, decided otherwise by a settlement.
    Overruled,
    /// Replaced by a later label of the same annotator, or an older settlement.
    Superseded,
}

impl AnnotationStatus {
    /// The status's name as `annotate list` and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deciding => "deciding",
            Self::Concurring => "concurring",
            Self::Disputed => "disputed",
            Self::Overruled => "overruled",
            Self::Superseded => "superseded",
        }
    }
}

/// The [`AnnotationStatus`] of every row of `history` (every row, oldest first), by id.
pub fn annotation_statuses(history: &[Annotation]) -> HashMap<i64, AnnotationStatus> {
    let deciding: HashSet<i64> = decided_labels(history).iter().map(|a| a.id).collect();
    let mut out: HashMap<i64, AnnotationStatus> = history.iter().map(|a| (a.id, AnnotationStatus::Superseded)).collect();
    for (labels, settled) in latest_per_annotator(history).into_values() {
        let disputed = is_disputed(&labels, settled);
        for a in labels.values() {
            let status = if deciding.contains(&a.id) {
                AnnotationStatus::Deciding
            } else if disputed {
                AnnotationStatus::Disputed
            } else if settled.is_some_and(|s| s.label != a.label) {
                AnnotationStatus::Overruled
            } else {
                AnnotationStatus::Concurring
            };
            out.insert(a.id, status);
        }
        if let Some(s) = settled {
            out.insert(s.id, AnnotationStatus::Deciding);
        }
    }
    out
}

/// A prefix its annotators disagree on, with no settlement yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispute {
    /// The prefix.
    pub prefix: String,
    /// Each annotator's latest label, by annotator.
    pub labels: Vec<(String, Label)>,
}

/// The prefixes of `history` whose annotators disagree and that no settlement decides.
pub fn disputed_prefixes(history: &[Annotation]) -> Vec<Dispute> {
    latest_per_annotator(history)
        .into_iter()
        .filter(|(_, (labels, settled))| is_disputed(labels, *settled))
        .map(|(prefix, (labels, _))| Dispute { prefix: prefix.to_string(), labels: labels.into_iter().map(|(who, a)| (who.to_string(), a.label)).collect() })
        .collect()
}

/// Agreement of two annotators on the prefixes both labelled (their latest labels).
#[derive(Debug, Clone, PartialEq)]
pub struct PairAgreement {
    /// One annotator.
    pub a: String,
    /// The other (after `a` in name order).
    pub b: String,
    /// Prefixes both labelled.
    pub prefixes: u64,
    /// Of those, prefixes they gave the same label.
    pub agreed: u64,
    /// Cohen's kappa (Cohen 1960): (p_o − p_e) / (1 − p_e), p_o the share agreed and p_e the
    /// agreement their label rates give by chance; `None` when p_e is 1 (both gave one label
    /// only) and kappa is undefined.
    pub kappa: Option<f64>,
}

/// [`PairAgreement`] of every pair of annotators of `history` that labelled a prefix in common.
pub fn pair_agreement(history: &[Annotation]) -> Vec<PairAgreement> {
    let by = latest_per_annotator(history);
    let mut pairs: BTreeMap<(&str, &str), Vec<(Label, Label)>> = BTreeMap::new();
    for (labels, _) in by.values() {
        let list: Vec<(&str, Label)> = labels.iter().map(|(w, a)| (*w, a.label)).collect();
        for i in 0..list.len() {
            for j in i + 1..list.len() {
                pairs.entry((list[i].0, list[j].0)).or_default().push((list[i].1, list[j].1));
            }
        }
    }
    pairs
        .into_iter()
        .map(|((a, b), labels)| {
            let n = labels.len() as f64;
            let agreed = labels.iter().filter(|(x, y)| x == y).count();
            let math_a = labels.iter().filter(|(x, _)| *x == Label::Math).count() as f64 / n;
            let math_b = labels.iter().filter(|(_, y)| *y == Label::Math).count() as f64 / n;
            let po = agreed as f64 / n;
            let pe = math_a * math_b + (1.0 - math_a) * (1.0 - math_b);
            let kappa = ((1.0 - pe).abs() > 1e-12).then(|| (po - pe) / (1.0 - pe));
            PairAgreement { a: a.to_string(), b: b.to_string(), prefixes: labels.len() as u64, agreed: agreed as u64, kappa }
        })
        .collect()
}
