//! The async lease loop: lease a shard, stream it (renewing the lease every third of its
//! term), write its files, commit its aggregates, all through a [`ShardQueue`].

use crate::queue::{QueueError, ShardQueue};
use crate::shard::{process_shard_caught, ShardContext, ShardFailure};
use bytes::Bytes;
use corpusminer_pipeline::scored::encode_rows;
use corpusminer_storage::metastore::{HostBucket, HostLanguage, LanguageBucket, Lease, ShardResult};
use corpusminer_storage::{open_resumable, redact_uri, resolve, ObjectStore, RetryPolicy, StorageConfig, StorageError, StorageErrorKind};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::io::SyncIoBridge;

/// Where a worker finds its work and leaves its output.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The iteration whose shards to process.
    pub iteration: i64,
    /// Name recorded on leases (host:pid:n).
    pub name: String,
    /// The object store receiving `scored/` and `texts/` files, and the key prefix in it.
    pub out_store: Arc<dyn ObjectStore>,
    /// Key prefix of this iteration's files in `out_store` (e.g. `iterations/3`).
    pub out_prefix: String,
    /// How shard URIs are resolved (S3 endpoint and the like).
    pub storage: StorageConfig,
    /// Retries of a broken shard stream (within one attempt).
    pub retry: RetryPolicy,
    /// Attempts at a shard whose stream broke for good before it is `failed` (a failed attempt
    /// puts it back in the queue); failures that a retry cannot fix (`not_found`,
    /// `unauthorized`, `unsupported`, `empty`, `not_warc`, `panic`) fail it at once.
    pub max_attempts: u32,
    /// How long a lease lasts unless renewed; the worker renews it every third of this while it
    /// works on the shard, so only a worker that stopped (killed, stalled, cut off) loses it.
    pub lease: Duration,
    /// Shards processed at once (one CPU thread each).
    pub concurrency: usize,
}

/// What one worker did.
#[derive(Debug, Default, Clone)]
pub struct WorkerSummary {
    /// Shards this worker completed.
    pub shards_done: u64,
    /// Shards this worker marked failed for good.
    pub shards_failed: u64,
    /// Failed attempts that put their shard back in the queue.
    pub attempts_failed: u64,
    /// Completions refused because the lease was lost (another worker owns the shard now).
    pub leases_lost: u64,
}

/// Worker errors that stop the loop (a failing shard does not: it is marked failed).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The shard queue (the metastore, or the coordinator) failed.
    #[error("shard queue: {0}")]
    Queue(#[from] QueueError),
    /// The output store failed.
    #[error("object store: {0}")]
    Storage(#[from] StorageError),
}

/// The file-name-safe key of a shard: its id and the last path segment of its URI.
pub fn shard_key(shard_id: i64, uri: &str) -> String {
    let base = uri.rsplit('/').next().unwrap_or(uri);
    let base = base.strip_suffix(".gz").unwrap_or(base);
    let base = base.strip_suffix(".warc").unwrap_or(base);
    let safe: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    format!("{shard_id:06}-{safe}")
}

/// Runs `config.concurrency` lease loops on `queue` until no shard is left to lease.
pub async fn run_worker(
    queue: std::sync::Arc<dyn ShardQueue>,
    config: WorkerConfig,
    ctx: ShardContext,
) -> Result<WorkerSummary, WorkerError> {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..config.concurrency.max(1) {
        let (queue, config, ctx) = (queue.clone(), config.clone(), ctx.clone());
        tasks.spawn(async move { lease_loop(queue.as_ref(), config, ctx, n).await });
    }
    let mut summary = WorkerSummary::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("worker task panicked") {
            Ok(s) => {
                summary.shards_done += s.shards_done;
                summary.shards_failed += s.shards_failed;
                summary.attempts_failed += s.attempts_failed;
                summary.leases_lost += s.leases_lost;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

async fn lease_loop(
    queue: &dyn ShardQueue,
    config: WorkerConfig,
    ctx: ShardContext,
    n: usize,
) -> Result<WorkerSummary, WorkerError> {
    let name = format!("{}:{n}", config.name);
    let mut summary = WorkerSummary::default();
    loop {
        // A cancelled iteration stops here, between shards (cancel is checked per lease).
        if queue.cancelled(config.iteration).await? {
            tracing::warn!(iteration = config.iteration, "iteration cancelled; worker stops");
            break;
        }
        let Some(lease) = queue.lease(config.iteration, &name, config.lease).await? else { break };
        tracing::info!(shard = %redact_uri(&lease.uri), attempt = lease.attempts, "leased shard");
        corpusminer_storage::fault::point("shard_leased");
        let processed = with_heartbeats(queue, lease.clone(), config.lease, process_leased(&config, &ctx, &lease)).await;
        match processed {
            Ok(result) => match queue.complete(&lease, &result).await {
                Ok(()) => {
                    summary.shards_done += 1;
                    corpusminer_storage::fault::point("shard_completed");
                }
                Err(QueueError::LeaseLost { .. }) => {
                    tracing::warn!(shard = %redact_uri(&lease.uri), "lease lost before completion; not counted");
                    summary.leases_lost += 1;
                }
                Err(e) => return Err(e.into()),
            },
            Err(failure) => {
                let retry = failure.retryable() && lease.attempts < i64::from(config.max_attempts.max(1));
                let shard = redact_uri(&lease.uri);
                let (reason, attempt) = (failure.reason(), lease.attempts);
                match queue.fail(&lease, reason, &failure.to_string(), retry).await {
                    Ok(()) if retry => {
                        tracing::warn!(%shard, reason, attempt, max_attempts = config.max_attempts, error = %failure, "shard attempt failed; back in the queue");
                        summary.attempts_failed += 1;
                        continue;
                    }
                    Ok(()) => {
                        tracing::error!(%shard, reason, attempt, error = %failure, "shard failed");
                        summary.shards_failed += 1;
                    }
                    Err(QueueError::LeaseLost { .. }) => {
                        tracing::warn!(%shard, "lease lost before the failure was recorded; not counted");
                        summary.leases_lost += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        ctx.progress.shards.fetch_add(1, Ordering::Relaxed);
    }
    Ok(summary)
}

/// Runs `work` while renewing `lease` every third of `ttl`. A heartbeat that finds the lease
/// lost, or fails, is logged and the work goes on: its completion is then refused by the lease
/// token, so a slow holder never counts a shard another worker took over.
async fn with_heartbeats<T>(queue: &dyn ShardQueue, mut lease: Lease, ttl: Duration, work: impl std::future::Future<Output = T>) -> T {
    let beat = async {
        let mut every = tokio::time::interval((ttl / 3).max(Duration::from_millis(10)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            match queue.heartbeat(&mut lease, ttl).await {
                Ok(h) if h.held => {}
                Ok(_) => {
                    tracing::warn!(shard = %redact_uri(&lease.uri), "lease lost while working on the shard (another worker has it); this attempt will not count");
                    return;
                }
                Err(e) => tracing::warn!(shard = %redact_uri(&lease.uri), error = %e, "heartbeat failed; trying again"),
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => out,
        () = beat => work.await,
    }
}

/// Streams the leased shard, writes its files, and returns the aggregates to commit. A failed
/// attempt leaves no file behind: what it wrote is removed.
async fn process_leased(config: &WorkerConfig, ctx: &ShardContext, lease: &Lease) -> Result<ShardResult, ShardFailure> {
    let skey = shard_key(lease.shard_id, &lease.uri);
    let scored_key = format!("{}/scored/{skey}.jsonl.zst", config.out_prefix);
    let texts_key = format!("{}/texts/{skey}.jsonl.zst", config.out_prefix);
    let result = score_and_write(config, ctx, lease, &scored_key, &texts_key).await;
    if result.is_err() {
        for key in [&scored_key, &texts_key] {
            if let Err(e) = config.out_store.delete(key).await {
                if e.kind() != StorageErrorKind::NotFound {
                    tracing::warn!(key = %key, error = %corpusminer_storage::error_chain(&e), "partial file of a failed attempt not removed");
                }
            }
        }
    }
    result
}

async fn score_and_write(config: &WorkerConfig, ctx: &ShardContext, lease: &Lease, scored_key: &str, texts_key: &str) -> Result<ShardResult, ShardFailure> {
    let io = |e: StorageError| ShardFailure::from_storage(&e);
    let (store, key) = resolve(&lease.uri, &config.storage).map_err(io)?;
    let reader = open_resumable(store, &key, config.retry).await.map_err(io)?;
    let ctx2 = ctx.clone();
    // Parsing, scoring and zstd encoding are CPU work: off the async runtime, on a blocking
    // thread, so that other shards' network reads never wait for them.
    let (out, scored, texts) = tokio::task::spawn_blocking(move || {
        let out = process_shard_caught(SyncIoBridge::new(reader), &ctx2)?;
        let (scored, texts) = (encode_rows(&out.pages), encode_rows(&out.texts));
        Ok::<_, ShardFailure>((out, scored, texts))
    })
    .await
    .map_err(|e| ShardFailure::Panic(e.to_string()))??;
    config.out_store.put(texts_key, Bytes::from(texts)).await.map_err(io)?;
    config.out_store.put(scored_key, Bytes::from(scored)).await.map_err(io)?;
    Ok(ShardResult {
        scored_key: scored_key.to_string(),
        texts_key: texts_key.to_string(),
        records: out.records as i64,
        pages: out.pages.len() as i64,
        bytes_in: out.bytes_in as i64,
        histogram: out.histogram.rows(),
        hosts: out
            .hosts
            .iter()
            .map(|((host, domain, bucket), cell)| HostBucket {
                host: host.clone(),
                domain: domain.clone(),
                bucket: *bucket as i64,
                pages: cell.pages as i64,
                tokens: cell.tokens as i64,
            })
            .collect(),
        skips: out.counters.0.clone(),
        languages: out
            .languages
            .iter()
            .map(|((lang, bucket), cell)| LanguageBucket { lang: lang.clone(), bucket: *bucket as i64, pages: cell.pages as i64, tokens: cell.tokens as i64 })
            .collect(),
        host_languages: out
            .host_languages
            .iter()
            .map(|((host, lang), cell)| HostLanguage { host: host.clone(), lang: lang.clone(), pages: cell.pages as i64, tokens: cell.tokens as i64 })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::{shard_key, with_heartbeats};
    use corpusminer_storage::Metastore;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn heartbeats_keep_a_slow_shard_leased_past_its_term() {
        let dir = tempfile::tempdir().unwrap();
        let ms = Metastore::connect(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
        let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
        ms.add_shards(it, &["s3://b/CC-MAIN-0.warc.gz".to_string()]).await.unwrap();
        let ttl = Duration::from_millis(300);
        let lease = ms.lease_shard(it, "slow", ttl).await.unwrap().unwrap();
        // Work four terms long: renewed every third of a term, nobody else gets the shard.
        let other = ms.clone();
        let taken = with_heartbeats(&ms, lease.clone(), ttl, async move {
            tokio::time::sleep(ttl * 4).await;
            other.lease_shard(it, "fast", ttl).await.unwrap()
        })
        .await;
        assert!(taken.is_none(), "a renewed lease is not taken over");
        // The same wait without heartbeats loses it.
        tokio::time::sleep(ttl * 2).await;
        assert!(ms.lease_shard(it, "fast", ttl).await.unwrap().is_some(), "an unrenewed lease runs out");
        ms.close().await;
    }

    #[test]
    fn shard_keys_are_safe_and_unique_per_id() {
        assert_eq!(
            shard_key(3, "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/x/warc/CC-MAIN-2024-00001.warc.gz"),
            "000003-CC-MAIN-2024-00001"
        );
        assert_eq!(shard_key(12, "/data/a b?.warc"), "000012-a_b_");
    }
}
