//! The iterations this `serve` process drives: each runs [`corpusminer_coordinator::drive`] in
//! its own task (the same driver `run`, `iterate` and `resume` use, with in-process workers),
//! under the iteration's lease. A supervisor picks up every active iteration whose lease is
//! free or expired (one a restarted `serve` left, or one a killed replica held), so several
//! replicas on one PostgreSQL share the iterations and never drive one step twice.

use corpusminer_coordinator::driver::LeaseHeld;
use corpusminer_coordinator::{drive, DriveOptions, RunConfig};
use corpusminer_storage::{Metastore, StorageConfig};
use corpusminer_worker::Progress;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How this process drives iterations.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    /// Shards scored at once per iteration (in-process workers).
    pub workers: usize,
    /// Retries of a broken shard stream within one attempt.
    pub retries: u32,
    /// Attempts at a shard before it is failed.
    pub max_attempts: u32,
    /// Iteration lease time; renewed every third of it. A replica takes over an iteration this
    /// long after its driver stopped renewing.
    pub lease_ttl: Duration,
    /// The output folder replacing the recorded one (SQLite in a local `--out`), else `None`.
    pub out: Option<String>,
    /// Object-store settings replacing the recorded ones (`--s3-endpoint`), else `None`.
    pub storage: Option<StorageConfig>,
    /// Lease holder name of this process (`host:pid`).
    pub holder: String,
}

struct Running {
    progress: Arc<Progress>,
    /// Aborts the drive (and, dropped with it, its workers and heartbeat).
    drive: tokio::task::AbortHandle,
    /// Ends once the drive has ended, however it ended.
    watcher: tokio::task::JoinHandle<()>,
}

/// The drives of this process (cheap to clone: shared).
#[derive(Clone)]
pub struct Drivers {
    ms: Metastore,
    settings: Arc<DriverSettings>,
    running: Arc<Mutex<HashMap<i64, Running>>>,
    /// Set by [`Drivers::shutdown`]: no drive starts after it.
    stopping: Arc<AtomicBool>,
}

/// What a running drive shows of itself.
#[derive(Debug, Clone)]
pub struct LocalStep {
    /// The state being worked on (`scoring`).
    pub step: String,
    /// What in it (`reading seed file 1 of 2 …`).
    pub detail: String,
}

impl Drivers {
    /// No drives yet.
    pub fn new(ms: Metastore, settings: DriverSettings) -> Self {
        Drivers { ms, settings: Arc::new(settings), running: Arc::default(), stopping: Arc::default() }
    }

    /// The settings drives run with.
    pub fn settings(&self) -> &DriverSettings {
        &self.settings
    }

    /// Starts driving iteration `id` in a task, unless this process drives it already or is
    /// stopping (then `false`). `reclaim`: hand back shard leases a stopped driver held (takeover, resume).
    /// `live_config`: the configuration with its credentials (a new iteration); `None` reads
    /// the stored one. A lease held by another live process makes the task end at once,
    /// logged, with nothing changed.
    pub fn start(&self, id: i64, reclaim: bool, live_config: Option<RunConfig>) -> bool {
        let mut running = self.running.lock().expect("drivers lock");
        if running.contains_key(&id) || self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let s = &self.settings;
        let mut opts = DriveOptions::new(s.workers, s.retries, s.max_attempts, s.holder.clone());
        opts.reclaim_leases = reclaim;
        opts.lease_ttl = s.lease_ttl;
        opts.out = s.out.clone();
        opts.live_config = live_config;
        let progress = opts.progress.clone();
        // The drive runs in a task of its own, watched by a second one: a panic in the drive is
        // seen by the watcher, and the iteration is never left marked as driven here.
        let (ms, storage) = (self.ms.clone(), self.settings.storage.clone());
        let drive_task = tokio::spawn(async move { drive(&ms, id, storage.as_ref(), &opts).await });
        let drive_abort = drive_task.abort_handle();
        let running_map = self.running.clone();
        let watcher = tokio::spawn(async move {
            match drive_task.await {
                Ok(Ok(o)) => tracing::info!(iteration = id, state = %o.state, "drive ended"),
                Ok(Err(e)) if e.downcast_ref::<LeaseHeld>().is_some() => tracing::info!(iteration = id, "{e}"),
                Ok(Err(e)) => tracing::error!(iteration = id, "{e:#}"),
                Err(e) if e.is_panic() => tracing::error!(iteration = id, "the drive panicked: {e}; its lease runs out and the iteration is picked up again"),
                Err(_) => {}
            }
            running_map.lock().expect("drivers lock").remove(&id);
        });
        running.insert(id, Running { progress, drive: drive_abort, watcher });
        tracing::info!(iteration = id, reclaim, "driving");
        true
    }

    /// Whether this process drives iteration `id` now.
    pub fn is_driving(&self, id: i64) -> bool {
        self.running.lock().expect("drivers lock").contains_key(&id)
    }

    /// The iterations this process drives now, by id.
    pub fn driving(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.running.lock().expect("drivers lock").keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The step and sub-step of iteration `id`, when this process drives it.
    pub fn step(&self, id: i64) -> Option<LocalStep> {
        let running = self.running.lock().expect("drivers lock");
        let step = running.get(&id)?.progress.step();
        Some(LocalStep { step: step.name, detail: step.detail })
    }

    /// Every `every`, starts driving each active iteration whose lease is free or expired and
    /// that nobody touched for a lease time. Runs until the task is dropped or aborted.
    pub async fn supervise(self, every: Duration) {
        loop {
            match self.ms.unleased_active_iterations(self.settings.lease_ttl).await {
                Ok(ids) => {
                    for id in ids {
                        if !self.is_driving(id) {
                            tracing::info!(iteration = id, "picking up an active iteration nobody drives");
                            self.start(id, true, None);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing iterations to pick up failed; trying again"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Stops every drive of this process (SIGTERM): each task is aborted, the shards it had
    /// leased go back to `pending` (their old tokens no longer complete them, so nothing is
    /// counted twice) and its iteration lease is given back, so a replica or a restarted
    /// `serve` goes on at once. Returns the iterations stopped.
    pub async fn shutdown(&self) -> Vec<i64> {
        let stopped: Vec<(i64, Running)> = {
            let mut running = self.running.lock().expect("drivers lock");
            self.stopping.store(true, Ordering::SeqCst);
            running.drain().collect()
        };
        for (_, r) in &stopped {
            r.drive.abort();
        }
        let mut ids = Vec::with_capacity(stopped.len());
        for (id, r) in stopped {
            // Once the drive is gone its workers are too (dropped with it): no shard is leased
            // after the leases are handed back below.
            let _ = r.watcher.await;
            match self.ms.iteration_lease(id).await {
                Ok(Some(lease)) if lease.holder == corpusminer_coordinator::driver::lease_holder_name(&self.settings.holder) => {
                    let released = async {
                        let shards = self.ms.requeue_leased(id).await?;
                        self.ms.release_iteration_lease(&lease).await?;
                        Ok::<u64, corpusminer_storage::MetastoreError>(shards)
                    };
                    match released.await {
                        Ok(shards) => tracing::info!(iteration = id, shards, "drive stopped: shard leases and the iteration lease handed back"),
                        Err(e) => tracing::warn!(iteration = id, error = %e, "handing leases back failed (they expire by themselves)"),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(iteration = id, error = %e, "reading the iteration lease failed"),
            }
            ids.push(id);
        }
        ids
    }
}
