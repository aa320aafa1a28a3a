//! The control plane of one iteration (arXiv 2402.03300 §2.1, steps 1 and 3–4):
//!
//! - [`inputs`]: shard sources (paths, globs, `s3://`, `https://`, a crawl's `warc.paths.gz`).
//! - [`training`]: seed and negative documents in, a fastText classifier out (or a given model).
//! - [`negatives`]: negatives drawn at random from the crawl's own pages.
//! - [`selection`]: the threshold from the merged score histogram, and per-host kept ratios.
//! - [`annotation`]: proposed hosts with sample pages, URL path prefixes and annotation files.
//! - [`filters`]: what happens to the kept pages on their way to the corpus: exact URL and
//!   content dedup, near-dedup (MinHash LSH), decontamination against benchmarks.
//! - [`corpus`]: the kept pages as dolma JSONL.zst files and their manifest.
//! - [`report`]: what the iteration saw, skipped, kept and measured.
//! - [`iteration`]: `prepare` (shards + model) and `finish` (selection + corpus + report); the
//!   worker runs between the two, in this process or elsewhere.

pub mod annotation;
pub mod corpus;
#[cfg(test)]
mod corpus_tests;
pub mod filters;
pub mod inputs;
pub mod iteration;
pub mod negatives;
pub mod report;
pub mod selection;
pub mod training;

pub use iteration::{finish, prepare, Prepared, RunConfig, Selector, TrainOverrides};
pub use filters::CorpusFilters;
pub use report::Report;
