//! The loop's commands (DESIGN.md steps 4–7): `iterate` (the next iteration, or iterations
//! until retention converges), `resume` (an iteration a killed or failed process left),
//! `cancel`, `delete` (rows and files) and `status` (the chain at a glance).

use crate::domains::StoreArgs;
use clap::Args;
use corpusminer_coordinator::{create_next, drive, DriveOptions, Outcome, Report, RunConfig};
use corpusminer_storage::metastore::{Iteration, IterationState, Metastore};
use corpusminer_storage::{redact_uri, StorageConfig};
use indicatif::ProgressBar;
use std::fmt::Write as _;

/// How this process scores: worker threads, retries, and the object-store endpoint when it
/// differs from the one recorded (credentials always come from the environment).
#[derive(Debug, Clone, Args)]
pub struct DriveArgs {
    /// Worker threads (shards scored at once). Default: all cores.
    #[arg(long, value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Attempts to resume a broken shard stream (within one attempt at the shard).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub retries: u32,
    /// Attempts at a shard whose stream breaks for good before it is failed (each failed
    /// attempt puts it back in the queue). An empty or non-WARC shard fails at once.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// S3 endpoint instead of the recorded one (an S3-compatible server).
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

/// How the printed summary is shown (the stored report does not change).
#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    /// List only proposed hosts with at least this many scored pages in the summary (the
    /// proposals stored and the kept-ratio rule do not change; `domains list` shows all).
    #[arg(long, value_name = "N", default_value_t = corpusminer_coordinator::report::DEFAULT_MIN_HOST_PAGES)]
    pub min_host_pages: u64,
}

/// Arguments of `corpusminer iterate`.
#[derive(Debug, Clone, Args)]
pub struct IterateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub drive: DriveArgs,
    /// Grow from this iteration (default: the newest one, which must be finished).
    #[arg(long, value_name = "N")]
    pub from: Option<i64>,
    /// Keep iterating until retention reaches --converge, --max-iterations is reached, or new
    /// proposals wait for annotation.
    #[arg(long)]
    pub until_converged: bool,
    /// Retention (pages and tokens) at which the loop has converged (the paper's 98%), in (0, 1].
    #[arg(long, default_value_t = 0.98, value_name = "SHARE", value_parser = parse_share)]
    pub converge: f64,
    /// Most iterations in the chain, the first included (the paper ran 4).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_iterations: u64,
}

/// Arguments of `corpusminer resume`.
#[derive(Debug, Clone, Args)]
pub struct ResumeArgs {
    /// The iteration (default: the newest one that is unfinished or failed).
    pub iteration: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// Arguments of `corpusminer cancel`.
#[derive(Debug, Clone, Args)]
pub struct IterationArgs {
    /// The iteration.
    pub iteration: i64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `corpusminer delete`.
#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// The iteration.
    pub iteration: i64,
    /// Also delete every iteration grown from it, and from those (the chain below it). Without
    /// it, an iteration that has children is refused.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `corpusminer status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Show this iteration in detail (default: a table of all).
    pub iteration: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 workers would score nothing: give at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a share in (0, 1]"))
    }
}

/// The output folder this process acts on, replacing the recorded one: without `--db` the
/// metastore is the SQLite file inside `--out`, so `--out` is where the folder is now (it may
/// have been moved or copied: every file is recorded relative to it). With `--db`, the folder
/// recorded with the iteration.
pub(crate) fn out_override(out: &str, db: Option<&str>) -> Option<String> {
    if db.is_some() || out.contains("://") {
        return None;
    }
    let path = std::path::Path::new(out.strip_prefix("file://").unwrap_or(out));
    Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string())
}

/// Drive options for this process.
pub(crate) fn drive_options(workers: usize, retries: u32, max_attempts: u32, reclaim_leases: bool, out: Option<String>) -> DriveOptions {
    let mut opts = DriveOptions::new(workers, retries, max_attempts, format!("{}:{}", crate::run::hostname(), std::process::id()));
    opts.reclaim_leases = reclaim_leases;
    opts.out = out;
    opts
}

/// `w`, else one worker per core.
pub(crate) fn default_workers(w: Option<usize>) -> usize {
    w.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

impl DriveArgs {
    /// The [`DriveOptions`] of these flags, for the output folder of `store`.
    pub(crate) fn options(&self, reclaim_leases: bool, store: &StoreArgs) -> DriveOptions {
        let mut opts = drive_options(default_workers(self.workers), self.retries, self.max_attempts, reclaim_leases, out_override(&store.out, store.db.as_deref()));
        opts.store_flags = store.flags();
        opts
    }
}

/// The recorded object-store settings of `it`, with `--s3-endpoint` when given.
fn storage_for(it: &Iteration, args: &DriveArgs) -> anyhow::Result<Option<StorageConfig>> {
    let Some(endpoint) = &args.s3_endpoint else { return Ok(None) };
    let cfg: RunConfig = serde_json::from_str(&it.config_json)?;
    let mut storage = cfg.storage;
    storage.s3_endpoint = Some(endpoint.clone());
    Ok(Some(storage))
}

/// [`drive`], showing its progress when `show`: on a terminal a spinner with the step and
/// sub-step, then the shard bar (with pages/s and ETA); otherwise progress lines in the log
/// ([`crate::progress`]).
pub(crate) async fn drive_shown(ms: &Metastore, id: i64, storage: Option<StorageConfig>, opts: DriveOptions, show: bool) -> anyhow::Result<Outcome> {
    use std::io::IsTerminal;
    let tty = show && std::io::stderr().is_terminal();
    let bar = if tty { ProgressBar::new(0) } else { ProgressBar::hidden() };
    let scoring = crate::progress::SharedScoring::default();
    let ticker = tokio::spawn(crate::progress::show(bar.clone(), opts.progress.clone(), id, show && !tty, scoring.clone()));
    let outcome = drive(ms, id, storage.as_ref(), &opts).await;
    ticker.abort();
    let _ = ticker.await;
    crate::progress::done(&opts.progress, id, show && !tty, &scoring);
    bar.finish_and_clear();
    outcome
}

/// What an outcome means for the person at the terminal.
fn outcome_text(o: &Outcome, store: &StoreArgs, summary: &SummaryArgs) -> String {
    let mut s = String::new();
    if let Some(r) = &o.report {
        let _ = writeln!(s, "{}", r.summary(summary.min_host_pages));
    }
    let loc = store.flags();
    match o.state {
        IterationState::AwaitingAnnotation => {
            let _ = writeln!(
                s,
                "iteration {} awaits annotation: see `corpusminer domains list {loc}`, label prefixes with `corpusminer annotate import FILE {loc}`, then `corpusminer iterate {loc}`",
                o.iteration
            );
        }
        state => {
            let _ = writeln!(s, "iteration {} is {state}", o.iteration);
        }
    }
    s
}

/// The newest finished iteration, or why there is none to grow from.
async fn newest_parent(ms: &Metastore, store: &StoreArgs) -> anyhow::Result<i64> {
    let Some(id) = ms.latest_iteration().await? else {
        anyhow::bail!("no iteration yet: start one with `corpusminer run`");
    };
    let it = ms.iteration(id).await?;
    match IterationState::parse(&it.state) {
        Some(s) if s.is_done() => Ok(id),
        Some(s) if s.is_active() || s == IterationState::Failed => {
            if let Some(runner) = corpusminer_coordinator::driver::lease_holder_alive(&it, &crate::run::hostname()) {
                anyhow::bail!("iteration {id} is {s}, run by process {runner}: wait for it (or cancel it) first");
            }
            anyhow::bail!("iteration {id} is {s}: finish it with `corpusminer resume {id} {}` (or cancel it) first", store.flags())
        }
        _ => anyhow::bail!("iteration {id} is {}: give --from N to grow from an earlier one", it.state),
    }
}

/// `corpusminer iterate`: prints each iteration's report and why the loop stopped.
pub async fn iterate(args: IterateArgs, show_progress: bool) -> anyhow::Result<(String, Vec<Report>)> {
    let ms = args.store.connect(true).await?;
    let mut parent = match args.from {
        Some(p) => p,
        None => newest_parent(&ms, &args.store).await?,
    };
    let (mut text, mut reports) = (String::new(), Vec::new());
    loop {
        let pit = ms.iteration(parent).await?;
        let depth = corpusminer_coordinator::driver::depth(&ms, &pit).await?;
        if args.until_converged && depth >= args.max_iterations {
            let _ = writeln!(text, "stopped: iteration {parent} is number {depth} of its chain (--max-iterations {})", args.max_iterations);
            break;
        }
        let storage = storage_for(&pit, &args.drive)?;
        let id = create_next(&ms, parent).await?;
        tracing::info!(iteration = id, parent, "next iteration created");
        let opts = args.drive.options(false, &args.store);
        let outcome = drive_shown(&ms, id, storage, opts, show_progress).await?;
        text.push_str(&outcome_text(&outcome, &args.store, &args.drive.summary));
        let converged = outcome.report.as_ref().and_then(|r| r.convergence.as_ref()).map(|c| c.converged(args.converge));
        if let Some(r) = outcome.report.clone() {
            reports.push(r);
        }
        if args.until_converged && converged == Some(true) {
            let _ = writeln!(text, "converged: retention reached {} at iteration {id}", args.converge);
            break;
        }
        if !args.until_converged || outcome.state != IterationState::Complete {
            break;
        }
        parent = id;
    }
    ms.close().await;
    Ok((text, reports))
}

/// `corpusminer resume`: runs an unfinished or failed iteration to its end.
pub async fn resume(args: ResumeArgs, show_progress: bool) -> anyhow::Result<(String, Option<Report>)> {
    let ms = args.store.connect(true).await?;
    let id = match args.iteration {
        Some(id) => id,
        None => {
            let mut found = None;
            for id in ms.iteration_ids().await?.into_iter().rev() {
                let resumable = match IterationState::parse(&ms.iteration(id).await?.state) {
                    Some(s) if s.is_done() => s.is_resumable(ms.shard_counts(id).await?.failed),
                    Some(s) => s.is_resumable(0),
                    None => false,
                };
                if resumable {
                    found = Some(id);
                    break;
                }
            }
            found.ok_or_else(|| {
                let loc = args.store.flags();
                anyhow::anyhow!("no iteration to resume in {loc}: none is unfinished, failed or missing failed shards (`corpusminer status {loc}` lists them)")
            })?
        }
    };
    let requeued = ms.reopen_failed_shards(id).await?;
    if requeued > 0 {
        tracing::info!(iteration = id, shards = requeued, "failed shards back in the queue; scoring them and selecting again");
    }
    let it = ms.iteration(id).await?;
    let storage = storage_for(&it, &args.drive)?;
    tracing::info!(iteration = id, state = %it.state, "resuming");
    let opts = args.drive.options(true, &args.store);
    let outcome = drive_shown(&ms, id, storage, opts, show_progress).await;
    ms.close().await;
    let outcome = outcome?;
    Ok((outcome_text(&outcome, &args.store, &args.drive.summary), outcome.report))
}

/// `corpusminer cancel N`.
pub async fn cancel(args: IterationArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let was = ms.cancel_iteration(args.iteration).await;
    ms.close().await;
    let was = was?;
    Ok(format!("iteration {} cancelled (was {was}); a process running it stops at its next shard or step\n", args.iteration))
}

/// `corpusminer delete N [--recursive]`: the iteration's files (`iterations/N/` in the output
/// folder), then its rows; with `--recursive` the chain below it first, deepest first. Refused
/// while an iteration to delete is active, and for an iteration with children without
/// `--recursive`. The output folder's `report.json` is then the newest remaining iteration's
/// report (removed when none is left).
pub async fn delete(args: DeleteArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let result = delete_in(&ms, &args).await;
    ms.close().await;
    result
}

async fn delete_in(ms: &Metastore, args: &DeleteArgs) -> anyhow::Result<String> {
    corpusminer_coordinator::driver::delete_chain(ms, args.iteration, args.recursive, None, out_override(&args.store.out, args.store.db.as_deref()), &args.store.flags()).await
}


/// For an iteration left in a step by a process that is gone (killed, Ctrl-C, a crash), or
/// failed: what to run to go on. `None` when it is done, or its process still runs here.
fn stopped_hint(it: &Iteration, loc: &str) -> Option<String> {
    let state = IterationState::parse(&it.state)?;
    if !(state.is_active() || state == IterationState::Failed) {
        return None;
    }
    if let Some(runner) = corpusminer_coordinator::driver::lease_holder_alive(it, &crate::run::hostname()) {
        return Some(format!("iteration {} is {state}, run now by process {runner}", it.id));
    }
    let why = if state == IterationState::Failed { "failed".to_string() } else { format!("was left in {state} by a process that is no longer running") };
    Some(format!("iteration {} {why}: `corpusminer resume {} {loc}` goes on from that step", it.id, it.id))
}

/// `corpusminer status [N]`.
pub async fn status(args: StatusArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let mut s = String::new();
    let loc = args.store.flags();
    if let Some(id) = args.iteration {
        let it = match ms.iteration(id).await {
            Err(corpusminer_storage::MetastoreError::NotFound { .. }) => {
                let ids = ms.iteration_ids().await?;
                let have = match (ids.first(), ids.last()) {
                    (Some(a), Some(b)) if a == b => format!("it holds iteration {a}"),
                    (Some(a), Some(b)) => format!("it holds iterations {a} to {b}"),
                    _ => "it holds none".to_string(),
                };
                anyhow::bail!("no iteration {id} in the metastore of {loc}: {have} (`corpusminer status {loc}` lists them)")
            }
            other => other?,
        };
        let counts = ms.shard_counts(id).await?;
        let _ = writeln!(s, "iteration {id} of {}: {}", it.crawl, it.state);
        if let Some(hint) = stopped_hint(&it, &loc) {
            let _ = writeln!(s, "  {hint}");
        }
        if let Some(p) = it.parent_id {
            let _ = writeln!(s, "  parent        {p}");
        }
        if let Some(e) = &it.error {
            let _ = writeln!(s, "  error         {e} (in {})", it.failed_state.as_deref().unwrap_or("?"));
        }
        let _ = writeln!(s, "  shards        {} done, {} failed, {} pending, {} leased", counts.done, counts.failed, counts.pending, counts.leased);
        for shard in ms.shards(id).await?.iter().filter(|s| s.state == "failed") {
            let _ = writeln!(
                s,
                "  failed shard  {} ({}, {} attempts): {}",
                redact_uri(&shard.uri),
                shard.failure_reason.as_deref().unwrap_or("unknown"),
                shard.attempts,
                shard.error.as_deref().unwrap_or("")
            );
        }
        if counts.failed > 0 {
            let _ = writeln!(s, "                `corpusminer resume {id} {}` retries the failed shards and selects again", args.store.flags());
        }
        if let (Some(uri), Some(sha)) = (&it.model_uri, &it.model_sha256) {
            let _ = writeln!(s, "  model         {} (sha256 {sha})", redact_uri(uri));
        }
        if let Some(t) = it.threshold {
            let _ = writeln!(s, "  threshold     {t:.6}");
        }
        if let Some(report) = it.report_json.as_deref().and_then(|j| serde_json::from_str::<Report>(j).ok()) {
            let _ = write!(s, "{}", report.summary(args.summary.min_host_pages));
        }
        if let Some(inputs) = &it.inputs_json {
            let v: serde_json::Value = serde_json::from_str(inputs)?;
            let _ = writeln!(s, "  inputs        {}", serde_json::to_string_pretty(&v)?.replace('\n', "\n                "));
        }
        return Ok(s);
    }
    let _ = writeln!(s, "{:>4} {:>6} {:<20} {:>15} {:>8} {:>12} {:>12} {:>12} {:>9}", "id", "parent", "state", "shards done", "failed", "pages", "kept", "new", "retained");
    let group = corpusminer_coordinator::report::group;
    let mut hints = Vec::new();
    for id in ms.iteration_ids().await? {
        let it = ms.iteration(id).await?;
        let report: Option<Report> = it.report_json.as_deref().and_then(|j| serde_json::from_str(j).ok());
        let dash = || "-".to_string();
        let c = ms.shard_counts(id).await?;
        let shards = format!("{} of {}", group(c.done.max(0) as u64), group(c.total().max(0) as u64));
        let (pages, kept) = report.as_ref().map(|r| (group(r.pages), group(r.selection.kept_pages))).unwrap_or_else(|| (dash(), dash()));
        let conv = report.as_ref().and_then(|r| r.convergence.clone());
        let (new, retained) = conv.map(|c| (group(c.new_pages), format!("{:.1}%", 100.0 * c.retention_pages))).unwrap_or_else(|| (dash(), dash()));
        let parent = it.parent_id.map(|p| p.to_string()).unwrap_or_else(dash);
        let _ = writeln!(s, "{id:>4} {parent:>6} {:<20} {shards:>15} {:>8} {pages:>12} {kept:>12} {new:>12} {retained:>9}", it.state, group(c.failed.max(0) as u64));
        hints.extend(stopped_hint(&it, &loc));
    }
    for h in hints {
        let _ = writeln!(s, "{h}");
    }
    Ok(s)
}
