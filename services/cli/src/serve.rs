//! `corpusminer serve` (the HTTP API of `services/api`) and `corpusminer admin token …` (the
//! bearer tokens it accepts).

use crate::domains::StoreArgs;
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};
use corpusminer_storage::Role;
use std::net::SocketAddr;

/// Arguments of `corpusminer serve`. Each setting comes from its flag, else its environment
/// variable, else `--config`, else its default ([`ServeConfig`]).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML file of these settings, keys named like the flags in snake_case (`listen`, `out`,
    /// `db`, `workers`, `lease_ttl`, `s3_endpoint`, `retries`, `max_attempts`,
    /// `scheduler_tick`, `job_retry_base`).
    #[arg(long, value_name = "FILE", env = "CORPUSMINER_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Metastore: sqlite://FILE or postgres://USER@HOST/DB. Default: SQLite in --out.
    #[arg(long, env = "CORPUSMINER_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// Output folder (or s3:// prefix with --db) of the iterations started here. Default: `out`.
    #[arg(long)]
    pub out: Option<String>,
    /// Address to listen on (`0.0.0.0:8080` for every interface). Default: 127.0.0.1:8080.
    #[arg(long, env = "CORPUSMINER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Shards scored at once per iteration by this process's workers. Default: all cores.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: Option<u64>,
    /// Seconds an iteration lease lasts unless renewed (every third of it): a replica takes an
    /// iteration over this long after its driver stopped. Default: 30.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_ttl: Option<u64>,
    /// S3 endpoint for S3-compatible servers (path-style addressing).
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
    /// Seconds between scheduler ticks: each tick runs the schedules' due slots and failed
    /// runs' due retries (claimed once across replicas) and sends due webhook deliveries.
    /// Default: 5.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub scheduler_tick: Option<f64>,
    /// Seconds before the first retry of a failed job run or webhook delivery, doubled per
    /// attempt (at most an hour). Default: 30.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub job_retry_base: Option<f64>,
}

/// Seconds in [0.05, 86400]: a shorter tick or retry would only spin.
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.05..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in [0.05, 86400]")),
    }
}

/// The settings of `serve`, resolved (flags, then environment, then `--config`, then defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address listened on.
    pub listen: SocketAddr,
    /// Output folder of the iterations started here.
    pub out: String,
    /// Metastore URL; `None`: SQLite in `out`.
    pub db: Option<String>,
    /// Shards scored at once per iteration.
    pub workers: usize,
    /// Iteration lease time, seconds.
    pub lease_ttl: u64,
    /// S3 endpoint.
    pub s3_endpoint: Option<String>,
    /// Retries of a broken shard stream within one attempt.
    pub retries: u32,
    /// Attempts at a shard before it is failed.
    pub max_attempts: u32,
    /// Seconds between scheduler ticks.
    pub scheduler_tick: f64,
    /// Seconds before the first retry of a failed job run or webhook delivery.
    pub job_retry_base: f64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            out: "out".into(),
            db: None,
            workers: crate::iterate::default_workers(None),
            lease_ttl: corpusminer_coordinator::driver::DEFAULT_LEASE_TTL.as_secs(),
            s3_endpoint: None,
            retries: 8,
            max_attempts: 3,
            scheduler_tick: 5.0,
            job_retry_base: 30.0,
        }
    }
}

impl ServeArgs {
    /// The resolved settings. Errors: an unreadable `--config`, unknown keys or bad values in it.
    pub fn resolve(&self) -> anyhow::Result<ServeConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--config {}: {e}", path.display()))?;
                toml::from_str::<ServeConfig>(&text).map_err(|e| anyhow::anyhow!("--config {}: {e}", path.display()))?
            }
            None => ServeConfig::default(),
        };
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = &self.out {
            c.out = v.clone();
        }
        if self.db.is_some() {
            c.db = self.db.clone();
        }
        if let Some(v) = self.workers {
            c.workers = v as usize;
        }
        if let Some(v) = self.lease_ttl {
            c.lease_ttl = v;
        }
        if self.s3_endpoint.is_some() {
            c.s3_endpoint = self.s3_endpoint.clone();
        }
        if let Some(v) = self.scheduler_tick {
            c.scheduler_tick = v;
        }
        if let Some(v) = self.job_retry_base {
            c.job_retry_base = v;
        }
        anyhow::ensure!(c.workers > 0 && c.lease_ttl > 0 && c.max_attempts > 0 && c.retries > 0, "workers, lease_ttl, retries and max_attempts must be at least 1");
        for (name, v) in [("scheduler_tick", c.scheduler_tick), ("job_retry_base", c.job_retry_base)] {
            positive_seconds(&v.to_string()).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        }
        Ok(c)
    }
}

impl ServeConfig {
    /// The settings as printed at start: the database URL without its password.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("the config serialises");
        if let Some(db) = &self.db {
            v["db"] = serde_json::Value::String(corpusminer_storage::redact_uri(db));
        }
        v
    }

    fn store(&self) -> StoreArgs {
        StoreArgs { db: self.db.clone(), out: self.out.clone() }
    }
}

/// `corpusminer admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Bearer tokens of `serve`: create (printed once; only its SHA-256 is stored), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `corpusminer admin token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (it cannot be shown again: store it now).
    Create(TokenCreateArgs),
    /// Every token: id, name, role, created, revoked.
    List(StoreArgs),
    /// Revoke a token by id: it stops working at once, on every replica.
    Revoke(TokenRevokeArgs),
}

/// Arguments of `admin token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// What it may do: `admin` (everything), `annotator` (read and annotate), `worker` (lease
    /// and report shards).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["admin", "annotator", "worker"]).map(|s| s.parse::<Role>().expect("a listed role")))]
    pub role: Role,
    /// Who holds it: recorded as the annotator of what it writes.
    #[arg(long)]
    pub name: String,
}

/// Arguments of `admin token revoke`.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The token's id (`admin token list`).
    pub id: i64,
}

/// Runs `admin …`; returns what to print.
pub async fn admin(cmd: AdminCommand) -> anyhow::Result<String> {
    match cmd {
        AdminCommand::Token(TokenCommand::Create(a)) => {
            anyhow::ensure!(!a.name.trim().is_empty(), "--name is empty: name the person or service the token is for");
            let ms = a.store.connect(false).await?;
            let made = ms.create_token(&a.name, a.role).await;
            ms.close().await;
            let (row, token) = made?;
            Ok(format!("{token}\n# token {} for {:?}, role {}: shown once, only its SHA-256 is stored\n", row.id, row.name, row.role))
        }
        AdminCommand::Token(TokenCommand::List(store)) => {
            let ms = store.connect(true).await?;
            let tokens = ms.tokens().await;
            ms.close().await;
            let tokens = tokens?;
            if tokens.is_empty() {
                return Ok(format!("no tokens: make one with `corpusminer admin token create {} --role admin --name NAME`\n", store.flags()));
            }
            let when = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
            let mut out = format!("{:>4}  {:<24} {:<10} {:<24} {}\n", "id", "name", "role", "created", "revoked");
            for t in tokens {
                out += &format!("{:>4}  {:<24} {:<10} {:<24} {}\n", t.id, t.name, t.role.as_str(), when(t.created_at_ms), t.revoked_at_ms.map_or("-".to_string(), when));
            }
            Ok(out)
        }
        AdminCommand::Token(TokenCommand::Revoke(a)) => {
            let ms = a.store.connect(true).await?;
            let done = ms.revoke_token(a.id).await;
            ms.close().await;
            done.map_err(|e| anyhow::anyhow!("{e}: `corpusminer admin token list {}` shows the tokens", a.store.flags()))?;
            Ok(format!("token {} revoked\n", a.id))
        }
    }
}

/// A line on stdout; a closed stdout (a daemon's, a pipe whose reader left) is no reason to stop.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs `serve` until SIGINT or SIGTERM: the API, the drives of the iterations started here,
/// a supervisor that picks up active iterations nobody drives, and the scheduler (schedules'
/// due slots, retries, webhook deliveries). On the signal the requests
/// in flight finish, the drives stop and hand their shard and iteration leases back.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.resolve()?;
    let store = cfg.store();
    say!("corpusminer serve: config {}", cfg.redacted());
    let ms = store.connect(false).await?;
    tracing::info!(db = %ms.redacted_url(), out = %cfg.out, listen = %cfg.listen, "corpusminer serve");
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    say!("corpusminer serve: listening on http://{addr} (API under /api/v1, document at /api/v1/openapi.json, metrics at /metrics)");
    if ms.tokens().await?.iter().all(|t| t.revoked_at_ms.is_some()) {
        say!("no valid token yet: make one with `corpusminer admin token create {} --role admin --name NAME`", store.flags());
    }
    let storage = cfg.s3_endpoint.as_ref().map(|e| {
        let mut s = corpusminer_storage::StorageConfig::default();
        s.s3_endpoint = Some(e.clone());
        s
    });
    let out = crate::iterate::out_override(&cfg.out, cfg.db.as_deref());
    let lease_ttl = std::time::Duration::from_secs(cfg.lease_ttl);
    let holder = format!("{}:{}", crate::run::hostname(), std::process::id());
    let drivers = corpusminer_api::drivers::Drivers::new(
        ms.clone(),
        corpusminer_api::drivers::DriverSettings {
            workers: cfg.workers,
            retries: cfg.retries,
            max_attempts: cfg.max_attempts,
            lease_ttl,
            out: out.clone(),
            storage: storage.clone(),
            holder: holder.clone(),
        },
    );
    let run_request = crate::run_request::RunFlags { out: cfg.out.clone(), db: cfg.db.clone(), workers: cfg.workers, s3_endpoint: cfg.s3_endpoint.clone() };
    let control = std::sync::Arc::new(corpusminer_api::control::Control { drivers: drivers.clone(), run_request: std::sync::Arc::new(run_request) });
    let mut root_storage = corpusminer_storage::StorageConfig::default();
    root_storage.s3_endpoint = cfg.s3_endpoint.clone();
    let output = corpusminer_storage::resolve_root(&cfg.out, &root_storage).map_err(|e| anyhow::anyhow!("--out {}: {e}", cfg.out))?;
    let scheduler = corpusminer_api::scheduler::SchedulerSettings {
        tick: std::time::Duration::from_secs_f64(cfg.scheduler_tick),
        retry_base: std::time::Duration::from_secs_f64(cfg.job_retry_base),
        holder,
        converge: corpusminer_storage::metastore::schedules::CONVERGED_RETENTION,
        storage: storage.clone().unwrap_or_default(),
        exe: std::env::current_exe().map_err(|e| anyhow::anyhow!("finding this binary (train jobs start it): {e}"))?,
    };
    let state = corpusminer_api::ApiState { metastore: ms.clone(), out, storage, control: Some(control.clone()), output: Some(output) };
    let supervisor = tokio::spawn(drivers.clone().supervise((lease_ttl / 2).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(10))));
    let scheduler = tokio::spawn(corpusminer_api::scheduler::run(ms.clone(), control, scheduler));
    let served = corpusminer_api::serve(listener, state, shutdown_signal()).await;
    scheduler.abort();
    supervisor.abort();
    served?;
    let stopped = drivers.shutdown().await;
    if !stopped.is_empty() {
        say!("corpusminer serve: stopped driving iterations {stopped:?}; their leases are handed back (a restarted serve or a replica goes on)");
    }
    ms.close().await;
    say!("corpusminer serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use crate::{Cli, Command};
    use clap::Parser;

    fn resolve(argv: &[&str]) -> anyhow::Result<super::ServeConfig> {
        let mut all = vec!["corpusminer", "serve"];
        all.extend(argv);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Serve(a) => a.resolve(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_win_over_the_config_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nout = \"s3://bucket/mined\"\ndb = \"postgres://cm:hunter2@db/cm\"\nworkers = 3\nlease_ttl = 10\n").unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(&["--config", f]).unwrap();
        assert_eq!((c.listen.to_string().as_str(), c.out.as_str(), c.workers, c.lease_ttl, c.max_attempts), ("0.0.0.0:9000", "s3://bucket/mined", 3, 10, 3));
        let c = resolve(&["--config", f, "--workers", "5", "--listen", "127.0.0.1:1"]).unwrap();
        assert_eq!((c.workers, c.listen.port(), c.lease_ttl), (5, 1, 10));
        let shown = c.redacted().to_string();
        assert!(!shown.contains("hunter2") && shown.contains("db"), "the password never shows: {shown}");
        let d = resolve(&[]).unwrap();
        // (`db` is not checked: another test of this binary sets CORPUSMINER_DB for a moment.)
        assert_eq!((d.listen.to_string().as_str(), d.out.as_str()), ("127.0.0.1:8080", "out"));
        std::fs::write(&file, "workers = 2\nlisten_on = \"x\"\n").unwrap();
        let e = resolve(&["--config", f]).unwrap_err().to_string();
        assert!(e.contains("listen_on") && e.contains("serve.toml"), "unknown keys are refused by name: {e}");
        std::fs::write(&file, "workers = 0\n").unwrap();
        assert!(resolve(&["--config", f]).is_err(), "0 workers is refused");
        std::fs::write(&file, "scheduler_tick = 0.5\njob_retry_base = 2\n").unwrap();
        let c = resolve(&["--config", f, "--job-retry-base", "1.5"]).unwrap();
        assert_eq!((c.scheduler_tick, c.job_retry_base), (0.5, 1.5));
        assert_eq!((d.scheduler_tick, d.job_retry_base), (5.0, 30.0));
        std::fs::write(&file, "scheduler_tick = -1\n").unwrap();
        assert!(resolve(&["--config", f]).unwrap_err().to_string().contains("scheduler_tick"), "a negative tick is refused by name");
        assert!(Cli::try_parse_from(["corpusminer", "serve", "--scheduler-tick", "0"]).is_err());
        assert!(resolve(&["--config", "/nonexistent.toml"]).unwrap_err().to_string().contains("/nonexistent.toml"));
    }
}
