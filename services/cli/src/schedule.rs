//! `corpusminer schedule add|list|remove|runs`: the schedules `serve` runs, written straight
//! into the metastore (like `admin token`), checked by the same rules as
//! `POST /api/v1/schedules` ([`corpusminer_coordinator::scheduler::check_schedule`]).

use crate::domains::StoreArgs;
use clap::{Args, Subcommand};
use corpusminer_api::control::RunRequest;
use corpusminer_coordinator::scheduler::{check_schedule, next_run, schedule_statuses, ScheduleStatus};
use corpusminer_storage::metastore::schedules::{JobKind, ScheduleSpec};

/// `corpusminer schedule …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: a job kind on a cron expression in a time zone. Every `serve` on this
    /// metastore ticks it; each slot runs once across them.
    Add(ScheduleAddArgs),
    /// Every schedule: id, name, kind, cron, time zone, next run, latest run.
    List(StoreArgs),
    /// Remove a schedule by id (its runs' rows go; the iterations it started stay).
    Remove(ScheduleRemoveArgs),
    /// Runs of the schedules, newest first: slot, state, attempts, outcome or error.
    Runs(ScheduleRunsArgs),
}

/// Arguments of `schedule add`.
#[derive(Debug, Args)]
pub struct ScheduleAddArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Unique name.
    #[arg(long)]
    pub name: String,
    /// `mine-new-crawl` (start an iteration on the newest crawl of --crawl-base's
    /// collinfo.json not mined yet, from --template), `next-when-labelled` (the next iteration
    /// of --chain once every host it proposed has a decided label), `expire-leases` (hand
    /// expired shard leases back), `train` (a `corpusminer train` process on the corpus of
    /// --chain's newest done iteration, once per iteration, with --template's choices).
    #[arg(long)]
    pub kind: JobKind,
    /// Cron expression, 5 fields (`min hour day month weekday`) or 6 with seconds first:
    /// `0 3 * * *` is 03:00 every day.
    #[arg(long)]
    pub cron: String,
    /// IANA time zone the expression is read in.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// mine-new-crawl: a JSON file holding the `POST /api/v1/iterations` body without inputs
    /// (seed, negatives, settings, shards); train: a JSON object of `corpusminer train` flags
    /// in snake_case (size, steps, seed, …).
    #[arg(long, value_name = "FILE")]
    pub template: Option<std::path::PathBuf>,
    /// mine-new-crawl: where collinfo.json and crawl-data/ are (https://data.commoncrawl.org,
    /// s3://commoncrawl, or a mirror folder).
    #[arg(long, value_name = "URI")]
    pub crawl_base: Option<String>,
    /// next-when-labelled, train: an iteration of the chain to follow.
    #[arg(long, value_name = "ITERATION")]
    pub chain: Option<i64>,
}

/// Arguments of `schedule remove`.
#[derive(Debug, Args)]
pub struct ScheduleRemoveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The schedule's id (`schedule list`).
    pub id: i64,
}

/// Arguments of `schedule runs`.
#[derive(Debug, Args)]
pub struct ScheduleRunsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this schedule's runs.
    #[arg(long, value_name = "ID")]
    pub schedule: Option<i64>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// The choices a template of `kind` may hold: the fields of `POST /iterations`, or (`train`)
/// the flags of `corpusminer train` the job does not set.
fn template_keys(store: &StoreArgs, kind: JobKind) -> Vec<String> {
    let flags = crate::run_request::RunFlags { out: store.out.clone(), db: store.db.clone(), workers: 1, s3_endpoint: None };
    match kind {
        JobKind::Train => flags.train_keys(),
        _ => flags.schema()["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default(),
    }
}

/// Runs `schedule …`; returns what to print.
pub async fn schedule(cmd: ScheduleCommand) -> anyhow::Result<String> {
    match cmd {
        ScheduleCommand::Add(a) => {
            let template = match &a.template {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--template {}: {e}", path.display()))?;
                    Some(serde_json::from_str::<serde_json::Value>(&text).map_err(|e| anyhow::anyhow!("--template {} is not JSON: {e}", path.display()))?)
                }
                None => None,
            };
            let by = std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into());
            let spec = ScheduleSpec { name: a.name.trim().to_string(), kind: a.kind, cron: a.cron.trim().to_string(), timezone: a.timezone.clone(), template, crawl_base: a.crawl_base.clone(), chain: a.chain, created_by: by };
            let flag = |(field, message): (String, String)| anyhow::anyhow!("--{}: {message}", field.split('.').next().unwrap_or(&field).replace('_', "-"));
            check_schedule(&spec, &template_keys(&a.store, a.kind)).map_err(flag)?;
            let run_request = std::sync::Arc::new(crate::run_request::RunFlags { out: a.store.out.clone(), db: a.store.db.clone(), workers: 1, s3_endpoint: std::env::var("CORPUSMINER_S3_ENDPOINT").ok() });
            let mut storage = corpusminer_storage::StorageConfig::default();
            storage.s3_endpoint = std::env::var("CORPUSMINER_S3_ENDPOINT").ok();
            corpusminer_api::scheduler::check_template(run_request, &spec, &storage).await.map_err(flag)?;
            let ms = a.store.connect(false).await?;
            let added = async {
                if let Some(chain) = spec.chain {
                    ms.iteration(chain).await.map_err(|_| anyhow::anyhow!("--chain {chain}: no such iteration (`corpusminer status {}` lists them)", a.store.flags()))?;
                }
                Ok::<_, anyhow::Error>(ms.add_schedule(&spec).await?)
            }
            .await;
            ms.close().await;
            let s = added?;
            let next = next_run(&s.spec, chrono::Utc::now().timestamp_millis());
            Ok(format!("schedule {} {:?} added: {} on `{}` ({}), next run {}\n", s.id, s.spec.name, s.spec.kind, s.spec.cron, s.spec.timezone, next.map_or("never".into(), when)))
        }
        ScheduleCommand::List(store) => {
            let ms = store.connect(true).await?;
            let listed = schedule_statuses(&ms).await;
            ms.close().await;
            let rows = listed?;
            if rows.is_empty() {
                return Ok(format!("no schedules: add one with `corpusminer schedule add {} --name NAME --kind KIND --cron EXPR`\n", store.flags()));
            }
            let mut out = format!("{:>4}  {:<20} {:<19} {:<16} {:<14} {:<24} {}\n", "id", "name", "kind", "cron", "timezone", "next run", "latest run");
            for ScheduleStatus { schedule: s, next_run_ms, last_run: last } in rows {
                let next = next_run_ms.map_or("never".into(), when);
                let last = last.map_or("-".into(), |r| format!("{} {}: {}", when(r.slot_ms), r.state.as_str(), r.error.or(r.outcome).unwrap_or_default()));
                out += &format!("{:>4}  {:<20} {:<19} {:<16} {:<14} {:<24} {}\n", s.id, s.spec.name, s.spec.kind.as_str(), s.spec.cron, s.spec.timezone, next, last);
            }
            Ok(out)
        }
        ScheduleCommand::Remove(a) => {
            let ms = a.store.connect(true).await?;
            let done = ms.remove_schedule(a.id).await;
            ms.close().await;
            done.map_err(|e| anyhow::anyhow!("{e}: `corpusminer schedule list {}` shows the schedules", a.store.flags()))?;
            Ok(format!("schedule {} removed\n", a.id))
        }
        ScheduleCommand::Runs(a) => {
            let ms = a.store.connect(true).await?;
            let runs = async {
                if let Some(id) = a.schedule {
                    ms.schedule(id).await.map_err(|e| anyhow::anyhow!("--schedule {id}: {e}: `corpusminer schedule list {}` shows the schedules", a.store.flags()))?;
                }
                Ok::<_, anyhow::Error>(ms.job_runs(a.schedule, a.limit).await?)
            }
            .await;
            ms.close().await;
            let runs = runs?;
            if runs.is_empty() {
                return Ok("no runs yet: a schedule runs when a `corpusminer serve` on this metastore ticks at its slot\n".into());
            }
            let mut out = format!("{:>5}  {:<20} {:<24} {:<10} {:>8}  {:<24} {}\n", "run", "schedule", "slot", "state", "attempts", "claimed by", "outcome");
            for r in runs {
                let what = match (&r.error, &r.outcome, r.next_retry_at_ms) {
                    (Some(e), _, Some(t)) => format!("{e} (retry at {})", when(t)),
                    (Some(e), _, None) => e.clone(),
                    (None, Some(o), _) => o.clone(),
                    (None, None, _) => String::new(),
                };
                out += &format!("{:>5}  {:<20} {:<24} {:<10} {:>8}  {:<24} {}\n", r.id, r.schedule, when(r.slot_ms), r.state.as_str(), r.attempts, r.claimed_by, what);
            }
            Ok(out)
        }
    }
}
