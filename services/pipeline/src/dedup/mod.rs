//! Dedup of the pool: exact URL dedup, then near-duplicate removal with MinHash LSH
//! (arXiv 2402.03300 §2.1: the pool is "Common Crawl after URL dedup and near-dedup").
//!
//! - [`url`]: [`normalize_url`] (the dedup key of a URL) and [`dedup_urls`] (keeps the smallest
//!   id of each key).
//! - [`minhash`]: [`MinHasher`], signatures over word 5-grams (112 permutations by default,
//!   `(a*x + b) mod (2^61 - 1)`).
//! - [`lsh`]: banding ([`LshConfig`]: 14 bands x 8 rows, threshold 0.8), band rows written per
//!   shard into partition files, clustering one partition at a time with candidate pairs
//!   confirmed by estimated Jaccard, union-find clusters, kept page = highest score then
//!   smallest id. [`dedup_partitions`] is the out-of-core driver; [`dedup_in_memory`] runs both
//!   steps on a slice of documents with the same pieces (and gives the same clusters).
//!
//! Pure: no I/O beyond the `Read`/`Write`/`Seek` streams the caller hands in.

pub mod lsh;
pub mod minhash;
pub mod url;

#[cfg(test)]
mod tests;

pub use lsh::{
    band_keys, cluster_bucket_partition, dedup_partitions, read_band_rows, resolve_clusters, BandRow, BandRowWriter,
    Cluster, FileSignatures, LshConfig, MemorySignatures, NearDupReport, NearDupWriter, SignatureFileWriter,
    SignatureLookup, StoredSignature, UnionFind,
};
pub use minhash::{estimated_jaccard, MinHasher};
pub use url::{dedup_urls, normalize_url, url_key, UrlDedupReport};

use crate::stats::Counters;

/// Default seed of [`MinHasher`] for the pipeline: every shard must use the same one.
pub const DEFAULT_SEED: u64 = 0x00C0_FFEE_2402_0330;

/// Errors of the dedup stage. Each has a stable snake_case [`reason`](Self::reason).
#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    /// A URL that does not parse as an absolute URL with a host (the URL, cut to 200 chars).
    #[error("bad url: {0}")]
    BadUrl(String),
    /// Inconsistent parameters (bands, rows, threshold, permutations, partitions).
    #[error("bad dedup config: {0}")]
    Config(String),
    /// A signature whose length is not `bands * rows`.
    #[error("signature of {got} values, expected {expected}")]
    SignatureLength {
        /// `bands * rows`.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A partition holds more rows than the memory budget: use more partitions.
    #[error("partition {partition} holds more than {max_rows} rows")]
    PartitionOverBudget {
        /// Partition index.
        partition: usize,
        /// The budget, in rows.
        max_rows: usize,
    },
    /// A signature store whose index and contents disagree.
    #[error("corrupt signature store: {0}")]
    CorruptStore(String),
    /// Reading or writing a stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl DedupError {
    /// Stable snake_case reason: `bad_url`, `bad_config`, `signature_length`,
    /// `partition_over_budget`, `corrupt_store`, `io_error`.
    pub fn reason(&self) -> &'static str {
        match self {
            DedupError::BadUrl(_) => "bad_url",
            DedupError::Config(_) => "bad_config",
            DedupError::SignatureLength { .. } => "signature_length",
            DedupError::PartitionOverBudget { .. } => "partition_over_budget",
            DedupError::CorruptStore(_) => "corrupt_store",
            DedupError::Io(_) => "io_error",
        }
    }
}

/// One page as dedup sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupDoc<'a> {
    /// Page id, unique in the run (e.g. shard index << 32 | record index).
    pub id: u64,
    /// Page URL (WARC-Target-URI).
    pub url: &'a str,
    /// Classifier score; the kept page of a near-duplicate cluster is the highest.
    pub score: f32,
    /// Extracted main text.
    pub text: &'a str,
}

/// What [`dedup_in_memory`] removed, step by step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DedupReport {
    /// Step 1, exact URL dedup.
    pub url: UrlDedupReport,
    /// Step 2, near-dedup of the pages step 1 kept.
    pub near: NearDupReport,
    /// Ids kept by both steps, ascending.
    pub kept: Vec<u64>,
    /// `pages`, `url_duplicate_removed`, `bad_url`, `no_words`, `near_duplicate_removed`,
    /// `kept`, and the pair counters of near-dedup.
    pub counters: Counters,
}

/// Both dedup steps on documents held in memory, built on the out-of-core pieces (signatures,
/// [`band_keys`], [`cluster_bucket_partition`] over one partition holding every row).
/// A page without a word (`no_words`) is kept and never clustered.
/// Errors: [`DedupError::Config`] when `cfg` is invalid.
pub fn dedup_in_memory(docs: &[DedupDoc<'_>], cfg: &LshConfig, seed: u64) -> Result<DedupReport, DedupError> {
    cfg.validate()?;
    let hasher = MinHasher::new(cfg.num_perm(), seed);
    let url = dedup_urls(docs.iter().map(|d| (d.id, d.url)));
    let survivors: std::collections::HashSet<u64> = url.kept.iter().copied().collect();
    let mut store = MemorySignatures::default();
    let mut rows = Vec::new();
    let mut counters = Counters::default();
    let mut seen = std::collections::HashSet::new();
    for d in docs.iter().filter(|d| survivors.contains(&d.id)) {
        if !seen.insert(d.id) {
            continue;
        }
        match hasher.signature(d.text) {
            Some(sig) => {
                rows.extend(band_keys(d.id, &sig, cfg)?);
                store.0.insert(d.id, StoredSignature { id: d.id, score: d.score, signature: sig });
            }
            None => counters.incr("no_words"),
        }
    }
    let mut near = NearDupReport { peak_rows_in_memory: rows.len(), ..Default::default() };
    near.counters.add("band_rows", rows.len() as u64);
    let mut uf = UnionFind::default();
    cluster_bucket_partition(&mut rows, &mut store, cfg, &mut uf, &mut near.counters)?;
    lsh::finish_report(&mut near, &mut uf, &mut store)?;

    let removed: std::collections::HashSet<u64> =
        near.clusters.iter().flat_map(|c| c.removed.iter().copied()).collect();
    let kept: Vec<u64> = url.kept.iter().copied().filter(|id| !removed.contains(id)).collect();
    counters.merge(&url.counters);
    counters.merge(&near.counters);
    counters.add("kept", kept.len() as u64);
    Ok(DedupReport { url, near, kept, counters })
}
