//! One iteration's configuration ([`RunConfig`]) and its last step, [`finish`]: selection, host
//! ratios, proposals, corpus, convergence and report. [`crate::driver`] runs the steps before it
//! (seed, negatives, training, scoring) and moves the iteration through its states. Every
//! decision is stored: config, shards, seed, negatives, model and its checksum, threshold, counts.

use crate::corpus::{self, parse_labels, precision_recall};
use crate::driver::IterationInputs;
pub use crate::selection::Selector;
use crate::selection::{domain_rollup, host_stats, proposals, select};
use crate::report::{FailedShard, LabelScores, Report};
use crate::training::TrainedModel;
use corpusminer_pipeline::classify::{TextFields, TrainSettings};
use corpusminer_pipeline::histogram::ScoreHistogram;
use corpusminer_storage::metastore::Metastore;
use corpusminer_storage::{ObjectStore, StorageConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything `corpusminer run` was asked to do. Serialised into the iteration's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// Seed (positive) document files.
    pub seeds: Vec<String>,
    /// Negative document files.
    pub negatives: Vec<String>,
    /// Also draw this many negatives at random from the crawl's own pages.
    pub negatives_from_crawl: usize,
    /// Shards read to draw `negatives_from_crawl` pages from.
    pub negative_shards: usize,
    /// Shard paths, globs or URIs.
    pub inputs: Vec<String>,
    /// A crawl to list (`CC-MAIN-YYYY-WW`), read from `crawl_base`.
    pub crawl: Option<String>,
    /// Base of the crawl listing: Common Crawl's HTTPS host or a mirror.
    pub crawl_base: String,
    /// Take this many shards of the crawl, drawn at random with `sample_seed`.
    pub shards: Option<usize>,
    /// Seed of every random draw (shard sample, training split).
    pub sample_seed: u64,
    /// Name recorded as the crawl of explicit `inputs` (defaults to `custom`).
    pub crawl_name: Option<String>,
    /// Output folder or URI.
    pub out: String,
    /// Metastore URL (`sqlite://…` or `postgres://…`); default: SQLite in `out`.
    pub db: Option<String>,
    /// Token budget or threshold; `None` uses the classifier's validation threshold.
    pub selector: Option<Selector>,
    /// A trained model to reuse instead of training.
    pub model: Option<String>,
    /// A Hugging Face `tokenizer.json`: tokens are its tokens instead of whitespace words.
    pub tokenizer: Option<String>,
    /// Labels TSV for precision/recall of the kept pages.
    pub labels: Option<String>,
    /// A host is proposed for annotation when more than this share of its pages is kept.
    pub domain_ratio: f64,
    /// Pages scoring at least this keep their text for the corpus (0 keeps every page's text).
    pub text_floor: f32,
    /// Languages to score (ISO 639-1 codes); `None` scores every page. Pages of other
    /// languages are counted per language and skipped as `language_not_selected`.
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    /// Start from the paper's training settings instead of ones adapted to the seed's size.
    pub paper_settings: bool,
    /// Individual training settings that override the preset.
    pub train: TrainOverrides,
    /// JSON fields holding a document's text, tried in order; `a+b` joins two fields.
    pub text_fields: Vec<String>,
    /// Plain-text seed/negative files hold one document per line (else per blank-line block).
    pub doc_per_line: bool,
    /// Object-store settings.
    pub storage: StorageConfig,
    /// Worker threads (shards scored at once).
    pub workers: usize,
    /// What the corpus writer does to the kept pages: near-dedup, decontamination benchmarks.
    #[serde(default)]
    pub filters: crate::filters::CorpusFilters,
}

/// fastText settings given one by one on the command line; each overrides the preset's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainOverrides {
    /// Embedding dimension.
    pub dim: Option<u32>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Epochs.
    pub epoch: Option<u32>,
    /// Word n-gram length.
    pub word_ngrams: Option<u32>,
    /// Minimum word count.
    pub min_count: Option<u32>,
    /// Hash buckets for n-grams (model size: bucket x dim x 4 bytes).
    pub bucket: Option<u32>,
    /// Training threads (1 keeps training reproducible).
    pub threads: Option<u32>,
}

impl RunConfig {
    /// The config with every local path made absolute (against the current directory), so an
    /// iteration resumed or grown from elsewhere reads and writes the same files.
    pub fn absolute(mut self) -> std::io::Result<Self> {
        let cwd = std::env::current_dir()?;
        let abs = |p: &mut String| {
            if !p.contains("://") && !std::path::Path::new(p.as_str()).is_absolute() {
                *p = cwd.join(p.as_str()).display().to_string();
            }
        };
        self.seeds.iter_mut().for_each(abs);
        self.negatives.iter_mut().for_each(abs);
        self.inputs.iter_mut().for_each(abs);
        abs(&mut self.out);
        for p in [&mut self.model, &mut self.tokenizer, &mut self.labels].into_iter().flatten() {
            abs(p);
        }
        Ok(self)
    }

    /// The [`TextFields`] of `text_fields` and `doc_per_line`.
    pub fn fields(&self) -> TextFields {
        let field_groups = self
            .text_fields
            .iter()
            .map(|spec| spec.split('+').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect::<Vec<_>>())
            .filter(|g| !g.is_empty())
            .collect::<Vec<_>>();
        let mut fields = if field_groups.is_empty() { TextFields::default() } else { TextFields { field_groups, doc_per_line: false } };
        fields.doc_per_line = self.doc_per_line;
        fields
    }
}

impl TrainOverrides {
    /// Writes every given value into `s`.
    pub fn apply(&self, s: &mut TrainSettings) {
        if let Some(v) = self.dim { s.dim = v; }
        if let Some(v) = self.lr { s.lr = v; }
        if let Some(v) = self.epoch { s.epoch = v; }
        if let Some(v) = self.word_ngrams { s.word_ngrams = v; }
        if let Some(v) = self.min_count { s.min_count = v; }
        if let Some(v) = self.bucket { s.bucket = v; }
        if let Some(v) = self.threads { s.threads = v; }
    }
}

/// What [`finish`] needs of an iteration that has been scored.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The metastore.
    pub metastore: Metastore,
    /// Iteration id.
    pub iteration: i64,
    /// Crawl id or name.
    pub crawl: String,
    /// The output folder's store (keys relative to the folder).
    pub out_store: Arc<dyn ObjectStore>,
    /// Key prefix of this iteration's files (`iterations/<id>`).
    pub iteration_prefix: String,
    /// The classifier.
    pub model: TrainedModel,
    /// What a token is (decontamination recounts trimmed documents).
    pub tokens: corpusminer_pipeline::text::TokenCounter,
}

/// The output folder's newest report (a copy of the newest live iteration's).
pub const REPORT_KEY: &str = "report.json";

/// Joins object-key parts with `/`, skipping empty ones.
pub fn join_key(parts: &[&str]) -> String {
    parts.iter().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/")
}

/// The metastore URL used when none is given: SQLite in the local output folder.
pub fn default_db_url(out: &str) -> anyhow::Result<String> {
    if out.contains("://") && !out.starts_with("file://") {
        anyhow::bail!("--out {out} is not a local folder: give --db (sqlite://… or postgres://…)");
    }
    let dir = std::path::Path::new(out.strip_prefix("file://").unwrap_or(out));
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating the output folder --out {}: {e}: give an --out that can be written", dir.display()))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| anyhow::anyhow!("resolving the output folder --out {}: {e}", dir.display()))?;
    Ok(format!("sqlite://{}", dir.join("corpusminer.db").display()))
}

/// After the workers: threshold, host statistics, proposals, corpus (`iterations/N/corpus/`),
/// convergence against `parent`, report (`iterations/N/report.json`, the output folder's
/// `report.json`, and the metastore). `inputs` are what the iteration used; `workers` the
/// worker threads of the scoring phase. Rewrites the same keys when run again.
pub async fn finish(p: &Prepared, cfg: &RunConfig, parent: Option<i64>, inputs: &IterationInputs, workers: usize) -> anyhow::Result<Report> {
    let ms = &p.metastore;
    let counts = ms.shard_counts(p.iteration).await?;
    if counts.pending + counts.leased > 0 {
        anyhow::bail!("{} shards are not finished yet", counts.pending + counts.leased);
    }
    let histogram = ScoreHistogram::from_rows(&ms.histogram(p.iteration).await?);
    let default_threshold = p
        .model
        .validation
        .as_ref()
        .map(|v| v.page.threshold as f64)
        .unwrap_or(0.5);
    let selector = cfg.selector.unwrap_or(Selector::Default(default_threshold));
    let selection = select(&histogram, selector);
    ms.set_threshold(p.iteration, selection.threshold, selection.bucket as i64).await?;

    let mut stats = host_stats(&ms.host_counts(p.iteration, selection.bucket as i64).await?);
    crate::selection::add_languages(&mut stats, &ms.host_languages(p.iteration).await?);
    let languages: Vec<crate::report::LanguageStat> = ms.language_counts(p.iteration, selection.bucket as i64).await?.iter().map(Into::into).collect();
    let proposed = proposals(&stats, cfg.domain_ratio);
    let shards = ms.shards(p.iteration).await?;
    let finished_ms: Vec<i64> = shards.iter().filter(|s| s.state == "done").filter_map(|s| s.finished_at.map(|t| t.timestamp_millis())).collect();
    let scoring_seconds = inputs.total_scoring_seconds(&finished_ms);
    let samples = crate::annotation::proposals_with_samples(&p.out_store, &shards, &selection, &proposed, crate::annotation::DEFAULT_SAMPLES).await?;
    ms.save_proposals(p.iteration, &samples).await?;

    let labels = match &cfg.labels {
        Some(path) => Some(parse_labels(&std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading labels {path}: {e}"))?).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let corpus_prefix = join_key(&[&p.iteration_prefix, "corpus"]);
    let (manifest, summary) = corpus::write_corpus(
        &p.out_store,
        &shards,
        &corpus_prefix,
        &selection,
        &p.crawl,
        p.iteration,
        (&p.model.uri, &p.model.sha256),
        labels.as_ref(),
        &cfg.filters,
        &p.tokens,
    )
    .await?;
    corpusminer_storage::fault::point("corpus_written");
    let convergence = match parent {
        Some(parent) => Some(crate::driver::measure_convergence(ms, &p.out_store, &summary.kept, parent).await?),
        None => None,
    };

    let label_scores = cfg.labels.as_ref().map(|path| {
        let (precision, recall, n, math, kept) = precision_recall(&summary.labelled);
        LabelScores {
            labels: path.clone(),
            labelled_pages: n,
            math_pages: math,
            kept_labelled: kept,
            precision,
            recall,
            confusion: corpus::confusion(&summary.labelled).into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            by_language: {
                let mut by: BTreeMap<String, Vec<(bool, bool)>> = BTreeMap::new();
                for (l, lang) in summary.labelled.iter().zip(&summary.labelled_langs) {
                    by.entry(lang.clone()).or_default().push(*l);
                }
                by.into_iter()
                    .map(|(lang, l)| {
                        let (precision, recall, labelled_pages, math_pages, kept_labelled) = precision_recall(&l);
                        (lang, crate::report::LanguageLabelScores { labelled_pages, math_pages, kept_labelled, precision, recall })
                    })
                    .collect()
            },
        }
    });
    let records: u64 = shards.iter().map(|s| s.records.unwrap_or(0).max(0) as u64).sum();
    let bytes_in: u64 = shards.iter().map(|s| s.bytes_in.unwrap_or(0).max(0) as u64).sum();
    let secs = scoring_seconds.max(1e-9);
    let counters = ms.skip_counts(p.iteration).await?;
    let report = Report {
        iteration: p.iteration,
        parent,
        crawl: p.crawl.clone(),
        seed_documents: inputs.seed.as_ref().map(|f| f.documents).unwrap_or(0),
        seed_added: inputs.seed_added,
        seed_removed: inputs.seed_removed,
        annotation_effects: inputs.annotation_effects.clone(),
        convergence,
        shards_done: counts.done as u64,
        shards_failed: counts.failed as u64,
        failed_shards: shards
            .iter()
            .filter(|s| s.state == "failed")
            .map(|s| FailedShard {
                uri: corpusminer_storage::redact_uri(&s.uri),
                reason: s.failure_reason.clone().unwrap_or_default(),
                error: s.error.clone().unwrap_or_default(),
                attempts: s.attempts.max(0) as u64,
            })
            .collect(),
        records,
        pages: histogram.total_pages(),
        tokens: histogram.total_tokens(),
        bytes_in,
        funnel: crate::report::Funnel::from_counters(&counters),
        counters,
        selector: match selector {
            Selector::TokenBudget(_) => "token_budget",
            Selector::Threshold(_) => "threshold",
            Selector::Default(_) => "default (classifier validation)",
        }
        .into(),
        token_budget: match selector {
            Selector::TokenBudget(b) => Some(b),
            _ => None,
        },
        requested_threshold: match selector {
            Selector::Threshold(t) | Selector::Default(t) => Some(t),
            Selector::TokenBudget(_) => None,
        },
        selection,
        corpus_documents: manifest.documents,
        corpus_tokens: manifest.tokens,
        exact_duplicates_removed: manifest.exact_duplicates_removed,
        filters: manifest.filters.clone(),
        model_uri: p.model.uri.clone(),
        model_sha256: p.model.sha256.clone(),
        validation: p.model.validation.as_ref().map(|v| serde_json::to_value(v).expect("validation serialises")),
        domain_ratio: cfg.domain_ratio,
        proposed_hosts: proposed,
        top_hosts: stats.iter().take(25).cloned().collect(),
        top_domains: domain_rollup(&stats).into_iter().take(25).collect(),
        hosts: stats.len(),
        languages,
        languages_selected: cfg.languages.clone(),
        scoring_seconds,
        scoring_runs: inputs.scoring_runs.len().max(usize::from(inputs.scoring_seconds > 0.0)),
        pages_per_second: histogram.total_pages() as f64 / secs,
        mb_per_second: bytes_in as f64 / 1e6 / secs,
        workers,
        label_scores,
    };
    let json = serde_json::to_string_pretty(&report)?;
    p.out_store.put(&join_key(&[&p.iteration_prefix, "report.json"]), json.clone().into()).await?;
    p.out_store.put(REPORT_KEY, json.clone().into()).await?;
    ms.set_report(p.iteration, &json).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_without_empty_parts() {
        assert_eq!(join_key(&["", "iterations", "3"]), "iterations/3");
        assert_eq!(join_key(&["out/", "/corpus"]), "out/corpus");
    }

    #[test]
    fn default_db_is_sqlite_in_a_local_out_and_refused_for_s3() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let url = default_db_url(out.to_str().unwrap()).unwrap();
        assert!(url.starts_with("sqlite://") && url.ends_with("/o/corpusminer.db"));
        assert!(default_db_url("s3://bucket/out").is_err());
    }
}
