//! The loop's commands (DESIGN.md steps 4–7): `iterate` (the next iteration, or iterations
//! until retention converges), `resume` (an iteration a killed or failed process left),
//! `cancel`, `delete` (rows and files) and `status` (the chain at a glance).

use crate::domains::StoreArgs;
use clap::Args;
use corpusminer_coordinator::{create_next, drive, DriveOptions, Outcome, Report, RunConfig};
use corpusminer_storage::metastore::{Iteration, IterationState, Metastore};
use corpusminer_storage::{resolve, StorageConfig};
use corpusminer_worker::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How this process scores: worker threads, retries, and the object-store endpoint when it
/// differs from the one recorded (credentials always come from the environment).
#[derive(Debug, Clone, Args)]
pub struct DriveArgs {
    /// Worker threads (shards scored at once). Default: all cores.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Attempts per shard stream before the shard is marked failed.
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    /// S3 endpoint instead of the recorded one (an S3-compatible server).
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
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

/// Arguments of `corpusminer cancel` and `corpusminer delete`.
#[derive(Debug, Clone, Args)]
pub struct IterationArgs {
    /// The iteration.
    pub iteration: i64,
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
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a share in (0, 1]"))
    }
}

/// Refuses an iteration whose recorded output folder is not the `--out` given (a copied or
/// moved folder): its files are recorded by location, so acting on it would read, write or
/// delete the original's files. With `--db`, the recorded folder is used as it is.
fn check_out(it: &Iteration, store: &StoreArgs) -> anyhow::Result<()> {
    if store.db.is_some() {
        return Ok(());
    }
    let cfg: RunConfig = serde_json::from_str(&it.config_json)?;
    if cfg.out.contains("://") {
        return Ok(());
    }
    let canon = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| std::path::PathBuf::from(p));
    let (recorded, given) = (canon(&cfg.out), canon(store.out.strip_prefix("file://").unwrap_or(&store.out)));
    if recorded != given {
        anyhow::bail!(
            "iteration {}'s output folder is {}, not --out {}: a copied or moved output folder cannot be continued (its files are recorded by location); use --out {}",
            it.id,
            recorded.display(),
            given.display(),
            recorded.display()
        );
    }
    Ok(())
}

/// Drive options for this process.
pub(crate) fn drive_options(workers: usize, retries: u32, reclaim_leases: bool) -> DriveOptions {
    DriveOptions {
        workers: workers.max(1),
        retries,
        progress: Arc::new(Progress::default()),
        worker_name: format!("{}:{}", crate::run::hostname(), std::process::id()),
        reclaim_leases,
    }
}

fn default_workers(w: Option<usize>) -> usize {
    w.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// The recorded object-store settings of `it`, with `--s3-endpoint` when given.
fn storage_for(it: &Iteration, args: &DriveArgs) -> anyhow::Result<Option<StorageConfig>> {
    let Some(endpoint) = &args.s3_endpoint else { return Ok(None) };
    let cfg: RunConfig = serde_json::from_str(&it.config_json)?;
    let mut storage = cfg.storage;
    storage.s3_endpoint = Some(endpoint.clone());
    Ok(Some(storage))
}

/// [`drive`] with a progress bar of the scoring step on stderr when `show`.
pub(crate) async fn drive_shown(ms: &Metastore, id: i64, storage: Option<StorageConfig>, opts: DriveOptions, show: bool) -> anyhow::Result<Outcome> {
    let bar = if show { ProgressBar::new(0) } else { ProgressBar::hidden() };
    // A spinner until scoring starts (seed, negatives and training have no shard count).
    bar.set_style(ProgressStyle::with_template("{spinner} iteration {prefix}: {msg} ({elapsed})").expect("valid template"));
    bar.set_message("preparing seed, negatives and classifier");
    bar.set_prefix(id.to_string());
    let scoring_style = ProgressStyle::with_template("{spinner} iteration {prefix} [{bar:30}] {pos}/{len} shards {msg} ({elapsed})")
        .expect("valid template")
        .progress_chars("=> ");
    let started = Instant::now();
    let ticker = {
        let (bar, progress) = (bar.clone(), opts.progress.clone());
        tokio::spawn(async move {
            let (mut scoring, mut scoring_started) = (false, started);
            loop {
                let total = progress.shards_total.load(Ordering::Relaxed);
                if total == 0 {
                    bar.tick();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                if !scoring {
                    bar.set_style(scoring_style.clone());
                    (scoring, scoring_started) = (true, Instant::now());
                }
                let secs = scoring_started.elapsed().as_secs_f64().max(1e-3);
                let (pages, bytes) = (progress.pages.load(Ordering::Relaxed), progress.bytes.load(Ordering::Relaxed));
                bar.set_length(total);
                bar.set_position(progress.shards.load(Ordering::Relaxed));
                bar.set_message(format!("{pages} pages, {:.1} MB, {:.0} pages/s", bytes as f64 / 1e6, pages as f64 / secs));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let outcome = drive(ms, id, storage.as_ref(), &opts).await;
    ticker.abort();
    bar.finish_and_clear();
    outcome
}

/// What an outcome means for the person at the terminal.
fn outcome_text(o: &Outcome, store: &StoreArgs) -> String {
    let mut s = String::new();
    if let Some(r) = &o.report {
        let _ = writeln!(s, "{r}");
    }
    let loc = match &store.db {
        Some(_) => format!("--out {} --db …", store.out),
        None => format!("--out {}", store.out),
    };
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
async fn newest_parent(ms: &Metastore) -> anyhow::Result<i64> {
    let Some(id) = ms.latest_iteration().await? else {
        anyhow::bail!("no iteration yet: start one with `corpusminer run`");
    };
    let it = ms.iteration(id).await?;
    match IterationState::parse(&it.state) {
        Some(s) if s.is_done() => Ok(id),
        Some(s) if s.is_active() || s == IterationState::Failed => {
            if let Some(runner) = corpusminer_coordinator::driver::live_runner(&it, &crate::run::hostname()) {
                anyhow::bail!("iteration {id} is {s}, run by process {runner}: wait for it (or cancel it) first");
            }
            anyhow::bail!("iteration {id} is {s}: finish it with `corpusminer resume {id}` (or cancel it) first")
        }
        _ => anyhow::bail!("iteration {id} is {}: give --from N to grow from an earlier one", it.state),
    }
}

/// `corpusminer iterate`: prints each iteration's report and why the loop stopped.
pub async fn iterate(args: IterateArgs, show_progress: bool) -> anyhow::Result<(String, Vec<Report>)> {
    let ms = args.store.connect(true).await?;
    let mut parent = match args.from {
        Some(p) => p,
        None => newest_parent(&ms).await?,
    };
    let (mut text, mut reports) = (String::new(), Vec::new());
    loop {
        let pit = ms.iteration(parent).await?;
        let depth = corpusminer_coordinator::driver::depth(&ms, &pit).await?;
        if args.until_converged && depth >= args.max_iterations {
            let _ = writeln!(text, "stopped: iteration {parent} is number {depth} of its chain (--max-iterations {})", args.max_iterations);
            break;
        }
        check_out(&pit, &args.store)?;
        let storage = storage_for(&pit, &args.drive)?;
        let id = create_next(&ms, parent).await?;
        tracing::info!(iteration = id, parent, "next iteration created");
        let opts = drive_options(default_workers(args.drive.workers), args.drive.retries, false);
        let outcome = drive_shown(&ms, id, storage, opts, show_progress).await?;
        text.push_str(&outcome_text(&outcome, &args.store));
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
                let s = IterationState::parse(&ms.iteration(id).await?.state);
                if s.is_some_and(|s| s.is_active() || s == IterationState::Failed) {
                    found = Some(id);
                    break;
                }
            }
            found.ok_or_else(|| anyhow::anyhow!("no unfinished iteration to resume"))?
        }
    };
    let it = ms.iteration(id).await?;
    check_out(&it, &args.store)?;
    let storage = storage_for(&it, &args.drive)?;
    tracing::info!(iteration = id, state = %it.state, "resuming");
    let opts = drive_options(default_workers(args.drive.workers), args.drive.retries, true);
    let outcome = drive_shown(&ms, id, storage, opts, show_progress).await;
    ms.close().await;
    let outcome = outcome?;
    Ok((outcome_text(&outcome, &args.store), outcome.report))
}

/// `corpusminer cancel N`.
pub async fn cancel(args: IterationArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let was = ms.cancel_iteration(args.iteration).await;
    ms.close().await;
    let was = was?;
    Ok(format!("iteration {} cancelled (was {was}); a process running it stops at its next shard or step\n", args.iteration))
}

/// `corpusminer delete N`: the iteration's files (`iterations/N/` in the output store), then
/// its rows. Refused while the iteration is active.
pub async fn delete(args: IterationArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let it = ms.iteration(args.iteration).await?;
    check_out(&it, &args.store)?;
    if IterationState::parse(&it.state).is_some_and(|s| s.is_active()) {
        anyhow::bail!("iteration {} is {}: cancel it first (`corpusminer cancel {}`)", it.id, it.state, it.id);
    }
    let cfg: RunConfig = serde_json::from_str(&it.config_json)?;
    let (store, root) = resolve(&cfg.out, &cfg.storage)?;
    let prefix = corpusminer_coordinator::iteration::join_key(&[&root, "iterations", &it.id.to_string()]) + "/";
    let keys = store.list(&prefix).await?;
    for key in &keys {
        store.delete(key).await?;
    }
    ms.delete_iteration(it.id).await?;
    ms.close().await;
    if !store.uri().contains("://") {
        // A local folder keeps empty directories after its files are deleted; remove them
        // only when nothing else is left in them.
        let dir = std::path::Path::new(&store.uri()).join(&prefix);
        if walk_files(&dir) == 0 {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(format!("iteration {} deleted: {} files under {}{prefix} and its rows\n", it.id, keys.len(), store.uri().trim_end_matches('/').to_string() + "/"))
}

fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).map(|e| e.path()).map(|p| if p.is_dir() { walk_files(&p) } else { 1 }).sum()
}

/// `corpusminer status [N]`.
pub async fn status(args: StatusArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let mut s = String::new();
    if let Some(id) = args.iteration {
        let it = ms.iteration(id).await?;
        let counts = ms.shard_counts(id).await?;
        let _ = writeln!(s, "iteration {id} of {}: {}", it.crawl, it.state);
        if let Some(p) = it.parent_id {
            let _ = writeln!(s, "  parent        {p}");
        }
        if let Some(e) = &it.error {
            let _ = writeln!(s, "  error         {e} (in {})", it.failed_state.as_deref().unwrap_or("?"));
        }
        let _ = writeln!(s, "  shards        {} done, {} failed, {} pending, {} leased", counts.done, counts.failed, counts.pending, counts.leased);
        if let (Some(uri), Some(sha)) = (&it.model_uri, &it.model_sha256) {
            let _ = writeln!(s, "  model         {uri} (sha256 {sha})");
        }
        if let Some(t) = it.threshold {
            let _ = writeln!(s, "  threshold     {t:.6}");
        }
        if let Some(inputs) = &it.inputs_json {
            let v: serde_json::Value = serde_json::from_str(inputs)?;
            let _ = writeln!(s, "  inputs        {}", serde_json::to_string_pretty(&v)?.replace('\n', "\n                "));
        }
        return Ok(s);
    }
    let _ = writeln!(s, "{:>4} {:>6} {:<20} {:>10} {:>10} {:>10} {:>9}", "id", "parent", "state", "pages", "kept", "new", "retained");
    for id in ms.iteration_ids().await? {
        let it = ms.iteration(id).await?;
        let report: Option<Report> = it.report_json.as_deref().and_then(|j| serde_json::from_str(j).ok());
        let dash = || "-".to_string();
        let (pages, kept) = report.as_ref().map(|r| (r.pages.to_string(), r.selection.kept_pages.to_string())).unwrap_or_else(|| (dash(), dash()));
        let conv = report.as_ref().and_then(|r| r.convergence.clone());
        let (new, retained) = conv.map(|c| (c.new_pages.to_string(), format!("{:.1}%", 100.0 * c.retention_pages))).unwrap_or_else(|| (dash(), dash()));
        let parent = it.parent_id.map(|p| p.to_string()).unwrap_or_else(dash);
        let _ = writeln!(s, "{id:>4} {parent:>6} {:<20} {pages:>10} {kept:>10} {new:>10} {retained:>9}", it.state);
    }
    Ok(s)
}
