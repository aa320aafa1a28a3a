//! Runs an iteration through its states (DESIGN.md steps 2 and 4–7), one step per state:
//!
//! | state                 | step                                                            |
//! |-----------------------|-----------------------------------------------------------------|
//! | `preparing`           | register shards; build the seed (files, or the parent's seed grown by annotations); write `seed.jsonl.zst` + `seed_manifest.json` |
//! | `preparing_negatives` | negatives files + a crawl sample drawn with this iteration's seed, outside the parent's kept pages; write `negatives.jsonl.zst` |
//! | `training`            | train on the stored seed and negatives (or load `--model`); store `model.bin` and its checksum |
//! | `scoring`             | workers lease and score the shards                              |
//! | `selecting`           | threshold, proposals, corpus, convergence, report               |
//! | `awaiting_annotation` / `complete` | done                                               |
//!
//! Every step reads only what earlier steps stored (the iteration's row and files), writes its
//! outputs under fixed keys, and then moves the state with a compare-and-set. A process killed
//! anywhere therefore resumes ([`drive`]) by redoing at most the step it was in, with the same
//! result; a cancel from another process is seen between steps and between shards.

use crate::convergence::Convergence;
use crate::iteration::{finish, join_key, Prepared, RunConfig};
use crate::seed::{grow_seed, kept_pages, seed_from_files, SeedDoc};
use crate::training::{load_model, read_documents, TrainedModel};
use bytes::Bytes;
use corpusminer_pipeline::classify::TrainSettings;
use crate::cpu::{decode_rows, off_runtime, sha256_hex};
use corpusminer_pipeline::scored::encode_rows;
use corpusminer_pipeline::text::TokenCounter;
use corpusminer_storage::fault;
use corpusminer_storage::metastore::{Iteration, IterationLease, IterationState, Metastore};
use corpusminer_storage::{redact_json, redact_uri, resolve, resolve_root, ObjectStore, RetryPolicy, StorageConfig};
use corpusminer_worker::{grouped, run_worker, Progress, ShardContext, WorkerConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file an iteration wrote for itself: key in the output store, checksum, size in documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Object key in the output store.
    pub key: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Documents in it.
    pub documents: usize,
}

/// Everything an iteration used besides its config, stored in its row (`inputs`, JSON) as the
/// steps produce it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationInputs {
    /// The seed (`seed.jsonl.zst`, rows of [`SeedDoc`]).
    pub seed: Option<StoredFile>,
    /// Key of `seed_manifest.json` ([`SeedManifest`]).
    pub seed_manifest: Option<String>,
    /// Pages added to / removed from the parent's seed.
    pub seed_added: usize,
    /// Pages removed from the parent's seed.
    pub seed_removed: usize,
    /// The negatives (`negatives.jsonl.zst`, rows of [`SeedDoc`]).
    pub negatives: Option<StoredFile>,
    /// Seed of this iteration's random negative draw (new for every iteration of a chain).
    pub negative_seed: u64,
    /// Negatives drawn from the crawl.
    pub crawl_negatives: usize,
    /// The classifier settings trained with (none when `--model` was given).
    pub train_settings: Option<TrainSettings>,
    /// Seconds spent scoring, summed over the runs that finished their scoring step (kept for
    /// iterations recorded before `scoring_runs`).
    pub scoring_seconds: f64,
    /// Every run of the scoring step (a resumed iteration has several), in order.
    #[serde(default)]
    pub scoring_runs: Vec<ScoringRun>,
    /// What each current annotation did to the seed (iterations after the first).
    #[serde(default)]
    pub annotation_effects: Vec<crate::seed::AnnotationEffect>,
}

/// One process's run of the scoring step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringRun {
    /// When it started, Unix milliseconds.
    pub started_ms: i64,
    /// Its length in seconds; `None` while it runs, or when the process was killed.
    pub seconds: Option<f64>,
}

impl IterationInputs {
    /// Wall-clock seconds of scoring over all runs: a finished run counts its length; a run
    /// that was killed counts until the last shard it finished (`finished_ms` of the
    /// iteration's shards, Unix ms), or nothing when it finished none.
    pub fn total_scoring_seconds(&self, finished_ms: &[i64]) -> f64 {
        if self.scoring_runs.is_empty() {
            return self.scoring_seconds;
        }
        let mut total = 0.0;
        for (i, run) in self.scoring_runs.iter().enumerate() {
            total += match run.seconds {
                Some(s) => s,
                None => {
                    let next = self.scoring_runs.get(i + 1).map(|r| r.started_ms).unwrap_or(i64::MAX);
                    let last = finished_ms.iter().copied().filter(|&t| t >= run.started_ms && t < next).max();
                    last.map(|t| (t - run.started_ms) as f64 / 1000.0).unwrap_or(0.0)
                }
            };
        }
        total
    }
}

/// How [`drive`] runs the scoring step in this process.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Worker threads (shards scored at once).
    pub workers: usize,
    /// Retries of a broken shard stream (within one attempt).
    pub retries: u32,
    /// Attempts at a shard whose stream broke for good before it is `failed` (`--max-attempts`).
    pub max_attempts: u32,
    /// Counters the caller shows as progress.
    pub progress: Arc<Progress>,
    /// Name recorded on leases.
    pub worker_name: String,
    /// Hand the leases a killed process held back before scoring (resume).
    pub reclaim_leases: bool,
    /// How long the iteration lease lasts unless renewed ([`DEFAULT_LEASE_TTL`]); another
    /// process takes the iteration over this long after this one stops renewing it.
    pub lease_ttl: Duration,
    /// The output folder as this process was given it (`--out`), replacing the recorded one:
    /// every file of an iteration is recorded relative to its output folder, so a moved or
    /// copied folder is used where it is now. `None`: the recorded folder.
    pub out: Option<String>,
    /// The configuration as this process was given it, with the credentials that the stored
    /// one never holds (`run` of a new iteration); `None`: the stored configuration.
    pub live_config: Option<RunConfig>,
    /// Where this process's metastore and output folder are, as the flags that name them
    /// (`--out out`, `--out out --db …`), for the commands that errors suggest (`corpusminer
    /// resume 1 --out out`); empty for the defaults.
    pub store_flags: String,
}

impl DriveOptions {
    /// Options of a process named `worker_name` (`host:pid`) scoring `workers` shards at once
    /// (at least 1): fresh progress counters, no lease reclaim, [`DEFAULT_LEASE_TTL`], the
    /// recorded output folder and configuration, no store flags.
    pub fn new(workers: usize, retries: u32, max_attempts: u32, worker_name: String) -> Self {
        DriveOptions {
            workers: workers.max(1),
            retries,
            max_attempts,
            progress: Arc::new(Progress::default()),
            worker_name,
            reclaim_leases: false,
            lease_ttl: DEFAULT_LEASE_TTL,
            out: None,
            live_config: None,
            store_flags: String::new(),
        }
    }
}

/// How [`drive`] ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The iteration.
    pub iteration: i64,
    /// Its state now: `awaiting_annotation`, `complete` or `cancelled`.
    pub state: IterationState,
    /// The report (done iterations).
    pub report: Option<crate::Report>,
}

/// Creates iteration 1 of a chain from `cfg` (state `preparing`); returns its id.
pub async fn create_first(ms: &Metastore, cfg: &RunConfig) -> anyhow::Result<i64> {
    if cfg.inputs.is_empty() && cfg.crawl.is_none() {
        anyhow::bail!("no shards: give --input SHARD… or --crawl CC-MAIN-YYYY-WW");
    }
    let crawl = cfg.crawl.clone().or(cfg.crawl_name.clone()).unwrap_or_else(|| "custom".into());
    Ok(ms.create_iteration_from(&crawl, &stored_config(cfg)?, None).await?)
}

/// Creates the iteration after `parent` (which must be done: awaiting annotation or complete)
/// with the parent's config; a parent awaiting annotation is marked complete. Returns its id.
pub async fn create_next(ms: &Metastore, parent: i64) -> anyhow::Result<i64> {
    let it = ms.iteration(parent).await?;
    let state = state_of(&it)?;
    if !state.is_done() {
        anyhow::bail!("iteration {parent} is {state}: only a finished iteration (awaiting_annotation or complete) can be grown from");
    }
    if state == IterationState::AwaitingAnnotation {
        ms.advance(parent, state, IterationState::Complete).await?;
    }
    Ok(ms.create_iteration_from(&it.crawl, &it.config_json, Some(parent)).await?)
}

/// The config as stored in the row: no secret is ever written to the database. S3 keys are
/// dropped (a resumed run reads them from its environment again) and every URI loses its
/// password and query-string credentials ([`corpusminer_storage::redact_uri`]): the database URL, shard, seed and
/// other file URIs. The shards table keeps each shard's URI as given, since workers read it.
pub fn stored_config(cfg: &RunConfig) -> anyhow::Result<String> {
    let mut c = cfg.clone();
    c.storage.s3_access_key_id = None;
    c.storage.s3_secret_access_key = None;
    let mut v = serde_json::to_value(&c)?;
    redact_json(&mut v);
    Ok(serde_json::to_string(&v)?)
}

fn state_of(it: &Iteration) -> anyhow::Result<IterationState> {
    IterationState::parse(&it.state).ok_or_else(|| anyhow::anyhow!("iteration {} has unknown state {:?}", it.id, it.state))
}

/// What a process puts in place of an iteration's recorded settings.
#[derive(Debug, Clone, Copy, Default)]
struct Overrides<'a> {
    storage: Option<&'a StorageConfig>,
    out: Option<&'a str>,
    config: Option<&'a RunConfig>,
}

/// Per-step view of the iteration: its row, config and output folder.
struct Ctx {
    ms: Metastore,
    it: Iteration,
    cfg: RunConfig,
    /// The output folder's store: keys are relative to the folder.
    out_store: Arc<dyn ObjectStore>,
    /// This iteration's folder in it (`iterations/<id>`).
    prefix: String,
}

impl Ctx {
    async fn load(ms: &Metastore, id: i64, o: Overrides<'_>) -> anyhow::Result<Self> {
        let it = ms.iteration(id).await?;
        let mut cfg: RunConfig = match o.config {
            Some(c) => c.clone(),
            None => serde_json::from_str(&it.config_json).map_err(|e| anyhow::anyhow!("iteration {id}'s stored config: {e}"))?,
        };
        if let Some(s) = o.storage {
            cfg.storage = s.clone();
        }
        if let Some(out) = o.out {
            cfg.out = out.to_string();
        }
        let out_store = output_store(&cfg)?;
        let prefix = join_key(&["iterations", &id.to_string()]);
        Ok(Ctx { ms: ms.clone(), it, cfg, out_store, prefix })
    }

    fn inputs(&self) -> anyhow::Result<IterationInputs> {
        Ok(match &self.it.inputs_json {
            Some(j) => serde_json::from_str(j)?,
            None => IterationInputs::default(),
        })
    }

    async fn save_inputs(&self, inputs: &IterationInputs) -> anyhow::Result<()> {
        Ok(self.ms.set_inputs(self.it.id, &serde_json::to_string(inputs)?).await?)
    }

    async fn put_docs(&self, name: &str, docs: Vec<SeedDoc>) -> anyhow::Result<StoredFile> {
        let documents = docs.len();
        let (bytes, sha256) = off_runtime(move || {
            let bytes = encode_rows(&docs);
            let sha256 = hex::encode(Sha256::digest(&bytes));
            (bytes, sha256)
        })
        .await;
        let key = join_key(&[&self.prefix, name]);
        self.out_store.put(&key, Bytes::from(bytes)).await?;
        Ok(StoredFile { key, sha256, documents })
    }

    async fn get_docs(&self, file: &StoredFile) -> anyhow::Result<Vec<SeedDoc>> {
        let bytes = self.out_store.get(&file.key).await?;
        let sha = sha256_hex(bytes.clone()).await;
        if sha != file.sha256 {
            anyhow::bail!("{} changed since it was written (sha256 {sha}, recorded {})", file.key, file.sha256);
        }
        Ok(decode_rows(bytes).await?)
    }
}

/// The store of `cfg.out` (created when it is a local folder), keys relative to the folder.
pub fn output_store(cfg: &RunConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if !cfg.out.contains("://") {
        std::fs::create_dir_all(&cfg.out).map_err(|e| anyhow::anyhow!("creating the output folder {}: {e}", cfg.out))?;
    }
    Ok(resolve_root(&cfg.out, &cfg.storage)?)
}

/// How long a shard lease lasts unless its worker renews it (every third of it, while it
/// works on the shard): the longest a killed or cut-off worker's shard waits for another.
pub const SHARD_LEASE_TTL: Duration = Duration::from_secs(300);

/// Default time an iteration lease lasts unless renewed ([`DriveOptions::lease_ttl`]).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// Who holds `it`'s lease now, when someone does: a lease that has not expired, unless its
/// holder (`host:pid`) is a process of this machine (`this_host`) that is gone. A holder on
/// another machine cannot be checked from here and holds the lease until it expires.
pub fn lease_holder_alive(it: &Iteration, this_host: &str) -> Option<String> {
    let holder = it.lease_holder.as_deref()?;
    let expires = it.lease_expires_at.map(|t| t.timestamp_millis()).unwrap_or(0);
    holder_alive(holder, expires, this_host).then(|| holder.to_string())
}

fn holder_alive(holder: &str, expires_at_ms: i64, this_host: &str) -> bool {
    if expires_at_ms <= chrono::Utc::now().timestamp_millis() {
        return false;
    }
    // A pid means something only in its own pid namespace: two containers may share a host
    // name, so a holder is judged gone by its pid only when it recorded this namespace.
    let (name, ns) = holder.split_once('@').map_or((holder, None), |(n, ns)| (n, Some(ns)));
    let mut parts = name.split(':');
    let (host, pid) = (parts.next().unwrap_or_default(), parts.next().and_then(|p| p.parse::<u32>().ok()));
    let same_namespace = ns.is_some_and(|ns| ns == pid_namespace());
    let gone_here = same_namespace && host == this_host && pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
    !gone_here
}

/// This process's pid namespace (`pid:[4026531836]`), empty where it cannot be read.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid").map(|p| p.display().to_string()).unwrap_or_default()
}

/// The lease holder name of a process named `worker_name` (`host:pid`): `host:pid@pidns`.
pub fn lease_holder_name(worker_name: &str) -> String {
    format!("{worker_name}@{}", pid_namespace())
}

/// Takes iteration `id`'s lease for `opts.worker_name`, taking over a lease whose holder is gone.
async fn take_lease(ms: &Metastore, id: i64, opts: &DriveOptions) -> anyhow::Result<IterationLease> {
    let this_host = opts.worker_name.split(':').next().unwrap_or_default();
    let held = |holder: &str| anyhow::Error::new(LeaseHeld { iteration: id, holder: holder.to_string() });
    // The token taken over is the one judged gone, read in the same row: a lease taken by a
    // live process meanwhile has another token and is not taken.
    let current = ms.iteration_lease(id).await?;
    if let Some(l) = &current {
        if holder_alive(&l.holder, l.expires_at_ms, this_host) {
            return Err(held(&l.holder));
        }
    }
    let gone = current.map(|l| l.token);
    match ms.acquire_iteration_lease(id, &lease_holder_name(&opts.worker_name), opts.lease_ttl, gone.as_deref()).await? {
        Some(lease) => Ok(lease),
        None => Err(held(&ms.iteration(id).await?.lease_holder.unwrap_or_default())),
    }
}

/// Another process drives the iteration ([`drive`] refused to start).
#[derive(Debug, Clone, thiserror::Error)]
#[error("iteration {iteration} is being run by process {holder}: wait for it, or stop it with `corpusminer cancel {iteration}`")]
pub struct LeaseHeld {
    /// The iteration.
    pub iteration: i64,
    /// Its lease holder (`host:pid`).
    pub holder: String,
}

/// Renews `lease` every third of `ttl` until aborted; sets `lost` when it is found taken over,
/// or when its expiry passes without a renewal getting through (the database unreachable for
/// a whole lease time: another process may take it from then on).
fn heartbeat(ms: Metastore, mut lease: IterationLease, ttl: Duration, lost: Arc<AtomicBool>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(ttl / 3).await;
            match ms.renew_iteration_lease(&mut lease, ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(iteration = lease.iteration_id, "iteration lease lost (expired and taken over): this process stops driving it");
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) if chrono::Utc::now().timestamp_millis() >= lease.expires_at_ms => {
                    tracing::error!(iteration = lease.iteration_id, error = %e, "the iteration lease expired unrenewed: this process stops driving it");
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => tracing::warn!(iteration = lease.iteration_id, error = %e, "renewing the iteration lease failed; retrying"),
            }
        }
    }))
}

/// A task aborted when this is dropped (also when the future holding it panics or is dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs iteration `id` from its current state until it is done or cancelled. A failed
/// iteration is reopened at the state it failed in. An error in a step marks the iteration
/// failed (resumable) and is returned. `storage` replaces the stored object-store settings
/// (credentials are never stored).
///
/// The process holds the iteration's lease throughout (heartbeat every `lease_ttl / 3`) and
/// every state transition is fenced by it; it gives the lease back when it returns. Errors:
/// [`LeaseHeld`] (nothing changed) when another live process holds it.
pub async fn drive(ms: &Metastore, id: i64, storage: Option<&corpusminer_storage::StorageConfig>, opts: &DriveOptions) -> anyhow::Result<Outcome> {
    let lease = take_lease(ms, id, opts).await?;
    let lost = Arc::new(AtomicBool::new(false));
    let beat = heartbeat(ms.clone(), lease.clone(), opts.lease_ttl, lost.clone());
    let outcome = drive_leased(ms, id, storage, opts, &lease, &lost).await;
    drop(beat);
    if let Err(e) = ms.release_iteration_lease(&lease).await {
        tracing::warn!(iteration = id, error = %e, "giving the iteration lease back failed (it expires by itself)");
    }
    outcome
}

async fn drive_leased(ms: &Metastore, id: i64, storage: Option<&StorageConfig>, opts: &DriveOptions, lease: &IterationLease, lost: &AtomicBool) -> anyhow::Result<Outcome> {
    let overrides = Overrides { storage, out: opts.out.as_deref(), config: opts.live_config.as_ref() };
    let mut state = ms.reopen_iteration(id).await?;
    if state.is_active() {
        // A missing benchmark stops the iteration here, before any work, never at the corpus.
        let filters = Ctx::load(ms, id, overrides).await?.cfg.filters;
        tokio::task::spawn_blocking(move || filters.load()).await.expect("benchmark loading panicked")?;
    }
    let mut reclaim = opts.reclaim_leases;
    loop {
        if !state.is_active() {
            let it = ms.iteration(id).await?;
            let report = it.report_json.as_deref().and_then(|j| serde_json::from_str(j).ok());
            return Ok(Outcome { iteration: id, state, report });
        }
        fault::point(state.as_str());
        let ctx = Ctx::load(ms, id, overrides).await?;
        opts.progress.set_step(state.as_str());
        let step = match state {
            IterationState::Preparing => prepare_step(&ctx, &opts.progress).await,
            IterationState::PreparingNegatives => negatives_step(&ctx, &opts.progress).await,
            IterationState::Training => training_step(&ctx, &opts.progress).await.map(|_| IterationState::Scoring),
            IterationState::Scoring => scoring_step(&ctx, opts, std::mem::take(&mut reclaim)).await,
            IterationState::Selecting => selecting_step(&ctx, opts).await,
            _ => unreachable!("active states only"),
        };
        if lost.load(Ordering::Relaxed) {
            anyhow::bail!("iteration {id}: this process lost its lease during {state} (another process took it over); it stops here and changes nothing more");
        }
        let next = match step {
            Ok(next) => next,
            Err(e) => {
                // Only the lease holder marks the iteration failed: an error caused by a
                // takeover (the new holder reclaimed our shards) must not fail its drive.
                if !ms.fail_iteration_leased(lease, state, &format!("{e:#}")).await? && ms.iteration(id).await?.state == state.as_str() {
                    anyhow::bail!("iteration {id}: lease lost during {state}; this process stops and leaves it to the new holder ({e:#})");
                }
                let flags = if opts.store_flags.is_empty() { String::new() } else { format!(" {}", opts.store_flags) };
                return Err(e.context(format!("iteration {id} failed in {state} (`corpusminer resume {id}{flags}` retries it)")));
            }
        };
        if !ms.advance_leased(lease, state, next).await? {
            let now = ms.iteration(id).await?;
            if now.state == state.as_str() {
                anyhow::bail!("iteration {id}: lease lost during {state} (now held by {}); this process stops", now.lease_holder.unwrap_or_default());
            }
            tracing::warn!(iteration = id, from = %state, to = %next, now = %now.state, "state changed meanwhile (cancelled?); stopping");
            let state = IterationState::parse(&now.state).unwrap_or(IterationState::Cancelled);
            return Ok(Outcome { iteration: id, state, report: None });
        }
        tracing::info!(iteration = id, from = %state, to = %next, "step done");
        state = next;
    }
}

/// `preparing`: shards, then the seed and its manifest.
async fn prepare_step(ctx: &Ctx, progress: &Arc<Progress>) -> anyhow::Result<IterationState> {
    let (cfg, ms, id) = (&ctx.cfg, &ctx.ms, ctx.it.id);
    let (docs, manifest) = match ctx.it.parent_id {
        None => {
            // All shards are registered in one call, so a resumed step that finds some has
            // them all (and never expands the stored inputs, whose credentials are redacted).
            if ms.shard_counts(id).await?.total() == 0 {
                progress.set_detail("listing shards");
                let mut shards = crate::inputs::expand_inputs(&cfg.inputs)?;
                if let Some(crawl) = &cfg.crawl {
                    shards.extend(crate::inputs::crawl_shards(crawl, &cfg.crawl_base, cfg.shards, cfg.sample_seed, &cfg.storage).await?);
                }
                ms.add_shards(id, &shards).await?;
            }
            let files = read_files("seed", &cfg.seeds, cfg, progress).await?;
            seed_from_files(&files)
        }
        Some(parent) => {
            progress.set_detail(format!("growing iteration {parent}'s seed by the annotations"));
            let parent_ctx = Ctx::load(ms, parent, Overrides { storage: Some(&cfg.storage), out: Some(&cfg.out), config: None }).await?;
            let parent_shards = ms.shards(parent).await?;
            let uris: Vec<String> = parent_shards.iter().map(|s| s.uri.clone()).collect();
            ms.add_shards(id, &uris).await?;
            let parent_seed = match parent_ctx.inputs()?.seed {
                Some(f) => parent_ctx.get_docs(&f).await?,
                None => Vec::new(),
            };
            let bucket = parent_ctx.it.threshold_bucket.ok_or_else(|| anyhow::anyhow!("iteration {parent} has no threshold"))? as usize;
            let annotations = ms.annotations(false).await?;
            grow_seed(parent, parent_seed, &ctx.out_store, &parent_shards, bucket, &annotations, &cfg.storage, progress).await?
        }
    };
    if cfg.model.is_none() && docs.is_empty() {
        anyhow::bail!("the seed is empty: give --seed files with text in them");
    }
    let mut inputs = ctx.inputs()?;
    let seed_documents = docs.len();
    progress.set_detail(format!("writing the seed ({} documents)", grouped(seed_documents as u64)));
    inputs.seed = Some(ctx.put_docs("seed.jsonl.zst", docs).await?);
    let manifest_key = join_key(&[&ctx.prefix, "seed_manifest.json"]);
    ctx.out_store.put(&manifest_key, Bytes::from(serde_json::to_vec_pretty(&manifest)?)).await?;
    inputs.seed_manifest = Some(manifest_key);
    inputs.seed_added = manifest.added.len();
    inputs.seed_removed = manifest.removed.len();
    inputs.annotation_effects = manifest.effects.clone();
    ctx.save_inputs(&inputs).await?;
    tracing::info!(iteration = id, seed = seed_documents, added = manifest.added.len(), removed = manifest.removed.len(), "seed written");
    Ok(IterationState::PreparingNegatives)
}

/// Every document of each file of `uris` (the `what` files: seed, negatives), file by file,
/// telling `progress` which file is read and how many documents were read so far.
async fn read_files(what: &str, uris: &[String], cfg: &RunConfig, progress: &Progress) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let (mut files, mut so_far) = (Vec::with_capacity(uris.len()), 0u64);
    for (i, uri) in uris.iter().enumerate() {
        progress.set_detail(format!("reading {what} file {} of {} ({}), {} documents so far", i + 1, uris.len(), redact_uri(uri), grouped(so_far)));
        let texts = read_documents(std::slice::from_ref(uri), &cfg.fields(), &cfg.storage).await?.texts;
        so_far += texts.len() as u64;
        files.push((uri.clone(), texts));
    }
    progress.set_detail(format!("read {} {what} documents from {} files", grouped(so_far), uris.len()));
    Ok(files)
}

/// How deep `it` is in its chain: the iterations from the first to it (1 for a first iteration).
pub async fn depth(ms: &Metastore, it: &Iteration) -> anyhow::Result<u64> {
    let (mut n, mut parent) = (1u64, it.parent_id);
    while let Some(p) = parent {
        n += 1;
        parent = ms.iteration(p).await?.parent_id;
    }
    Ok(n)
}

/// `preparing_negatives`: the negatives files, plus crawl pages drawn with this iteration's own
/// random seed, outside the pages the parent kept.
async fn negatives_step(ctx: &Ctx, progress: &Arc<Progress>) -> anyhow::Result<IterationState> {
    let cfg = &ctx.cfg;
    let mut inputs = ctx.inputs()?;
    if cfg.model.is_some() {
        return Ok(IterationState::Training);
    }
    let depth = depth(&ctx.ms, &ctx.it).await?;
    // A new draw per iteration of the chain, reproducible from the run's seed.
    inputs.negative_seed = cfg.sample_seed.wrapping_add(depth.wrapping_sub(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut docs = Vec::new();
    for (uri, texts) in read_files("negatives", &cfg.negatives, cfg, progress).await? {
        docs.extend(texts.into_iter().enumerate().map(|(n, text)| SeedDoc { id: format!("{uri}#{n}"), url: None, text }));
    }
    if cfg.negatives_from_crawl > 0 {
        // Never a page the parent kept, nor a page of this iteration's seed.
        progress.set_detail("drawing negatives from the crawl: listing the pages to leave out");
        let mut exclude: HashSet<String> = match ctx.it.parent_id {
            Some(parent) => {
                let p = ctx.ms.iteration(parent).await?;
                let bucket = p.threshold_bucket.unwrap_or(i64::MAX) as usize;
                kept_pages(&ctx.out_store, &ctx.ms.shards(parent).await?, bucket).await?.into_keys().collect()
            }
            None => HashSet::new(),
        };
        if let Some(seed) = &inputs.seed {
            exclude.extend(ctx.get_docs(seed).await?.into_iter().filter(|d| d.url.is_some()).map(|d| d.id));
        }
        let shards: Vec<String> = ctx.ms.shards(ctx.it.id).await?.into_iter().map(|s| s.uri).collect();
        let sampled = crate::negatives::sample_crawl_pages(&shards, cfg.negatives_from_crawl, cfg.negative_shards, inputs.negative_seed, &exclude, &cfg.storage, progress).await?;
        inputs.crawl_negatives = sampled.len();
        docs.extend(sampled.into_iter().map(|(id, text)| SeedDoc { id, url: None, text }));
    }
    if docs.is_empty() {
        anyhow::bail!("no negative documents: give --negatives files or --negatives-from-crawl N");
    }
    progress.set_detail(format!("writing the negatives ({} documents)", grouped(docs.len() as u64)));
    inputs.negatives = Some(ctx.put_docs("negatives.jsonl.zst", docs).await?);
    ctx.save_inputs(&inputs).await?;
    Ok(IterationState::Training)
}

/// `training`: the classifier from the stored seed and negatives, or the given model.
async fn training_step(ctx: &Ctx, progress: &Arc<Progress>) -> anyhow::Result<TrainedModel> {
    let cfg = &ctx.cfg;
    let mut inputs = ctx.inputs()?;
    let model = match &cfg.model {
        Some(uri) => {
            progress.set_detail(format!("loading the model {}", redact_uri(uri)));
            load_model(uri, &cfg.storage).await?
        }
        None => {
            progress.set_detail("reading the stored seed and negatives");
            let seed = inputs.seed.as_ref().ok_or_else(|| anyhow::anyhow!("no seed recorded"))?;
            let negatives = inputs.negatives.as_ref().ok_or_else(|| anyhow::anyhow!("no negatives recorded"))?;
            let positives: Vec<String> = ctx.get_docs(seed).await?.into_iter().map(|d| d.text).collect();
            let negatives: Vec<String> = ctx.get_docs(negatives).await?.into_iter().map(|d| d.text).collect();
            let mut settings = if cfg.paper_settings { TrainSettings::paper() } else { TrainSettings::auto(positives.len() + negatives.len()) };
            cfg.train.apply(&mut settings);
            // The iteration's own draw seed (the run's seed for iteration 1): later iterations
            // shuffle, split and balance anew even when their negatives come from files only.
            settings.seed = inputs.negative_seed;
            inputs.train_settings = Some(settings.clone());
            tracing::info!(positives = positives.len(), negatives = negatives.len(), "training classifier");
            crate::training::train_and_store(positives, negatives, settings, ctx.out_store.clone(), &ctx.prefix, progress.clone()).await?
        }
    };
    fault::point("model_stored");
    ctx.save_inputs(&inputs).await?;
    let validation = serde_json::to_string(&model.validation)?;
    // A model trained here is recorded by its key in the output folder (the folder may move);
    // a given --model by its URI.
    let recorded_uri = match &cfg.model {
        Some(uri) => uri.clone(),
        None => join_key(&[&ctx.prefix, "model.bin"]),
    };
    ctx.ms.set_model(ctx.it.id, &recorded_uri, &model.sha256, &validation).await?;
    Ok(model)
}

/// The recorded model, checked against its recorded checksum.
async fn recorded_model(ctx: &Ctx) -> anyhow::Result<TrainedModel> {
    let (Some(uri), Some(sha)) = (&ctx.it.model_uri, &ctx.it.model_sha256) else {
        anyhow::bail!("iteration {} has no model recorded", ctx.it.id);
    };
    let uri = model_location(ctx, uri);
    let model = load_model(&uri, &ctx.cfg.storage).await?;
    if &model.sha256 != sha {
        anyhow::bail!("model {uri} changed since training (sha256 {}, recorded {sha})", model.sha256);
    }
    Ok(model)
}

/// Where a recorded model is now: a key relative to the output folder (a model trained by the
/// iteration), or the URI or absolute path it was given as.
fn model_location(ctx: &Ctx, recorded: &str) -> String {
    if recorded.contains("://") || recorded.starts_with('/') {
        recorded.to_string()
    } else {
        format!("{}{recorded}", ctx.out_store.uri())
    }
}

async fn token_counter(cfg: &RunConfig) -> anyhow::Result<TokenCounter> {
    Ok(match &cfg.tokenizer {
        Some(uri) => {
            let (store, key) = resolve(uri, &cfg.storage)?;
            TokenCounter::from_tokenizer_json(&store.get(&key).await?)?
        }
        None => TokenCounter::Whitespace,
    })
}

/// `scoring`: this process's workers score every shard still pending.
async fn scoring_step(ctx: &Ctx, opts: &DriveOptions, reclaim: bool) -> anyhow::Result<IterationState> {
    let id = ctx.it.id;
    if reclaim {
        let n = ctx.ms.requeue_leased(id).await?;
        if n > 0 {
            tracing::info!(iteration = id, shards = n, "leases of the stopped run handed back");
        }
        let n = ctx.ms.requeue_failed(id).await?;
        if n > 0 {
            tracing::info!(iteration = id, shards = n, "failed shards retried");
        }
    }
    let model = recorded_model(ctx).await?;
    let counts = ctx.ms.shard_counts(id).await?;
    opts.progress.shards_total.store(counts.total(), std::sync::atomic::Ordering::Relaxed);
    opts.progress.shards.store(counts.done + counts.failed, std::sync::atomic::Ordering::Relaxed);
    let shard_ctx = ShardContext { classifier: model.classifier.clone(), tokens: token_counter(&ctx.cfg).await?, text_floor: ctx.cfg.text_floor, languages: ctx.cfg.languages.clone().map(Arc::new), progress: opts.progress.clone() };
    let worker = WorkerConfig {
        iteration: id,
        name: opts.worker_name.clone(),
        out_store: ctx.out_store.clone(),
        out_prefix: ctx.prefix.clone(),
        storage: ctx.cfg.storage.clone(),
        retry: RetryPolicy { max_attempts: opts.retries.max(1), ..RetryPolicy::default() },
        max_attempts: opts.max_attempts.max(1),
        // Renewed every third of it while a shard is worked on: a worker that stops loses
        // its shard after this long.
        lease: SHARD_LEASE_TTL,
        concurrency: opts.workers.max(1),
    };
    // The run is recorded before any shard is scored, so a killed run's time still counts (up
    // to its last finished shard) in the iteration's pages/s.
    let mut inputs = ctx.inputs()?;
    inputs.scoring_runs.push(ScoringRun { started_ms: chrono::Utc::now().timestamp_millis(), seconds: None });
    ctx.save_inputs(&inputs).await?;
    let started = Instant::now();
    let summary = run_worker(std::sync::Arc::new(ctx.ms.clone()), worker, shard_ctx).await?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(done = summary.shards_done, failed = summary.shards_failed, retried = summary.attempts_failed, seconds, "scoring finished");
    inputs.scoring_seconds += seconds;
    if let Some(run) = inputs.scoring_runs.last_mut() {
        run.seconds = Some(seconds);
    }
    ctx.save_inputs(&inputs).await?;
    let counts = ctx.ms.shard_counts(id).await?;
    if counts.pending + counts.leased > 0 {
        // Cancelled meanwhile (the advance below will see it), or other workers still hold shards.
        if ctx.ms.iteration(id).await?.state != IterationState::Cancelled.as_str() {
            anyhow::bail!("{} shards are still leased by other workers; resume when they finish", counts.pending + counts.leased);
        }
    } else if counts.done == 0 && counts.failed > 0 {
        // Nothing to select from: the iteration fails here, and `resume` retries the shards.
        let reasons = failure_reasons(&ctx.ms.shards(id).await?);
        anyhow::bail!("all {} shards failed ({reasons})", counts.failed);
    }
    Ok(IterationState::Selecting)
}

/// "2 io, 1 not_warc": the failed shards of `shards` counted by reason.
pub fn failure_reasons(shards: &[corpusminer_storage::ShardRow]) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for s in shards.iter().filter(|s| s.state == "failed") {
        *by.entry(s.failure_reason.as_deref().unwrap_or("unknown")).or_default() += 1;
    }
    by.iter().map(|(r, n)| format!("{n} {r}")).collect::<Vec<_>>().join(", ")
}

/// `selecting`: selection, proposals, corpus and report; then convergence against the parent
/// and the final state (awaiting annotation when proposed hosts carry no label yet).
async fn selecting_step(ctx: &Ctx, opts: &DriveOptions) -> anyhow::Result<IterationState> {
    let model = recorded_model(ctx).await?;
    let prepared = Prepared {
        metastore: ctx.ms.clone(),
        iteration: ctx.it.id,
        crawl: ctx.it.crawl.clone(),
        out_store: ctx.out_store.clone(),
        iteration_prefix: ctx.prefix.clone(),
        model,
        tokens: token_counter(&ctx.cfg).await?,
    };
    opts.progress.set_detail("threshold, corpus (dedup, decontamination), proposals and report");
    let report = finish(&prepared, &ctx.cfg, ctx.it.parent_id, &ctx.inputs()?, opts.workers).await?;
    let annotations = ctx.ms.annotations(false).await?;
    let proposed: Vec<String> = report.proposed_hosts.iter().map(|h| h.host.clone()).collect();
    let unlabelled = crate::scheduler::unlabelled_hosts(&proposed, &annotations).len();
    Ok(if unlabelled > 0 { IterationState::AwaitingAnnotation } else { IterationState::Complete })
}

/// Measures an iteration's kept pages (`kept`: id → tokens) against its `parent`'s, read from
/// the parent's scored-page files in `store`.
pub async fn measure_convergence(ms: &Metastore, store: &Arc<dyn ObjectStore>, kept: &BTreeMap<String, u64>, parent: i64) -> anyhow::Result<Convergence> {
    let p = ms.iteration(parent).await?;
    let pbucket = p.threshold_bucket.ok_or_else(|| anyhow::anyhow!("iteration {parent} has no threshold"))? as usize;
    let parent_kept = kept_pages(store, &ms.shards(parent).await?, pbucket).await?;
    Ok(Convergence::measure(parent, &parent_kept, kept))
}

/// Why [`delete_chain`] deleted nothing: the iteration has children and `recursive` was not
/// given, or an iteration to delete is still active.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DeleteRefused(pub String);

/// Deletes iteration `id` (its files, `iterations/<id>/` in its output folder, then its rows);
/// with `recursive` the chain below it first, deepest first. Refused ([`DeleteRefused`],
/// nothing deleted) while an iteration to delete is active, and for an iteration with children
/// without `recursive`. The output folder's `report.json` is then the newest remaining
/// iteration's report (removed when none is left). `out` replaces the recorded output folder
/// (see [`DriveOptions::out`]) and `storage` the recorded object-store settings; `flags` names
/// this process's store in suggested commands.
/// Returns one line per deleted iteration and one about `report.json`.
pub async fn delete_chain(ms: &Metastore, id: i64, recursive: bool, storage: Option<&StorageConfig>, out: Option<String>, flags: &str) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let it = ms.iteration(id).await?;
    // The chain below it, parents before children; deleted in reverse.
    let mut chain = vec![it.id];
    let mut i = 0;
    while i < chain.len() {
        chain.extend(ms.children(chain[i]).await?);
        i += 1;
    }
    if chain.len() > 1 && !recursive {
        let below = chain[1..].iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
        return Err(DeleteRefused(format!("iteration {id} has iterations grown from it ({below}): delete those first, or all of them with `corpusminer delete {id} --recursive`")).into());
    }
    for &c in &chain {
        let state = ms.iteration(c).await?.state;
        if IterationState::parse(&state).is_some_and(|s| s.is_active()) {
            return Err(DeleteRefused(format!("iteration {c} is {state}: cancel it first (`corpusminer cancel {c} {flags}`); nothing was deleted")).into());
        }
    }
    let mut cfg: RunConfig = serde_json::from_str(&it.config_json)?;
    if let Some(out) = out {
        cfg.out = out;
    }
    if let Some(storage) = storage {
        cfg.storage = storage.clone();
    }
    let store = output_store(&cfg)?;
    let mut s = String::new();
    for &c in chain.iter().rev() {
        let prefix = join_key(&["iterations", &c.to_string()]) + "/";
        let keys = store.list(&prefix).await?;
        for key in &keys {
            store.delete(key).await?;
        }
        ms.delete_iteration(c).await?;
        if !cfg.out.contains("://") {
            // A local folder keeps empty directories after its files are deleted; remove them
            // only when nothing else is left in them.
            let dir = std::path::Path::new(&cfg.out).join(&prefix);
            if walk_files(&dir) == 0 {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        let _ = writeln!(s, "iteration {c} deleted: {} files under {}{prefix} and its rows", keys.len(), store.uri());
    }
    // report.json describes the newest iteration that is left, never a deleted one.
    let mut newest = None;
    for c in ms.iteration_ids().await?.into_iter().rev() {
        if let Some(report) = ms.iteration(c).await?.report_json {
            newest = Some((c, report));
            break;
        }
    }
    match newest {
        Some((c, report)) => {
            store.put(crate::iteration::REPORT_KEY, report.into_bytes().into()).await?;
            let _ = writeln!(s, "{}{} is now iteration {c}'s report", store.uri(), crate::iteration::REPORT_KEY);
        }
        None => store.delete(crate::iteration::REPORT_KEY).await?,
    }
    Ok(s)
}

fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).map(|e| e.path()).map(|p| if p.is_dir() { walk_files(&p) } else { 1 }).sum()
}

/// The output store of iteration `it` (keys relative to its output folder), as [`drive`] opens
/// it: `storage` and `out` replace the recorded settings when given (see [`DriveOptions::out`]).
pub fn iteration_store(it: &Iteration, storage: Option<&StorageConfig>, out: Option<&str>) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut cfg: RunConfig = serde_json::from_str(&it.config_json).map_err(|e| anyhow::anyhow!("iteration {}'s stored config: {e}", it.id))?;
    if let Some(s) = storage {
        cfg.storage = s.clone();
    }
    if let Some(out) = out {
        cfg.out = out.to_string();
    }
    output_store(&cfg)
}
