//! `OUT/report.json` ([`Report`]), its record funnel ([`funnel`]) and the readable summary
//! printed at the end of a run ([`summary`]).

pub mod funnel;
pub mod summary;

pub use funnel::Funnel;
pub use summary::{group, Summary, DEFAULT_MIN_HOST_PAGES};

use crate::filters::FilterReport;
use crate::selection::HostStat;
use corpusminer_pipeline::histogram::Selection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Precision and recall of the kept pages against a labels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    /// The labels file.
    pub labels: String,
    /// Labelled pages found among the scored pages.
    pub labelled_pages: usize,
    /// Of those, labelled math.
    pub math_pages: usize,
    /// Labelled pages kept.
    pub kept_labelled: usize,
    /// Share of kept labelled pages that are math.
    pub precision: f64,
    /// Share of math pages that were kept.
    pub recall: f64,
    /// Counts of math/nonmath x kept/dropped.
    pub confusion: BTreeMap<String, usize>,
    /// The same figures per language of the labelled pages (ISO 639-1 code).
    #[serde(default)]
    pub by_language: BTreeMap<String, LanguageLabelScores>,
}

/// Precision and recall of the kept pages of one language against a labels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageLabelScores {
    /// Labelled pages of this language among the scored pages.
    pub labelled_pages: usize,
    /// Of those, labelled math.
    pub math_pages: usize,
    /// Of those, kept.
    pub kept_labelled: usize,
    /// Share of kept labelled pages that are math.
    pub precision: f64,
    /// Share of math pages that were kept.
    pub recall: f64,
}

/// Pages and tokens of one language in an iteration ([`Report::languages`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageStat {
    /// ISO 639-1 code, or `und` (too little prose to tell).
    pub lang: String,
    /// Pages whose text was extracted, scored or skipped by `--languages`.
    pub pages: u64,
    /// Their tokens.
    pub tokens: u64,
    /// Pages scored (0 when `--languages` left the language out).
    pub scored_pages: u64,
    /// Scored pages kept at the threshold.
    pub kept_pages: u64,
    /// Their tokens.
    pub kept_tokens: u64,
}

impl From<&corpusminer_storage::metastore::LanguageCount> for LanguageStat {
    fn from(c: &corpusminer_storage::metastore::LanguageCount) -> Self {
        let u = |v: i64| v.max(0) as u64;
        LanguageStat { lang: c.lang.clone(), pages: u(c.pages), tokens: u(c.tokens), scored_pages: u(c.scored_pages), kept_pages: u(c.kept_pages), kept_tokens: u(c.kept_tokens) }
    }
}

/// A shard that failed for good, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedShard {
    /// The shard's URI, credentials redacted.
    pub uri: String,
    /// Why: `io` (its stream broke on every attempt), `empty`, `not_warc` or `panic`.
    pub reason: String,
    /// The last attempt's message.
    pub error: String,
    /// Attempts made.
    pub attempts: u64,
}

/// Everything a run saw, skipped, kept and measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Iteration id in the metastore.
    pub iteration: i64,
    /// The iteration this one grew from.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Crawl id.
    pub crawl: String,
    /// Documents in the seed trained on.
    #[serde(default)]
    pub seed_documents: usize,
    /// Pages added to the parent's seed (math prefixes, not kept by the parent).
    #[serde(default)]
    pub seed_added: usize,
    /// Pages removed from the parent's seed (not-math prefixes).
    #[serde(default)]
    pub seed_removed: usize,
    /// What each current annotation did to the seed, and why when nothing (iterations after
    /// the first).
    #[serde(default)]
    pub annotation_effects: Vec<crate::seed::AnnotationEffect>,
    /// Retention and new pages against the parent (iterations after the first).
    #[serde(default)]
    pub convergence: Option<crate::convergence::Convergence>,
    /// Shards done / failed.
    pub shards_done: u64,
    /// Shards that failed.
    pub shards_failed: u64,
    /// Every failed shard with its reason; the corpus covers the other shards, and `resume`
    /// retries these.
    #[serde(default)]
    pub failed_shards: Vec<FailedShard>,
    /// WARC records read.
    pub records: u64,
    /// HTML pages scored.
    pub pages: u64,
    /// Tokens in all scored pages.
    pub tokens: u64,
    /// Compressed shard bytes read.
    pub bytes_in: u64,
    /// Records by type, pages skipped by reason, and other pipeline counters.
    pub counters: BTreeMap<String, u64>,
    /// The counters as a funnel from records read to pages scored, each difference named.
    #[serde(default)]
    pub funnel: Funnel,
    /// How the threshold was chosen (`token_budget`, `threshold` or `default`).
    pub selector: String,
    /// The `--token-budget` (selector `token_budget`).
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// The score threshold asked for (`--threshold`, or the classifier validation's F1-best
    /// one); `selection.threshold` is the lower edge of its histogram bucket.
    #[serde(default)]
    pub requested_threshold: Option<f64>,
    /// The selection.
    pub selection: Selection,
    /// Documents written to the corpus (kept pages less what the corpus filters removed).
    pub corpus_documents: u64,
    /// Tokens written to the corpus.
    pub corpus_tokens: u64,
    /// Exact duplicates removed from the kept pages.
    pub exact_duplicates_removed: u64,
    /// What each corpus filter removed (same URL, same text, near-duplicates with their
    /// clusters, decontamination per benchmark); as in the corpus manifest.
    #[serde(default)]
    pub filters: FilterReport,
    /// Model file and checksum.
    pub model_uri: String,
    /// Hex SHA-256 of the model.
    pub model_sha256: String,
    /// Classifier validation figures (absent for a given model without sidecar).
    pub validation: Option<serde_json::Value>,
    /// The host kept-ratio rule's threshold.
    pub domain_ratio: f64,
    /// Hosts above `domain_ratio`, most kept pages first (all of them: the summary shows those
    /// with at least `--min-host-pages` pages).
    pub proposed_hosts: Vec<HostStat>,
    /// Top hosts by kept pages (all hosts when few).
    pub top_hosts: Vec<HostStat>,
    /// Top registrable domains by kept pages.
    pub top_domains: Vec<HostStat>,
    /// Hosts seen.
    pub hosts: usize,
    /// Pages per language, most first ([`corpusminer_pipeline::lang`]).
    #[serde(default)]
    pub languages: Vec<LanguageStat>,
    /// The `--languages` the iteration scored (`None`: every language).
    #[serde(default)]
    pub languages_selected: Option<Vec<String>>,
    /// Seconds spent scoring (the worker phase), over all runs of the step (a resumed
    /// iteration has several; a killed run counts until its last finished shard).
    pub scoring_seconds: f64,
    /// Runs of the scoring step that scored this iteration's shards.
    #[serde(default)]
    pub scoring_runs: usize,
    /// Pages per second in the scoring phase (all workers).
    pub pages_per_second: f64,
    /// Compressed megabytes (10^6 bytes) per second in the scoring phase.
    pub mb_per_second: f64,
    /// Worker threads used.
    pub workers: usize,
    /// Precision/recall against `--labels`.
    pub label_scores: Option<LabelScores>,
}

