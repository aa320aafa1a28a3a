//! One iteration, split around the worker phase: [`prepare`] lists shards and trains (or loads)
//! the classifier; workers then score every shard; [`finish`] selects, computes host ratios,
//! writes the corpus and the report. Every decision is stored: config, shards, model and its
//! checksum, threshold, counts.

use crate::corpus::{self, parse_labels, precision_recall};
use crate::inputs::{crawl_shards, expand_inputs};
pub use crate::selection::Selector;
use crate::selection::{domain_rollup, host_stats, proposals, select};
use crate::report::{LabelScores, Report};
use crate::training::{load_model, read_documents, train_and_store, TrainedModel};
use corpusminer_pipeline::classify::{TextFields, TrainSettings};
use corpusminer_pipeline::histogram::ScoreHistogram;
use corpusminer_storage::metastore::Metastore;
use corpusminer_storage::{resolve, ObjectStore, StorageConfig};
use serde::{Deserialize, Serialize};
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

/// The state [`finish`] needs, produced by [`prepare`].
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The metastore.
    pub metastore: Metastore,
    /// Iteration id.
    pub iteration: i64,
    /// Crawl id or name.
    pub crawl: String,
    /// Output store and the iteration's key prefix in it.
    pub out_store: Arc<dyn ObjectStore>,
    /// Key prefix of the output folder in `out_store` ("" for its root).
    pub out_root: String,
    /// Key prefix of this iteration's files (`<root>/iterations/<id>`).
    pub iteration_prefix: String,
    /// The classifier.
    pub model: TrainedModel,
    /// Shard URIs registered.
    pub shards: Vec<String>,
    /// What a token is.
    pub tokens: corpusminer_pipeline::text::TokenCounter,
}

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
    std::fs::create_dir_all(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    Ok(format!("sqlite://{}", dir.join("corpusminer.db").display()))
}

/// Lists shards, registers the iteration, and trains or loads the classifier.
pub async fn prepare(cfg: &RunConfig) -> anyhow::Result<Prepared> {
    if cfg.inputs.is_empty() && cfg.crawl.is_none() {
        anyhow::bail!("no shards: give --input SHARD… or --crawl CC-MAIN-YYYY-WW");
    }
    let db = match &cfg.db {
        Some(db) => db.clone(),
        None => default_db_url(&cfg.out)?,
    };
    if !cfg.out.contains("://") {
        std::fs::create_dir_all(&cfg.out)?;
    }
    let (out_store, out_root) = resolve(&cfg.out, &cfg.storage)?;
    let metastore = Metastore::connect(&db).await?;
    tracing::info!(db = %metastore.redacted_url(), out = %out_store.uri(), "connected");

    let mut shards = expand_inputs(&cfg.inputs)?;
    if let Some(crawl) = &cfg.crawl {
        shards.extend(crawl_shards(crawl, &cfg.crawl_base, cfg.shards, cfg.sample_seed, &cfg.storage).await?);
    }
    let crawl = cfg.crawl.clone().or(cfg.crawl_name.clone()).unwrap_or_else(|| "custom".into());
    let iteration = metastore.create_iteration(&crawl, &serde_json::to_string(cfg)?).await?;
    metastore.add_shards(iteration, &shards).await?;
    let iteration_prefix = join_key(&[&out_root, "iterations", &iteration.to_string()]);
    tracing::info!(iteration, shards = shards.len(), "iteration created");

    metastore.set_state(iteration, "training").await?;
    let model = match &cfg.model {
        Some(uri) => load_model(uri, &cfg.storage).await?,
        None => {
            let positives = read_documents(&cfg.seeds, &cfg.fields(), &cfg.storage).await?;
            let mut negatives = read_documents(&cfg.negatives, &cfg.fields(), &cfg.storage).await?;
            if cfg.negatives_from_crawl > 0 {
                let sampled = crate::negatives::sample_crawl_pages(&shards, cfg.negatives_from_crawl, cfg.negative_shards, cfg.sample_seed, &cfg.storage).await?;
                negatives.files.push(("crawl sample".into(), sampled.len(), 0));
                negatives.texts.extend(sampled);
            }
            let mut settings = if cfg.paper_settings {
                TrainSettings::paper()
            } else {
                TrainSettings::auto(positives.texts.len() + negatives.texts.len())
            };
            cfg.train.apply(&mut settings);
            settings.seed = cfg.sample_seed;
            tracing::info!(positives = positives.texts.len(), negatives = negatives.texts.len(), "training classifier");
            train_and_store(positives.texts, negatives.texts, settings, out_store.clone(), &iteration_prefix).await?
        }
    };
    let tokens = match &cfg.tokenizer {
        Some(uri) => {
            let (store, key) = resolve(uri, &cfg.storage)?;
            let bytes = store.get(&key).await?;
            corpusminer_pipeline::text::TokenCounter::from_tokenizer_json(&bytes)?
        }
        None => corpusminer_pipeline::text::TokenCounter::Whitespace,
    };
    let validation = serde_json::to_string(&model.validation)?;
    metastore.set_model(iteration, &model.uri, &model.sha256, &validation).await?;
    metastore.set_state(iteration, "scoring").await?;
    Ok(Prepared { metastore, iteration, crawl, out_store, out_root, iteration_prefix, model, shards, tokens })
}

/// After the workers: threshold, host statistics, corpus, report (`report.json` in the output
/// folder, and in the metastore). `scoring_seconds` and `workers` describe the worker phase.
pub async fn finish(p: &Prepared, cfg: &RunConfig, scoring_seconds: f64, workers: usize) -> anyhow::Result<Report> {
    let ms = &p.metastore;
    let counts = ms.shard_counts(p.iteration).await?;
    if counts.pending + counts.leased > 0 {
        anyhow::bail!("{} shards are not finished yet", counts.pending + counts.leased);
    }
    ms.set_state(p.iteration, "selecting").await?;
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

    let stats = host_stats(&ms.host_counts(p.iteration, selection.bucket as i64).await?);
    let proposed = proposals(&stats, cfg.domain_ratio);
    let shards = ms.shards(p.iteration).await?;
    let samples = crate::annotation::proposals_with_samples(&p.out_store, &shards, &selection, &proposed, crate::annotation::DEFAULT_SAMPLES).await?;
    ms.save_proposals(p.iteration, &samples).await?;

    let labels = match &cfg.labels {
        Some(path) => Some(parse_labels(&std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading labels {path}: {e}"))?).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let corpus_prefix = join_key(&[&p.out_root, "corpus"]);
    let to_text_key = |scored_key: &str| scored_key.replacen("/scored/", "/texts/", 1);
    let (manifest, summary) = corpus::write_corpus(
        &p.out_store,
        &shards,
        to_text_key,
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
        }
    });
    let records: u64 = shards.iter().map(|s| s.records.unwrap_or(0).max(0) as u64).sum();
    let bytes_in: u64 = shards.iter().map(|s| s.bytes_in.unwrap_or(0).max(0) as u64).sum();
    let secs = scoring_seconds.max(1e-9);
    let report = Report {
        iteration: p.iteration,
        crawl: p.crawl.clone(),
        shards_done: counts.done as u64,
        shards_failed: counts.failed as u64,
        records,
        pages: histogram.total_pages(),
        tokens: histogram.total_tokens(),
        bytes_in,
        counters: ms.skip_counts(p.iteration).await?,
        selector: match selector {
            Selector::TokenBudget(_) => "token_budget",
            Selector::Threshold(_) => "threshold",
            Selector::Default(_) => "default (classifier validation)",
        }
        .into(),
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
        scoring_seconds,
        pages_per_second: histogram.total_pages() as f64 / secs,
        mb_per_second: bytes_in as f64 / 1e6 / secs,
        workers,
        label_scores,
    };
    let json = serde_json::to_string_pretty(&report)?;
    p.out_store.put(&join_key(&[&p.out_root, "report.json"]), json.clone().into()).await?;
    ms.set_report(p.iteration, &json).await?;
    ms.set_state(p.iteration, if counts.failed > 0 { "complete_with_failures" } else { "complete" }).await?;
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
