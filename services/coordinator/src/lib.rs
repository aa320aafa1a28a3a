//! The control plane of one iteration (arXiv 2402.03300 §2.1, steps 1 and 3–4):
//!
//! - [`inputs`]: shard sources (paths, globs, `s3://`, `https://`, a crawl's `warc.paths.gz`).
//! - [`training`]: seed and negative documents in, a fastText classifier out (or a given model).
//! - [`negatives`]: negatives drawn at random from the crawl's own pages.
//! - [`selection`]: the threshold from the merged score histogram, and per-host kept ratios.
//! - [`annotation`]: proposed hosts with sample pages, URL path prefixes and annotation files.
//! - [`filters`]: what happens to the kept pages on their way to the corpus: exact URL and
//!   content dedup, near-dedup (MinHash LSH), decontamination against benchmarks.
//! - [`benchmarks`]: the default decontamination benchmarks, compiled into the binary.
//! - [`corpus`]: the kept pages as dolma JSONL.zst files and their manifest.
//! - [`report`]: what the iteration saw, skipped, kept and measured.
//! - [`seed`]: the seed of an iteration and its growth from annotations, with its manifest.
//! - [`convergence`]: retention of iteration n+1's kept data against iteration n.
//! - [`iteration`]: the run's configuration and `finish` (selection + corpus + report).
//! - [`driver`]: the iteration state machine: each state's step, resumable after a kill.

pub mod annotation;
pub mod benchmarks;
pub mod browse;
pub mod convergence;
pub mod corpus;
pub mod cpu;
#[cfg(test)]
mod corpus_tests;
pub mod driver;
pub mod export;
pub mod filters;
pub mod inputs;
pub mod iteration;
pub mod negatives;
pub mod report;
pub mod scheduler;
pub mod seed;
pub mod selection;
pub mod training;

pub use driver::{create_first, create_next, drive, DriveOptions, IterationInputs, Outcome};
pub use filters::CorpusFilters;
pub use iteration::{finish, Prepared, RunConfig, Selector, TrainOverrides};
pub use report::Report;
