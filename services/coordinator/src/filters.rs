//! The corpus filters: what happens to the pages the selection kept before they become corpus
//! documents (arXiv 2402.03300 §2.1: the pool is "Common Crawl after URL dedup and near-dedup";
//! the corpus is decontaminated against the evaluation benchmarks; DESIGN.md steps 2 and 7).
//!
//! In order, each step on what the previous one left:
//! 1. **exact URL dedup across shards**: kept pages whose
//!    [`url_key`](corpusminer_pipeline::dedup::url_key)s are equal are one
//!    page; the smallest document id is kept (within a shard the worker already skipped repeats,
//!    counted under `url_duplicate`);
//! 2. **exact content dedup**: kept pages with the same text hash; the smallest id is kept;
//! 3. **near-duplicate removal**: MinHash over word 5-grams, LSH banding (default 14 bands x 8
//!    rows = 112 permutations), candidate pairs confirmed at estimated Jaccard >= the threshold
//!    (default 0.8), clusters by union-find; the kept page of a cluster is the highest score,
//!    then the smallest id. Signatures and band rows go to temporary files and clusters are
//!    joined one bucket partition at a time ([`corpusminer_pipeline::dedup::dedup_partitions`]),
//!    so memory holds one partition, never all rows;
//! 4. **decontamination**: every paragraph holding a 10-gram of a benchmark text (or a whole
//!    3-9-word benchmark text) is removed; a document losing more than the drop fraction of its
//!    characters is dropped ([`corpusminer_pipeline::decontam`]).
//!
//! [`CorpusFilters`] is the serialisable setting (one field of the run config); [`LoadedFilters`]
//! is it resolved and loaded (benchmark index built, files checked); [`FilterReport`] says what
//! each step removed and goes into the corpus manifest and the run report.

use crate::benchmarks;
use corpusminer_pipeline::decontam::{BenchmarkIndex, BenchmarkSpec, DecontamConfig, DecontamError, Decontaminator};
use corpusminer_pipeline::dedup::LshConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors resolving or loading the filters. Every one stops the run: a benchmark that cannot be
/// read is never a silent pass.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A benchmark file is missing, unreadable or malformed.
    #[error("{0}; pass --benchmark NAME=PATH[:FIELD+FIELD] to point at it, or --no-default-benchmarks")]
    Benchmark(#[from] DecontamError),
    /// A benchmark given without fields whose first record has none of the known field pairs.
    #[error("benchmark {name}: cannot tell its text fields from the first record of {path} (none of question+answer, problem+solution, text); give them: --benchmark {name}=PATH:FIELD+FIELD")]
    UnknownFields {
        /// Benchmark name.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// A setting out of range (threshold, bands, rows, memory budget, drop fraction).
    #[error("bad corpus filter setting: {0}")]
    Setting(String),
}

/// Near-duplicate removal settings (MinHash LSH; Leskovec et al., *Mining of Massive Datasets*
/// §3.4). A pair of pages with shingle Jaccard `s` becomes a candidate with probability
/// `1 - (1 - s^rows)^bands` (14 x 8: 0.92 at 0.8, 0.08 at 0.6), so a threshold well under 0.8
/// wants more bands of fewer rows as well.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NearDupSettings {
    /// Estimated Jaccard similarity of word 5-gram sets at which two pages are near-duplicates,
    /// in `[0, 1]` (default 0.8).
    pub threshold: f64,
    /// LSH bands (default 14).
    pub bands: usize,
    /// Signature values per band (default 8); `bands * rows` permutations (default 112).
    pub rows: usize,
    /// Most band rows (24 bytes each in memory) one partition may hold; the number of partitions
    /// is chosen so an average partition holds half of this (default 4,000,000: about 96 MB).
    pub max_rows_in_memory: usize,
}

impl Default for NearDupSettings {
    fn default() -> Self {
        let lsh = LshConfig::default();
        NearDupSettings { threshold: lsh.threshold, bands: lsh.bands, rows: lsh.rows, max_rows_in_memory: 4_000_000 }
    }
}

/// Fewest band rows a partition budget may be: smaller budgets make partition sizes too uneven.
pub const MIN_ROWS_IN_MEMORY: usize = 1024;

/// Most partitions near-dedup uses (each an open file while a shard is signed, so this stays
/// under the usual limit of 1,024 open files); past `MAX_PARTITIONS * max_rows_in_memory / 2`
/// band rows, raise `max_rows_in_memory`.
pub const MAX_PARTITIONS: usize = 512;

impl NearDupSettings {
    /// The banding of these settings.
    pub fn lsh(&self) -> LshConfig {
        LshConfig { bands: self.bands, rows: self.rows, threshold: self.threshold }
    }

    /// Checks the banding ([`LshConfig::validate`]) and `max_rows_in_memory >=`
    /// [`MIN_ROWS_IN_MEMORY`]. Errors: [`FilterError::Setting`].
    pub fn validate(&self) -> Result<(), FilterError> {
        self.lsh().validate().map_err(|e| FilterError::Setting(e.to_string()))?;
        if self.max_rows_in_memory < MIN_ROWS_IN_MEMORY {
            return Err(FilterError::Setting(format!(
                "near-dup memory budget of {} band rows is under {MIN_ROWS_IN_MEMORY}",
                self.max_rows_in_memory
            )));
        }
        Ok(())
    }

    /// Partitions for `pages` signed pages: enough that an average partition holds half the
    /// budget, at least 1, at most [`MAX_PARTITIONS`].
    pub fn partitions_for(&self, pages: usize) -> usize {
        let rows = pages.saturating_mul(self.bands);
        let half = (self.max_rows_in_memory / 2).max(1);
        rows.div_ceil(half).clamp(1, MAX_PARTITIONS)
    }
}

fn default_drop_fraction() -> f64 {
    0.5
}

fn default_listed_clusters() -> usize {
    20
}

/// What the corpus writer does to the kept pages besides exact dedup (which always runs): one
/// field of the run config (`filters`), serialised with it.
///
/// `default_benchmarks` adds [`BenchmarkSpec::defaults`] (GSM8K test, MATH test, MATH-500) as
/// compiled into the binary ([`crate::benchmarks`], paths `embedded:<file>`), unless a benchmark
/// of the same name is given in `benchmarks`. [`CorpusFilters::resolve`] adds them and turns
/// file paths absolute, so a stored config names what it used; the report adds each
/// benchmark's SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusFilters {
    /// Near-duplicate removal; `None` turns it off.
    pub near_dup: Option<NearDupSettings>,
    /// Decontaminate against the default benchmarks (embedded in the binary).
    pub default_benchmarks: bool,
    /// Benchmarks (JSONL files and the fields of each record that are benchmark texts). Fields
    /// left empty are detected from the first record when resolved.
    pub benchmarks: Vec<BenchmarkSpec>,
    /// A document whose removed paragraphs hold more than this share (0..=1) of its characters
    /// is dropped whole (default 0.5).
    #[serde(default = "default_drop_fraction")]
    pub drop_fraction: f64,
    /// Near-duplicate clusters listed in the report (largest first); all of them go to
    /// `corpus/near_duplicates.jsonl` (default 20).
    #[serde(default = "default_listed_clusters")]
    pub listed_clusters: usize,
}

impl Default for CorpusFilters {
    fn default() -> Self {
        CorpusFilters {
            near_dup: Some(NearDupSettings::default()),
            default_benchmarks: true,
            benchmarks: Vec::new(),
            drop_fraction: default_drop_fraction(),
            listed_clusters: default_listed_clusters(),
        }
    }
}

/// The text fields tried, in order, for a benchmark given without fields: the first group whose
/// fields all appear in the file's first record is used.
pub const KNOWN_FIELD_GROUPS: &[&[&str]] = &[&["question", "answer"], &["problem", "solution"], &["text"]];

/// One benchmark as loaded: its spec and what its file held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadedBenchmark {
    /// Benchmark name.
    pub name: String,
    /// The file read, or `embedded:<file>` for a default compiled into the binary.
    pub path: String,
    /// Fields of each record used as benchmark texts.
    pub fields: Vec<String>,
    /// Records read.
    pub records: u64,
    /// Hex SHA-256 of the JSONL bytes read (for an embedded default, of the decompressed
    /// text: the original file's checksum in `benchmarks/PROVENANCE.md`).
    pub sha256: String,
}

/// [`CorpusFilters`] resolved and loaded: the benchmark index built, ready for the corpus writer.
#[derive(Debug, Clone)]
pub struct LoadedFilters {
    /// The resolved settings (absolute benchmark paths, fields filled in).
    pub settings: CorpusFilters,
    /// The decontaminator; `None` when no benchmark is configured.
    pub decontaminator: Option<Decontaminator>,
    /// The benchmarks loaded, in index order.
    pub benchmarks: Vec<LoadedBenchmark>,
}

impl CorpusFilters {
    /// Resolves against the current directory. See [`Self::resolve_in`].
    pub fn resolve(&self) -> Result<CorpusFilters, FilterError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        self.resolve_in(&cwd)
    }

    /// A copy with every default benchmark not already given by name appended (its path
    /// `embedded:<file>`: [`crate::benchmarks::default_specs`]; the filesystem is not looked
    /// at); relative file paths made absolute against `cwd`; and empty field lists filled from
    /// the first record ([`KNOWN_FIELD_GROUPS`]). Idempotent.
    ///
    /// Errors: [`FilterError::Benchmark`] for a file that cannot be opened while detecting
    /// fields; [`FilterError::UnknownFields`].
    pub fn resolve_in(&self, cwd: &Path) -> Result<CorpusFilters, FilterError> {
        let mut out = self.clone();
        if self.default_benchmarks {
            for d in benchmarks::default_specs() {
                if !out.benchmarks.iter().any(|b| b.name == d.name) {
                    out.benchmarks.push(d);
                }
            }
        }
        for b in &mut out.benchmarks {
            if b.path.is_relative() && !benchmarks::is_embedded(&b.path) {
                b.path = cwd.join(&b.path);
            }
            if b.fields.is_empty() {
                b.fields = detect_fields(b)?;
            }
        }
        Ok(out)
    }

    /// Checks the settings, resolves them ([`Self::resolve`]) and builds the benchmark index,
    /// reading every benchmark in full. Run it before scoring so a bad benchmark stops the run
    /// early; the corpus writer runs it again.
    ///
    /// Errors: [`FilterError::Setting`] for a drop fraction outside 0..=1 or bad near-dup
    /// settings; the errors of [`Self::resolve`]; [`FilterError::Benchmark`] for a missing,
    /// unreadable or malformed benchmark (never a partial index).
    pub fn load(&self) -> Result<LoadedFilters, FilterError> {
        if !(0.0..=1.0).contains(&self.drop_fraction) {
            return Err(FilterError::Setting(format!("decontamination drop fraction {} is not in 0..=1", self.drop_fraction)));
        }
        if let Some(nd) = &self.near_dup {
            nd.validate()?;
        }
        let settings = self.resolve()?;
        if settings.benchmarks.is_empty() {
            tracing::warn!("no decontamination benchmark: the corpus is not decontaminated");
            return Ok(LoadedFilters { settings, decontaminator: None, benchmarks: Vec::new() });
        }
        let config = DecontamConfig {
            benchmarks: settings.benchmarks.clone(),
            max_removed_fraction: settings.drop_fraction,
            ..DecontamConfig::default()
        };
        config.validate()?;
        let mut index = BenchmarkIndex::new(config.ngram_words, config.min_exact_words)?;
        let mut benchmarks = Vec::new();
        for spec in &settings.benchmarks {
            let bytes = read_benchmark(spec)?;
            let fields: Vec<&str> = spec.fields.iter().map(String::as_str).collect();
            let stats = index.add_jsonl(&spec.name, &bytes[..], &fields)?;
            benchmarks.push(LoadedBenchmark {
                name: spec.name.clone(),
                path: spec.path.display().to_string(),
                fields: spec.fields.clone(),
                records: stats.records,
                sha256: hex::encode(Sha256::digest(&bytes)),
            });
        }
        let decontaminator = Decontaminator::new(Arc::new(index), &config)?;
        Ok(LoadedFilters { settings, decontaminator: Some(decontaminator), benchmarks })
    }
}

/// The JSONL bytes of a benchmark: the embedded copy for an `embedded:` path, else the file.
///
/// Errors: [`DecontamError::MissingFile`] for a file (or embedded name) that does not exist,
/// [`DecontamError::Io`] for one that cannot be read.
fn read_benchmark(spec: &BenchmarkSpec) -> Result<Vec<u8>, DecontamError> {
    if benchmarks::is_embedded(&spec.path) {
        let e = benchmarks::embedded(&spec.path).ok_or_else(|| io_error(spec, std::io::ErrorKind::NotFound.into()))?;
        return e.bytes().map_err(|source| io_error(spec, source));
    }
    std::fs::read(&spec.path).map_err(|source| io_error(spec, source))
}

/// [`DecontamError::MissingFile`] for a not-found error, else [`DecontamError::Io`].
fn io_error(spec: &BenchmarkSpec, source: std::io::Error) -> DecontamError {
    if source.kind() == std::io::ErrorKind::NotFound {
        DecontamError::MissingFile { name: spec.name.clone(), path: spec.path.clone() }
    } else {
        DecontamError::Io { name: spec.name.clone(), path: spec.path.clone(), source }
    }
}

/// The fields of the first [`KNOWN_FIELD_GROUPS`] group present in the first record of `spec`'s
/// JSONL.
fn detect_fields(spec: &BenchmarkSpec) -> Result<Vec<String>, FilterError> {
    let first = if benchmarks::is_embedded(&spec.path) {
        let bytes = read_benchmark(spec)?;
        bytes.split(|&b| b == b'\n').map(|l| String::from_utf8_lossy(l).into_owned()).find(|l| !l.trim().is_empty())
    } else {
        let open_err = |source| io_error(spec, source);
        let file = std::fs::File::open(&spec.path).map_err(open_err)?;
        let mut first = None;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(open_err)?;
            if !line.trim().is_empty() {
                first = Some(line);
                break;
            }
        }
        first
    };
    let record: Option<serde_json::Map<String, serde_json::Value>> = first.and_then(|l| serde_json::from_str(&l).ok());
    let unknown = || FilterError::UnknownFields { name: spec.name.clone(), path: spec.path.clone() };
    let record = record.ok_or_else(unknown)?;
    KNOWN_FIELD_GROUPS
        .iter()
        .find(|g| g.iter().all(|f| record.contains_key(*f)))
        .map(|g| g.iter().map(|f| f.to_string()).collect())
        .ok_or_else(unknown)
}

/// Parses a command-line benchmark, `NAME=PATH[:FIELD+FIELD…]`: NAME snake_case, PATH a JSONL
/// file (relative to the current directory), FIELDS the record fields that are benchmark texts
/// (detected from the first record when left out: see [`KNOWN_FIELD_GROUPS`]). A `:` suffix is
/// read as fields only when it holds just letters, digits, `_`, `-` and `+`.
///
/// Errors: a message naming what is wrong (no `=`, an empty name or path, an empty field).
pub fn parse_benchmark_arg(s: &str) -> Result<BenchmarkSpec, String> {
    let (name, rest) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected NAME=PATH[:FIELD+FIELD]"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(format!("{s:?}: the name {name:?} must be snake_case (a-z, 0-9, _)"));
    }
    let (path, fields) = match rest.rsplit_once(':') {
        Some((p, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'+') => {
            let fields: Vec<String> = f.split('+').map(str::to_string).collect();
            if fields.iter().any(String::is_empty) {
                return Err(format!("{s:?}: an empty field name"));
            }
            (p, fields)
        }
        _ => (rest, Vec::new()),
    };
    if path.is_empty() {
        return Err(format!("{s:?}: no path"));
    }
    Ok(BenchmarkSpec { name: name.to_string(), path: PathBuf::from(path), fields })
}

/// One page named in a near-duplicate cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterPage {
    /// Document id.
    pub id: String,
    /// Page URL.
    pub url: String,
    /// Classifier score.
    pub score: f32,
    /// Estimated Jaccard similarity (share of equal MinHash values) with the kept page; absent
    /// for the kept page itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jaccard: Option<f64>,
}

/// One near-duplicate cluster: the page kept (highest score, then smallest id) and those removed.
/// A line of `corpus/near_duplicates.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterEntry {
    /// The page written to the corpus.
    pub kept: ClusterPage,
    /// The pages dropped, by id.
    pub removed: Vec<ClusterPage>,
}

/// What near-duplicate removal did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NearDupSummary {
    /// The settings used.
    pub settings: NearDupSettings,
    /// Pages signed (those left by exact dedup that have a word).
    pub pages_signed: u64,
    /// Pages without a word: kept, never clustered.
    pub no_words: u64,
    /// Pages removed as near-duplicates of a kept page.
    pub removed: u64,
    /// Clusters of two or more pages.
    pub clusters: u64,
    /// Bucket partitions the band rows were split into.
    pub partitions: usize,
    /// Most band rows held in memory at once (one partition).
    pub peak_rows_in_memory: usize,
    /// Candidate pairs (sharing a bucket), confirmed and rejected by estimated Jaccard.
    pub candidate_pairs: u64,
    /// Candidate pairs confirmed.
    pub confirmed_pairs: u64,
    /// Candidate pairs rejected.
    pub rejected_pairs: u64,
    /// The largest clusters (at most `listed_clusters`), largest first, then by kept id.
    pub listed: Vec<ClusterEntry>,
    /// All clusters, one JSON line each, relative to the corpus folder (`near_duplicates.jsonl`).
    pub file: String,
}

/// What decontamination removed for one benchmark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchmarkRemoval {
    /// The benchmark: name, file, fields, records and checksum.
    #[serde(flatten)]
    pub benchmark: LoadedBenchmark,
    /// Paragraphs removed that matched it.
    pub segments: u64,
    /// Documents with a removed paragraph that matched it (trimmed or dropped).
    pub documents: u64,
    /// Of those, documents dropped whole.
    pub documents_dropped: u64,
}

/// What decontamination did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecontamSummary {
    /// Documents checked (those left by dedup).
    pub documents: u64,
    /// Documents that lost paragraphs and were kept.
    pub documents_trimmed: u64,
    /// Documents dropped whole (they lost more than `drop_fraction` of their characters).
    pub documents_dropped: u64,
    /// Paragraphs removed (a paragraph matching two benchmarks counts once here).
    pub segments_removed: u64,
    /// Characters (Unicode scalar values) removed, dropped documents included.
    pub chars_removed: u64,
    /// Tokens of the kept documents before trimming less after.
    pub tokens_removed: u64,
    /// The drop fraction used.
    pub drop_fraction: f64,
    /// Per benchmark, in index order.
    pub benchmarks: Vec<BenchmarkRemoval>,
    /// Every touched document (id, url, removed paragraphs), one JSON line each, relative to
    /// the corpus folder (`decontamination.jsonl`); empty when no benchmark is configured.
    pub file: String,
}

impl DecontamSummary {
    /// Adds the counts of `other` (one shard's) (same benchmarks, same order) into `self`.
    pub fn add(&mut self, other: &DecontamSummary) {
        self.documents += other.documents;
        self.documents_trimmed += other.documents_trimmed;
        self.documents_dropped += other.documents_dropped;
        self.segments_removed += other.segments_removed;
        self.chars_removed += other.chars_removed;
        self.tokens_removed += other.tokens_removed;
        for (a, b) in self.benchmarks.iter_mut().zip(&other.benchmarks) {
            a.segments += b.segments;
            a.documents += b.documents;
            a.documents_dropped += b.documents_dropped;
        }
    }
}

/// What each corpus filter removed, in order: `kept_pages = url_duplicates_removed +
/// exact_duplicates_removed + near_duplicates_removed + decontam.documents_dropped + documents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterReport {
    /// Pages the selection kept (the filters' input).
    pub kept_pages: u64,
    /// Step 1: kept pages whose normalised URL another kept page (smaller id) already had.
    pub url_duplicates_removed: u64,
    /// Step 2: kept pages whose text another kept page (smaller id) already had.
    pub exact_duplicates_removed: u64,
    /// Step 3: near-duplicates removed (0 when off).
    pub near_duplicates_removed: u64,
    /// Step 3 in detail; `None` when near-dedup is off.
    pub near_dup: Option<NearDupSummary>,
    /// Step 4 in detail (no benchmarks: nothing checked).
    pub decontam: DecontamSummary,
    /// Documents written.
    pub documents: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_args_parse() {
        let b = parse_benchmark_arg("aime=/data/aime.jsonl:problem+solution").unwrap();
        assert_eq!(b, BenchmarkSpec::new("aime", "/data/aime.jsonl", &["problem", "solution"]));
        let b = parse_benchmark_arg("gsm8k=bench/test.jsonl").unwrap();
        assert_eq!((b.path, b.fields), (PathBuf::from("bench/test.jsonl"), vec![]));
        // A colon in the path that is not followed by field names stays in the path.
        let b = parse_benchmark_arg("x=/data/a:b/c.jsonl").unwrap();
        assert_eq!(b.path, PathBuf::from("/data/a:b/c.jsonl"));
        assert!(parse_benchmark_arg("no-equals").is_err());
        assert!(parse_benchmark_arg("Bad Name=/x.jsonl").is_err());
        assert!(parse_benchmark_arg("x=").is_err());
        assert!(parse_benchmark_arg("x=/a.jsonl:q++a").is_err());
    }

    #[test]
    fn settings_serialise_with_defaults_and_are_checked() {
        let f: CorpusFilters = serde_json::from_str("{}").unwrap();
        assert_eq!(f, CorpusFilters::default());
        let nd = f.near_dup.unwrap();
        assert_eq!((nd.bands, nd.rows, nd.threshold), (14, 8, 0.8));
        assert_eq!(nd.lsh().num_perm(), 112);
        assert_eq!(f.drop_fraction, 0.5);
        let f: CorpusFilters = serde_json::from_str(r#"{"near_dup": null, "default_benchmarks": false}"#).unwrap();
        assert!(f.near_dup.is_none() && f.benchmarks.is_empty());
        assert!(serde_json::from_str::<CorpusFilters>(r#"{"neardup": null}"#).is_err());
        assert_eq!(nd.partitions_for(0), 1);
        assert_eq!(nd.partitions_for(1_000_000), 7);
        let small = NearDupSettings { max_rows_in_memory: 100, ..nd };
        assert!(small.validate().is_err());
        let bad = CorpusFilters { drop_fraction: 1.5, default_benchmarks: false, ..CorpusFilters::default() };
        assert!(matches!(bad.load(), Err(FilterError::Setting(_))));
        let off = CorpusFilters { default_benchmarks: false, ..CorpusFilters::default() };
        let loaded = off.load().unwrap();
        assert!(loaded.decontaminator.is_none() && loaded.benchmarks.is_empty());
    }

    /// Set in the child process [`default_benchmarks_are_embedded`] starts.
    const CHILD: &str = "CORPUSMINER_TEST_EMBEDDED_CHILD";

    /// The default benchmarks load from the binary: run again as a child process whose current
    /// directory is an empty temporary folder and whose `CORPUSMINER_SHARED_DATA` points
    /// nowhere, the seven load with the records and SHA-256 of the originals; where the shared
    /// data is present, those checksums are the files' own.
    #[test]
    fn default_benchmarks_are_embedded() {
        let loaded = CorpusFilters::default().load().unwrap();
        let got: Vec<(&str, &str, u64, &str)> =
            loaded.benchmarks.iter().map(|b| (b.name.as_str(), b.path.as_str(), b.records, b.sha256.as_str())).collect();
        assert_eq!(
            got,
            [
                ("gsm8k", "embedded:gsm8k-test.jsonl", 1319, "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"),
                ("math", "embedded:math-test-5000.jsonl", 5000, "3371949f33dd702d04b43fddd7d53a028de0aaca0e76abb1b875a050297b3aa4"),
                ("math500", "embedded:math500-test.jsonl", 500, "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132"),
                ("cmath", "embedded:cmath-test.jsonl", 1098, "cabe17c127c3227912b3384f4755e180f3aa0d9e5865677e7e5e223439bf15eb"),
                ("gaokao_mathqa", "embedded:agieval-gaokao-mathqa.jsonl", 351, "d246f12752d121289ef55cbf1bcf954243cefb65d110f71d09358e24065c808f"),
                ("gaokao_mathcloze", "embedded:agieval-gaokao-mathcloze.jsonl", 118, "088675c147794970a3ed25c7147a3bbc59715d6813837d5f483f46dcb1b5008d"),
                ("mgsm_zh", "embedded:mgsm-zh.jsonl", 250, "165c3b6753e8a8786183c27b9af7b7590d54dca4d0136edadb24d684c95bb50d"),
            ]
        );
        assert!(loaded.decontaminator.is_some());
        for (b, e) in loaded.benchmarks.iter().zip(&benchmarks::EMBEDDED) {
            assert_eq!(b.sha256, e.sha256, "{}: decompressed bytes differ from PROVENANCE.md", e.file);
        }
        if std::env::var_os(CHILD).is_some() {
            let cwd = std::env::current_dir().unwrap();
            assert!(std::fs::read_dir(&cwd).unwrap().next().is_none(), "the child runs in an empty folder");
            return;
        }
        if let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() {
            for (b, spec) in loaded.benchmarks.iter().zip(corpusminer_pipeline::decontam::BenchmarkSpec::defaults()) {
                let file = b.path.strip_prefix("embedded:").unwrap();
                assert!(spec.path.ends_with(file), "{file}");
                let original = std::fs::read(data.join(&spec.path)).unwrap();
                assert_eq!(hex::encode(Sha256::digest(&original)), b.sha256, "{file}");
            }
        }
        let empty = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["filters::tests::default_benchmarks_are_embedded", "--exact", "--nocapture", "--test-threads=1"])
            .current_dir(empty.path())
            .env("CORPUSMINER_SHARED_DATA", empty.path().join("no-such-folder"))
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}
