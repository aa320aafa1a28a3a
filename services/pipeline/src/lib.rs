//! Pure document processing for corpusminer: WARC records -> pages -> text -> features -> scores.
//!
//! This crate does no I/O beyond `std::io::Read` and knows nothing of storage or databases, so
//! every stage is unit-testable on bytes. The stages, in data-flow order:
//!
//! - [`warc`]: WARC/1.x records out of a (multi-member gzip or plain) byte stream, with each
//!   record's gzip-member offset and length as Common Crawl's index gives them.
//! - [`http`]: the HTTP response inside a `response` record: status, headers, body with
//!   chunked transfer-encoding and content-encoding undone.
//! - [`extract`]: charset decoding and main-content text with mathematics kept as LaTeX.
//! - [`classify`]: fastText training on seed positives and negatives, and scoring.
//! - [`text`]: the text normalisation shared by training and scoring, and token counting.
//! - [`segment`]: word segmentation of Chinese (jieba) and Japanese (kana bigrams) for everything
//!   that counts words.
//! - [`lang`]: language identification of a page's main text (ISO 639-1).
//! - [`domain`]: host and registrable domain of a URL (the domain of the paper's 10% rule).
//! - [`histogram`]: score buckets spaced in log-odds, threshold selection by token budget.
//! - [`scored`]: the per-shard scored-page and text files (JSONL + zstd) and their rows.
//! - [`decontam`]: benchmark decontamination (10-gram overlap, exact short texts) per paragraph.
//! - [`stats`]: mergeable counters of seen, kept and skipped-by-reason items.
//! - [`dedup`]: URL normalisation and exact URL dedup, then near-dedup with MinHash LSH (out of core).

pub mod classify;
pub mod decontam;
pub mod dedup;
pub mod domain;
pub mod extract;
pub mod fields;
pub mod histogram;
pub mod lang;
pub mod http;
pub mod page;
pub mod scored;
pub mod segment;
pub mod stats;
pub mod testdata;
pub mod text;
pub mod warc;

pub use http::{parse_response, HttpResponse};
pub use page::{Page, Pages};
pub use warc::{ReadEvent, Record, RecordReader, WarcReader};
