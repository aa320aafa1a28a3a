//! The corpus: kept pages as dolma documents (`id`, `text`, `source`, `added`, `created`,
//! `metadata`) in zstd-compressed JSON Lines, one file per shard, plus `manifest.json`, after
//! the [`crate::filters`] steps (exact URL and content dedup, near-dedup, decontamination), whose
//! details go to `near_duplicates.jsonl` and `decontamination.jsonl` beside them.

use crate::filters::{
    BenchmarkRemoval, ClusterEntry, ClusterPage, CorpusFilters, DecontamSummary, FilterError, FilterReport, LoadedBenchmark,
    NearDupSettings, NearDupSummary,
};
use bytes::Bytes;
use corpusminer_pipeline::decontam::Decontaminator;
use corpusminer_pipeline::dedup::{
    dedup_partitions, estimated_jaccard, url_key, BandRowWriter, DedupError, FileSignatures, MinHasher, NearDupWriter,
    SignatureFileWriter, SignatureLookup, DEFAULT_SEED,
};
use corpusminer_pipeline::histogram::{bucket_of, Selection};
use corpusminer_pipeline::scored::{encode_rows, rows, PageText, ScoredPage};
use corpusminer_pipeline::stats::Counters;
use corpusminer_pipeline::text::TokenCounter;
use corpusminer_storage::metastore::ShardRow;
use corpusminer_storage::ObjectStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Errors writing the corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A shard's scored-page or text file could not be read or written.
    #[error("{key}: {message}")]
    File {
        /// Object key.
        key: String,
        /// The cause.
        message: String,
    },
    /// A done shard has no text file recorded (an output folder written before text-file keys
    /// were recorded: rerun its iteration).
    #[error("shard {shard} is done but has no text file recorded; rerun its iteration")]
    NoTexts {
        /// The shard's URI.
        shard: String,
    },
    /// A kept page has no stored text (its score was under the text floor).
    #[error("kept page {id} has no stored text: the threshold {threshold} is under the text floor; rerun with a lower --text-floor")]
    MissingText {
        /// The page.
        id: String,
        /// The threshold.
        threshold: f64,
    },
    /// The filters could not be resolved or loaded (a missing benchmark, a bad setting).
    #[error(transparent)]
    Filters(#[from] FilterError),
    /// Near-duplicate removal failed (its temporary files, or a partition over the memory
    /// budget: raise `max_rows_in_memory`).
    #[error("near-duplicate removal: {0}")]
    NearDup(#[from] DedupError),
}

impl From<std::io::Error> for CorpusError {
    fn from(e: std::io::Error) -> Self {
        CorpusError::NearDup(DedupError::Io(e))
    }
}

/// One corpus document in the dolma format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DolmaDocument {
    /// Document id (the WARC-Record-ID's UUID).
    pub id: String,
    /// Main text, mathematics as LaTeX.
    pub text: String,
    /// `corpusminer/<crawl>`.
    pub source: String,
    /// When corpusminer added it (RFC 3339).
    pub added: String,
    /// The capture's WARC-Date.
    pub created: Option<String>,
    /// Where it came from and how it scored.
    pub metadata: DocumentMetadata,
}

/// The `metadata` of a [`DolmaDocument`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMetadata {
    /// Page URL.
    pub url: String,
    /// Host (the domain of the 10% rule).
    pub host: String,
    /// Registrable domain.
    pub domain: String,
    /// Classifier score P(math).
    pub score: f32,
    /// Token count.
    pub tokens: u64,
    /// Crawl id.
    pub crawl: String,
    /// The shard's URI.
    pub shard: String,
    /// Offset of the record's gzip member in the shard, bytes.
    pub warc_offset: u64,
    /// Compressed length of the record, bytes.
    pub warc_length: u64,
    /// Language of the text, ISO 639-1 (`und` when it could not be told): dolma's
    /// `metadata.lang`.
    #[serde(default = "undetermined")]
    pub lang: String,
}

fn undetermined() -> String {
    corpusminer_pipeline::lang::UNDETERMINED.to_string()
}

/// One corpus file in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the corpus folder.
    pub path: String,
    /// Documents in it.
    pub documents: u64,
    /// Tokens in it.
    pub tokens: u64,
    /// Compressed size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// `corpus/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Crawl id.
    pub crawl: String,
    /// Iteration id in the metastore.
    pub iteration: i64,
    /// The selection: threshold, bucket and what the histogram says it keeps.
    pub selection: Selection,
    /// Model file and its SHA-256.
    pub model_uri: String,
    /// Hex SHA-256 of the model file.
    pub model_sha256: String,
    /// Documents written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// Kept pages dropped as exact duplicates of another kept page's text.
    pub exact_duplicates_removed: u64,
    /// What each filter removed: same URL, same text, near-duplicates, decontamination.
    #[serde(default)]
    pub filters: FilterReport,
    /// The files.
    pub files: Vec<ManifestFile>,
}

/// What the corpus pass learned besides the files: used by the report.
#[derive(Debug, Default, Clone)]
pub struct CorpusSummary {
    /// Documents written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// Exact duplicates removed.
    pub duplicates: u64,
    /// For each page whose URL is in the label map: (label is math, page kept).
    pub labelled: Vec<(bool, bool)>,
    /// The language of each page of `labelled`, in the same order.
    pub labelled_langs: Vec<String>,
    /// Every kept page (score bucket at or above the selection's, before dedup): id → tokens.
    pub kept: std::collections::BTreeMap<String, u64>,
}

/// One shard's kept pages (score bucket at or above the selection's), in file order: the only
/// scored rows the corpus writer holds.
struct ShardPages {
    shard_uri: String,
    scored_key: String,
    texts_key: String,
    pages: Vec<ScoredPage>,
}

/// A kept page by position: (index in the shard list, index in the shard's kept pages). Kept
/// pages keep their file order, so positions order pages as their places in the files do.
type Pos = (usize, usize);

/// A blocking reader of the object `key`, streamed from the store (for use off the runtime, in
/// [`blocking`]): memory holds a buffer, never the object.
async fn open_blocking(store: &Arc<dyn ObjectStore>, key: &str) -> Result<impl std::io::Read + Send + 'static, CorpusError> {
    let reader = store.open_read(key, 0).await.map_err(|e| CorpusError::File { key: key.to_string(), message: e.to_string() })?;
    Ok(std::io::BufReader::with_capacity(1 << 20, tokio_util::io::SyncIoBridge::new(reader)))
}

/// Streams a scored-page file and keeps the kept pages (bucket at or above `bucket`); each
/// page whose URL is in `labels` adds (label is math, kept) to `labelled`, in file order.
fn read_kept(
    key: &str,
    input: impl std::io::Read,
    bucket: usize,
    labels: Option<&HashMap<String, bool>>,
    labelled: &mut Vec<(bool, bool)>,
    langs: &mut Vec<String>,
) -> Result<Vec<ScoredPage>, CorpusError> {
    let err = |e: corpusminer_pipeline::scored::RowsError| CorpusError::File { key: key.to_string(), message: e.to_string() };
    let mut kept = Vec::new();
    for page in rows::<ScoredPage, _>(input).map_err(err)? {
        let p = page.map_err(err)?;
        let is_kept = bucket_of(p.score) >= bucket;
        if let Some(&math) = labels.and_then(|l| l.get(&p.url)) {
            labelled.push((math, is_kept));
            langs.push(p.lang.clone());
        }
        if is_kept {
            kept.push(p);
        }
    }
    kept.shrink_to_fit();
    Ok(kept)
}

/// Streams a text file and keeps the texts of the pages in `wanted`, by id; the other rows
/// are read and dropped one at a time.
fn read_wanted_texts(key: &str, input: impl std::io::Read, wanted: &HashSet<&str>) -> Result<HashMap<String, String>, CorpusError> {
    let err = |e: corpusminer_pipeline::scored::RowsError| CorpusError::File { key: key.to_string(), message: e.to_string() };
    let mut texts = HashMap::with_capacity(wanted.len());
    for row in rows::<PageText, _>(input).map_err(err)? {
        let t = row.map_err(err)?;
        if wanted.contains(t.id.as_str()) {
            texts.insert(t.id, t.text);
        }
    }
    Ok(texts)
}

async fn put_bytes(store: &Arc<dyn ObjectStore>, key: String, bytes: Vec<u8>) -> Result<(), CorpusError> {
    store.put(&key, Bytes::from(bytes)).await.map_err(|e| CorpusError::File { key, message: e.to_string() })
}

/// Runs CPU work off the async runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, CorpusError> + Send + 'static) -> Result<T, CorpusError> {
    tokio::task::spawn_blocking(f).await.expect("corpus work panicked")
}

/// One page of each group of `pages` sharing `key`: the smallest (id, position). Sorted.
fn first_of_each(shards: &[ShardPages], pages: &[Pos], key: impl Fn(&ScoredPage) -> String) -> Vec<Pos> {
    let page = |&(s, i): &Pos| &shards[s].pages[i];
    let mut winner: HashMap<String, Pos> = HashMap::with_capacity(pages.len());
    for pos in pages {
        let w = winner.entry(key(page(pos))).or_insert(*pos);
        if (&page(pos).id, pos) < (&page(&*w).id, &*w) {
            *w = *pos;
        }
    }
    let mut out: Vec<Pos> = winner.into_values().collect();
    out.sort_unstable();
    out
}

/// Writes the corpus of the pages kept by `selection` under `corpus_prefix` in `store`.
///
/// The kept pages go through the [`crate::filters`] steps in order: exact URL dedup across
/// shards, exact content dedup (same text hash; in both the page with the smallest id is kept,
/// so the result does not depend on shard order or location), near-duplicate removal (unless
/// `filters.near_dup` is `None`), decontamination (trimmed documents get their tokens recounted
/// with `tokens`). Besides the corpus files and `manifest.json` it writes
/// `near_duplicates.jsonl` (every cluster: kept page, removed pages) and `decontamination.jsonl`
/// (every document that lost a paragraph) to the corpus folder.
///
/// Memory is bounded by what is kept, not by the crawl: scored and text files are streamed
/// row by row; the kept pages' scored rows (a few hundred bytes each) and their ids stay in
/// memory, plus, one shard at a time, the texts of that shard's kept pages. Near-dedup's band
/// rows go to temporary files ([`NearDupSettings::max_rows_in_memory`]).
///
/// Errors: a file that cannot be read or written, a kept page without text, the filters'
/// errors (a missing benchmark file among them: [`FilterError`]), near-dedup's temporary files.
#[allow(clippy::too_many_arguments)]
pub async fn write_corpus(
    store: &Arc<dyn ObjectStore>,
    shards: &[ShardRow],
    corpus_prefix: &str,
    selection: &Selection,
    crawl: &str,
    iteration: i64,
    model: (&str, &str),
    labels: Option<&HashMap<String, bool>>,
    filters: &CorpusFilters,
    tokens: &TokenCounter,
) -> Result<(Manifest, CorpusSummary), CorpusError> {
    let loaded = {
        let f = filters.clone();
        blocking(move || Ok(f.load()?)).await?
    };
    let mut summary = CorpusSummary::default();
    let mut shard_pages = Vec::new();
    // Pass 1: the kept pages, streamed out of each shard's scored file.
    let labels: Option<Arc<HashMap<String, bool>>> = labels.map(|l| Arc::new(l.clone()));
    let mut kept: Vec<Pos> = Vec::new();
    for shard in shards.iter().filter(|s| s.scored_key.is_some()) {
        let key = shard.scored_key.clone().unwrap_or_default();
        let texts_key = shard.texts_key.clone().ok_or_else(|| CorpusError::NoTexts { shard: shard.uri.clone() })?;
        let input = open_blocking(store, &key).await?;
        let (k, bucket, l) = (key.clone(), selection.bucket, labels.clone());
        let (pages, labelled, langs) = blocking(move || {
            let (mut labelled, mut langs) = (Vec::new(), Vec::new());
            Ok((read_kept(&k, input, bucket, l.as_deref(), &mut labelled, &mut langs)?, labelled, langs))
        })
        .await?;
        summary.labelled.extend(labelled);
        summary.labelled_langs.extend(langs);
        for (i, p) in pages.iter().enumerate() {
            kept.push((shard_pages.len(), i));
            summary.kept.insert(p.id.clone(), p.tokens);
        }
        shard_pages.push(ShardPages { shard_uri: shard.uri.clone(), scored_key: key, texts_key, pages });
    }
    let mut report = FilterReport { kept_pages: kept.len() as u64, ..FilterReport::default() };
    // Steps 1 and 2: exact URL, then exact content.
    let alive = first_of_each(&shard_pages, &kept, |p| url_key(&p.url));
    report.url_duplicates_removed = (kept.len() - alive.len()) as u64;
    let deduped = first_of_each(&shard_pages, &alive, |p| p.content_hash.clone());
    report.exact_duplicates_removed = (alive.len() - deduped.len()) as u64;
    summary.duplicates = report.exact_duplicates_removed;

    for old in store.list(&format!("{corpus_prefix}/")).await.map_err(|e| CorpusError::File { key: corpus_prefix.into(), message: e.to_string() })? {
        let _ = store.delete(&old).await;
    }
    // Step 3: near-duplicates.
    let survivors = match loaded.settings.near_dup {
        Some(nd) => {
            let (survivors, mut near) = near_dedup(store, &shard_pages, &deduped, &nd, selection.threshold).await?;
            let all = std::mem::take(&mut near.listed);
            let mut lines = Vec::new();
            for c in &all {
                lines.extend(serde_json::to_vec(c).expect("cluster serialises"));
                lines.push(b'\n');
            }
            near.file = "near_duplicates.jsonl".into();
            put_bytes(store, format!("{corpus_prefix}/{}", near.file), lines).await?;
            let mut listed = all;
            listed.sort_by(|a, b| b.removed.len().cmp(&a.removed.len()).then_with(|| a.kept.id.cmp(&b.kept.id)));
            listed.truncate(loaded.settings.listed_clusters);
            near.listed = listed;
            report.near_duplicates_removed = near.removed;
            report.near_dup = Some(near);
            survivors
        }
        None => deduped,
    };

    // Step 4 and the files: per shard, the survivors with their (decontaminated) text.
    let added = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut decontam = DecontamSummary {
        drop_fraction: loaded.settings.drop_fraction,
        benchmarks: loaded.benchmarks.iter().map(|b| BenchmarkRemoval { benchmark: b.clone(), ..Default::default() }).collect(),
        ..DecontamSummary::default()
    };
    let mut touched_lines = Vec::new();
    let mut files = Vec::new();
    let mut by_shard: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(s, i) in &survivors {
        by_shard.entry(s).or_default().push(i);
    }
    for (s, idx) in by_shard {
        let sp = &shard_pages[s];
        let text_key = sp.texts_key.clone();
        let input = open_blocking(store, &text_key).await?;
        let pages: Vec<ScoredPage> = idx.iter().map(|&i| sp.pages[i].clone()).collect();
        let job = DocJob {
            text_key,
            shard_uri: sp.shard_uri.clone(),
            crawl: crawl.to_string(),
            added: added.clone(),
            threshold: selection.threshold,
            decontaminator: loaded.decontaminator.clone(),
            tokens: tokens.clone(),
            benchmarks: decontam.benchmarks.iter().map(|b| b.benchmark.name.clone()).collect(),
        };
        let out = blocking(move || job.run(input, pages)).await?;
        decontam.add(&out.decontam);
        for line in &out.touched {
            touched_lines.extend(serde_json::to_vec(line).expect("decontam line serialises"));
            touched_lines.push(b'\n');
        }
        if out.docs.is_empty() {
            continue;
        }
        let stem = sp.scored_key.rsplit('/').next().unwrap_or(&sp.scored_key).to_string();
        let bytes = encode_rows(&out.docs);
        let file = ManifestFile {
            path: stem.clone(),
            documents: out.docs.len() as u64,
            tokens: out.tokens,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        put_bytes(store, format!("{corpus_prefix}/{stem}"), bytes).await?;
        summary.documents += file.documents;
        summary.tokens += file.tokens;
        files.push(file);
    }
    if loaded.decontaminator.is_some() {
        decontam.file = "decontamination.jsonl".into();
        put_bytes(store, format!("{corpus_prefix}/{}", decontam.file), touched_lines).await?;
    }
    report.decontam = decontam;
    report.documents = summary.documents;
    let manifest = Manifest {
        crawl: crawl.to_string(),
        iteration,
        selection: *selection,
        model_uri: model.0.to_string(),
        model_sha256: model.1.to_string(),
        documents: summary.documents,
        tokens: summary.tokens,
        exact_duplicates_removed: summary.duplicates,
        filters: report,
        files,
    };
    let key = format!("{corpus_prefix}/manifest.json");
    put_bytes(store, key, serde_json::to_vec_pretty(&manifest).expect("manifest serialises")).await?;
    Ok((manifest, summary))
}

/// The row of a `done` shard of iteration `iteration_id` whose worker wrote its scored-page
/// file at `scored_key` and its text file at `texts_key` (the other fields empty): what [`write_corpus`] reads of a shard, for
/// tests and the corpus bench that write such files themselves.
pub fn done_shard(shard_id: i64, iteration_id: i64, uri: String, scored_key: String, texts_key: String) -> ShardRow {
    ShardRow {
        shard_id,
        iteration_id,
        uri,
        state: "done".into(),
        lease_token: None,
        lease_expires_at: None,
        worker: None,
        attempts: 1,
        error: None,
        records: None,
        pages: None,
        bytes_in: None,
        scored_key: Some(scored_key),
        texts_key: Some(texts_key),
        finished_at: None,
        failure_reason: None,
    }
}

/// Near-duplicate removal of `pages` (step 3): per shard, their texts are signed into one
/// signature file and `partitions` band-row files in a temporary folder
/// ([`NearDupWriter`]); [`dedup_partitions`] then joins clusters one partition at a time.
/// Page ids for LSH are the ranks of the document ids, so the kept page of a cluster (highest
/// score, then smallest id) does not depend on shard order. Returns the survivors (sorted) and
/// the summary with *every* cluster in `listed` (the caller writes and trims them).
async fn near_dedup(
    store: &Arc<dyn ObjectStore>,
    shards: &[ShardPages],
    pages: &[Pos],
    nd: &NearDupSettings,
    threshold: f64,
) -> Result<(Vec<Pos>, NearDupSummary), CorpusError> {
    let page = |&(s, i): &Pos| &shards[s].pages[i];
    let mut summary = NearDupSummary { settings: *nd, ..NearDupSummary::default() };
    let mut ranked: Vec<Pos> = pages.to_vec();
    ranked.sort_by(|a, b| page(a).id.cmp(&page(b).id).then(a.cmp(b)));
    let mut by_shard: BTreeMap<usize, Vec<(u64, usize)>> = BTreeMap::new();
    for (rank, &(s, i)) in ranked.iter().enumerate() {
        by_shard.entry(s).or_default().push((rank as u64, i));
    }
    let partitions = nd.partitions_for(pages.len());
    let lsh = nd.lsh();
    let dir = Arc::new(tempfile::tempdir()?);
    let mut index: HashMap<u64, u64> = HashMap::new();
    let mut counters = Counters::default();
    for (s, items) in by_shard {
        let sp = &shards[s];
        let text_key = sp.texts_key.clone();
        let input = open_blocking(store, &text_key).await?;
        let work: Vec<(u64, f32, String)> = items.iter().map(|&(r, i)| (r, sp.pages[i].score, sp.pages[i].id.clone())).collect();
        let dir = dir.clone();
        let (shard_index, shard_counters) = blocking(move || {
            let texts = read_wanted_texts(&text_key, input, &work.iter().map(|w| w.2.as_str()).collect())?;
            let sig_path = dir.path().join(SIGNATURE_FILE);
            let start = std::fs::metadata(&sig_path).map(|m| m.len()).unwrap_or(0);
            let append = |p: &std::path::Path| std::fs::OpenOptions::new().create(true).append(true).open(p).map(std::io::BufWriter::new);
            let mut writer = NearDupWriter::new(
                MinHasher::new(lsh.num_perm(), DEFAULT_SEED),
                lsh,
                SignatureFileWriter::new(append(&sig_path)?, start),
                BandRowWriter::new(partitions, |p| append(&dir.path().join(partition_file(p))))?,
            )?;
            for (rank, score, id) in &work {
                let text = texts.get(id.as_str()).ok_or_else(|| CorpusError::MissingText { id: id.clone(), threshold })?;
                writer.add(*rank, *score, text)?;
            }
            let counters = writer.counters.clone();
            let (_, index, _) = writer.finish()?;
            Ok((index, counters))
        })
        .await?;
        index.extend(shard_index);
        counters.merge(&shard_counters);
    }
    summary.pages_signed = counters.get("signed");
    summary.no_words = counters.get("no_words");
    if summary.pages_signed == 0 {
        return Ok((pages.to_vec(), summary));
    }
    let max_rows = nd.max_rows_in_memory;
    let (near, jaccards) = blocking(move || {
        let sig_file = std::io::BufReader::new(std::fs::File::open(dir.path().join(SIGNATURE_FILE))?);
        let mut signatures = FileSignatures::new(sig_file, index);
        let near = dedup_partitions(partitions, |p| std::fs::File::open(dir.path().join(partition_file(p))), &mut signatures, &lsh, max_rows)?;
        let mut jaccards = Vec::with_capacity(near.clusters.len());
        for c in &near.clusters {
            let kept = signatures.lookup(c.kept)?.map(|s| s.signature).unwrap_or_default();
            let mut js = Vec::with_capacity(c.removed.len());
            for r in &c.removed {
                let sig = signatures.lookup(*r)?.map(|s| s.signature).unwrap_or_default();
                // Four decimals: a multiple of 1/num_perm needs no more, and it survives JSON.
                js.push((estimated_jaccard(&kept, &sig) * 1e4).round() / 1e4);
            }
            jaccards.push(js);
        }
        Ok((near, jaccards))
    })
    .await?;
    let entry = |rank: u64, jaccard: Option<f64>| {
        let p = page(&ranked[rank as usize]);
        ClusterPage { id: p.id.clone(), url: p.url.clone(), score: p.score, jaccard }
    };
    let mut removed: HashSet<u64> = HashSet::new();
    for (c, js) in near.clusters.iter().zip(jaccards) {
        removed.extend(c.removed.iter().copied());
        summary.listed.push(ClusterEntry {
            kept: entry(c.kept, None),
            removed: c.removed.iter().zip(js).map(|(&r, j)| entry(r, Some(j))).collect(),
        });
    }
    summary.removed = near.removed;
    summary.clusters = near.clusters.len() as u64;
    summary.partitions = near.counters.get("partitions") as usize;
    summary.peak_rows_in_memory = near.peak_rows_in_memory;
    summary.candidate_pairs = near.counters.get("candidate_pairs");
    summary.confirmed_pairs = near.counters.get("confirmed_pairs");
    summary.rejected_pairs = near.counters.get("rejected_pairs");
    let mut survivors: Vec<Pos> =
        ranked.iter().enumerate().filter(|(rank, _)| !removed.contains(&(*rank as u64))).map(|(_, pos)| *pos).collect();
    survivors.sort_unstable();
    Ok((survivors, summary))
}

/// The signature file of near-dedup, in its temporary folder.
const SIGNATURE_FILE: &str = "signatures.bin";

/// The band-row file of partition `p`, in near-dedup's temporary folder.
fn partition_file(p: usize) -> String {
    format!("rows-{p:04}.bin")
}

/// One document that lost paragraphs to decontamination: a line of `decontamination.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecontamLine {
    /// Document id.
    pub id: String,
    /// Page URL.
    pub url: String,
    /// Dropped whole (else trimmed).
    pub dropped: bool,
    /// (benchmark, paragraph index from 0) for each benchmark each removed paragraph matched.
    pub segments: Vec<(String, usize)>,
    /// Characters removed.
    pub removed_chars: usize,
    /// Characters of the document.
    pub total_chars: usize,
}

/// Decontaminates and builds the documents of one shard (off the async runtime).
struct DocJob {
    text_key: String,
    shard_uri: String,
    crawl: String,
    added: String,
    threshold: f64,
    decontaminator: Option<Decontaminator>,
    tokens: TokenCounter,
    benchmarks: Vec<String>,
}

/// What [`DocJob::run`] made of one shard.
struct DocOutput {
    docs: Vec<DolmaDocument>,
    tokens: u64,
    decontam: DecontamSummary,
    touched: Vec<DecontamLine>,
}

impl DocJob {
    fn run(self, text_file: impl std::io::Read, pages: Vec<ScoredPage>) -> Result<DocOutput, CorpusError> {
        let mut texts = read_wanted_texts(&self.text_key, text_file, &pages.iter().map(|p| p.id.as_str()).collect())?;
        let mut out = DocOutput {
            docs: Vec::with_capacity(pages.len()),
            tokens: 0,
            decontam: DecontamSummary {
                benchmarks: self.benchmarks.iter().map(|n| BenchmarkRemoval { benchmark: LoadedBenchmark { name: n.clone(), ..Default::default() }, ..Default::default() }).collect(),
                ..DecontamSummary::default()
            },
            touched: Vec::new(),
        };
        for p in pages {
            let text = texts.remove(&p.id).ok_or_else(|| CorpusError::MissingText { id: p.id.clone(), threshold: self.threshold })?;
            let (text, tokens) = match &self.decontaminator {
                None => (text, p.tokens),
                Some(d) => {
                    let cleaned = d.clean(&text);
                    let dc = &mut out.decontam;
                    dc.documents += 1;
                    if cleaned.removed_segment_count == 0 {
                        (text, p.tokens)
                    } else {
                        dc.segments_removed += cleaned.removed_segment_count as u64;
                        dc.chars_removed += cleaned.removed_chars as u64;
                        for (b, stat) in self.benchmarks.iter().zip(dc.benchmarks.iter_mut()) {
                            let n = cleaned.removed_segments.iter().filter(|(name, _)| name == b).count() as u64;
                            if n > 0 {
                                stat.segments += n;
                                stat.documents += 1;
                                stat.documents_dropped += cleaned.dropped() as u64;
                            }
                        }
                        out.touched.push(DecontamLine {
                            id: p.id.clone(),
                            url: p.url.clone(),
                            dropped: cleaned.dropped(),
                            segments: cleaned.removed_segments.clone(),
                            removed_chars: cleaned.removed_chars,
                            total_chars: cleaned.total_chars,
                        });
                        match cleaned.text {
                            None => {
                                dc.documents_dropped += 1;
                                dc.tokens_removed += p.tokens;
                                continue;
                            }
                            Some(trimmed) => {
                                dc.documents_trimmed += 1;
                                let tokens = self.tokens.count(&trimmed);
                                dc.tokens_removed += p.tokens.saturating_sub(tokens);
                                (trimmed, tokens)
                            }
                        }
                    }
                }
            };
            out.tokens += tokens;
            out.docs.push(DolmaDocument {
                id: p.id,
                text,
                source: format!("corpusminer/{}", self.crawl),
                added: self.added.clone(),
                created: p.date,
                metadata: DocumentMetadata {
                    url: p.url,
                    host: p.host,
                    domain: p.domain,
                    score: p.score,
                    tokens,
                    crawl: self.crawl.clone(),
                    shard: self.shard_uri.clone(),
                    warc_offset: p.warc_offset,
                    warc_length: p.warc_length,
                    lang: p.lang,
                },
            });
        }
        Ok(out)
    }
}


/// Reads a labels file (TSV with a header naming `url` and `label` columns; label `math` or
/// anything else) into url -> is_math.
pub fn parse_labels(tsv: &str) -> Result<HashMap<String, bool>, String> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty labels file")?.split('\t').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name).ok_or(format!("labels file has no {name:?} column"));
    let (url, label) = (col("url")?, col("label")?);
    let mut out = HashMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if let (Some(u), Some(l)) = (f.get(url), f.get(label)) {
            out.insert(u.trim().to_string(), l.trim() == "math");
        }
    }
    Ok(out)
}

/// Precision and recall of the kept pages against labels: (precision, recall, labelled pages
/// seen, math pages seen, kept labelled pages).
pub fn precision_recall(labelled: &[(bool, bool)]) -> (f64, f64, usize, usize, usize) {
    let tp = labelled.iter().filter(|&&(m, k)| m && k).count();
    let kept = labelled.iter().filter(|&&(_, k)| k).count();
    let math = labelled.iter().filter(|&&(m, _)| m).count();
    let p = if kept == 0 { 0.0 } else { tp as f64 / kept as f64 };
    let r = if math == 0 { 0.0 } else { tp as f64 / math as f64 };
    (p, r, labelled.len(), math, kept)
}

/// Groups labelled outcomes for display: counts of (label, kept).
pub fn confusion(labelled: &[(bool, bool)]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for &(math, kept) in labelled {
        let k = match (math, kept) {
            (true, true) => "math_kept",
            (true, false) => "math_dropped",
            (false, true) => "nonmath_kept",
            (false, false) => "nonmath_dropped",
        };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_by_column_name_and_pr_is_computed() {
        let tsv = "shard\turl\tlabel\tsource\nA\thttp://a/1\tmath\tx\nA\thttp://a/2\tnonmath\ty\n";
        let l = parse_labels(tsv).unwrap();
        assert_eq!(l.get("http://a/1"), Some(&true));
        assert_eq!(l.get("http://a/2"), Some(&false));
        assert!(parse_labels("a\tb\n").is_err());
        let (p, r, n, math, kept) = precision_recall(&[(true, true), (true, false), (false, true), (false, false)]);
        assert_eq!((p, r, n, math, kept), (0.5, 0.5, 4, 2, 2));
    }
}
