//! `OUT/report.json` and the readable summary printed at the end of a run.

use crate::filters::FilterReport;
use crate::selection::HostStat;
use corpusminer_pipeline::histogram::Selection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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
    /// How the threshold was chosen (`token_budget`, `threshold` or `default`).
    pub selector: String,
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
    /// Hosts above `domain_ratio`, most kept pages first.
    pub proposed_hosts: Vec<HostStat>,
    /// Top hosts by kept pages (all hosts when few).
    pub top_hosts: Vec<HostStat>,
    /// Top registrable domains by kept pages.
    pub top_domains: Vec<HostStat>,
    /// Hosts seen.
    pub hosts: usize,
    /// Seconds spent scoring (the worker phase).
    pub scoring_seconds: f64,
    /// Pages per second in the scoring phase (all workers).
    pub pages_per_second: f64,
    /// Compressed megabytes (10^6 bytes) per second in the scoring phase.
    pub mb_per_second: f64,
    /// Worker threads used.
    pub workers: usize,
    /// Precision/recall against `--labels`.
    pub label_scores: Option<LabelScores>,
}

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "iteration {} of {}: {} shards done, {} failed", self.iteration, self.crawl, self.shards_done, self.shards_failed)?;
        for s in &self.failed_shards {
            writeln!(f, "  failed shard        {} ({}, {} attempts): {}", s.uri, s.reason, s.attempts, s.error)?;
        }
        match self.parent {
            Some(parent) => writeln!(f, "  seed                {:>12} documents (from iteration {parent}: +{} pages, -{} pages)", self.seed_documents, self.seed_added, self.seed_removed)?,
            None if self.seed_documents > 0 => writeln!(f, "  seed                {:>12} documents", self.seed_documents)?,
            None => {}
        }
        writeln!(f, "  records read        {:>12}", self.records)?;
        writeln!(f, "  pages scored        {:>12}   tokens {}", self.pages, self.tokens)?;
        let skipped: Vec<_> = self.counters.iter().filter(|(k, _)| !k.starts_with("record_") && !matches!(k.as_str(), "pages_scored" | "page")).collect();
        if !skipped.is_empty() {
            writeln!(f, "  skipped / counted by reason:")?;
            for (k, v) in skipped {
                writeln!(f, "    {k:<28}{v:>10}")?;
            }
        }
        let types: Vec<String> = self.counters.iter().filter_map(|(k, v)| k.strip_prefix("record_").map(|t| format!("{t} {v}"))).collect();
        if !types.is_empty() {
            writeln!(f, "  records by type: {}", types.join(", "))?;
        }
        writeln!(
            f,
            "  threshold           {:>12.6}   ({}; bucket {})",
            self.selection.threshold, self.selector, self.selection.bucket
        )?;
        writeln!(
            f,
            "  kept                {:>12} pages ({:.1}%), {} tokens ({:.1}%)",
            self.selection.kept_pages,
            pct(self.selection.kept_pages, self.pages),
            self.selection.kept_tokens,
            pct(self.selection.kept_tokens, self.tokens)
        )?;
        if let Some(c) = &self.convergence {
            writeln!(
                f,
                "  retention vs {:<6} {:>11.1}% of pages, {:.1}% of tokens; {} new pages ({} tokens), {} no longer kept",
                c.parent,
                100.0 * c.retention_pages,
                100.0 * c.retention_tokens,
                c.new_pages,
                c.new_tokens,
                c.dropped_pages
            )?;
        }
        writeln!(
            f,
            "  corpus              {:>12} documents, {} tokens ({} exact duplicates removed)",
            self.corpus_documents, self.corpus_tokens, self.exact_duplicates_removed
        )?;
        write!(f, "{}", self.filters)?;
        if let Some(v) = &self.validation {
            let g = |a: &str, k: &str| v.get(a).and_then(|p| p.get(k)).and_then(|x| x.as_f64()).map(|x| format!("{x:.3}")).unwrap_or("-".into());
            writeln!(
                f,
                "  classifier validation: chunks at 0.5: precision {} recall {} f1 {}; synthetic pages at {}: precision {} recall {}",
                g("at_half", "precision"),
                g("at_half", "recall"),
                g("at_half", "f1"),
                g("page", "threshold"),
                g("page", "precision"),
                g("page", "recall")
            )?;
        }
        writeln!(f, "  hosts               {:>12}   proposed (kept ratio > {:.2}): {}", self.hosts, self.domain_ratio, self.proposed_hosts.len())?;
        for h in self.top_hosts.iter().take(10) {
            writeln!(f, "    {:<40} {:>6}/{:<6} kept  ratio {:.2}", h.host, h.kept_pages, h.pages, h.ratio)?;
        }
        writeln!(
            f,
            "  speed               {:>12.1} pages/s, {:.2} MB/s compressed ({} workers, {:.1} s)",
            self.pages_per_second, self.mb_per_second, self.workers, self.scoring_seconds
        )?;
        if let Some(l) = &self.label_scores {
            writeln!(
                f,
                "  labels ({} labelled pages, {} math): precision {:.3}, recall {:.3}",
                l.labelled_pages, l.math_pages, l.precision, l.recall
            )?;
        }
        Ok(())
    }
}
