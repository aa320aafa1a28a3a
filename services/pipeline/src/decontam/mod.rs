//! Benchmark decontamination (DESIGN.md step 7; DeepSeekMath, arXiv 2402.03300 §2.1).
//!
//! The paper's rule: "any text segment containing a 10-gram string that matches exactly any
//! sub-string from the evaluation benchmarks is removed from our math training corpus. For
//! benchmark texts that are shorter than 10 grams but have at least 3 grams, we employ exact
//! matching to filter out contaminated web pages." Here:
//!
//! - a **segment** is a paragraph: a run of non-blank lines of the document, blank lines (empty
//!   or whitespace only) between segments;
//! - a **word** is a lowercased alphanumeric run with punctuation stripped (see [`words`]); an
//!   n-gram is [`NGRAM_WORDS`] = 10 consecutive words inside one segment;
//! - each field of each benchmark record (a GSM8K question, its answer, a MATH problem, its
//!   solution) is a separate **benchmark text**. A text of 10 words or more contributes all its
//!   10-grams; a segment sharing one of them is removed. A text of 3 to 9 words
//!   ([`MIN_EXACT_WORDS`]..`NGRAM_WORDS`) is matched exactly: as a contiguous word sequence
//!   inside the segment. A text under 3 words is ignored (counted in [`BenchmarkStats`]);
//! - a document that loses more than [`DecontamConfig::max_removed_fraction`] (default 0.5) of
//!   its characters is dropped whole.
//!
//! [`BenchmarkIndex`] holds hashed windows (64-bit keys, one bit per benchmark), so it holds no
//! benchmark text; [`Decontaminator::clean`] hashes each window of a segment off a prefix array,
//! one multiply and one lookup per window, no allocation per word. Kept segments are returned
//! byte for byte with their original separators: a document with no match comes back unchanged.

pub mod words;

#[cfg(test)]
mod tests;

use crate::stats::Counters;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use words::WordHashes;

/// Words in a decontamination n-gram (the paper's 10-gram).
pub const NGRAM_WORDS: usize = 10;
/// Shortest benchmark text (in words) that is matched; shorter texts are ignored.
pub const MIN_EXACT_WORDS: usize = 3;
/// Most benchmarks one index holds (one bit each in a 64-bit mask).
pub const MAX_BENCHMARKS: usize = 64;

/// Errors building a [`BenchmarkIndex`] or checking a [`DecontamConfig`].
///
/// A benchmark that cannot be read in full is an error, never a silent pass: decontaminating
/// against part of a benchmark would look like success.
#[derive(Debug, thiserror::Error)]
pub enum DecontamError {
    /// The benchmark file does not exist.
    #[error("benchmark {name}: file {path} not found")]
    MissingFile { name: String, path: PathBuf },
    /// The benchmark file could not be read.
    #[error("benchmark {name}: reading {path}: {source}")]
    Io { name: String, path: PathBuf, source: std::io::Error },
    /// A line of the benchmark is not a JSON object.
    #[error("benchmark {name}: line {line}: {why}")]
    BadRecord { name: String, line: usize, why: String },
    /// A record lacks one of the benchmark's fields (or has it `null`).
    #[error("benchmark {name}: line {line}: no field {field:?}")]
    MissingField { name: String, line: usize, field: String },
    /// The benchmark yielded no record.
    #[error("benchmark {name}: no records")]
    Empty { name: String },
    /// A name that is not snake_case, a repeated name, no fields, too many benchmarks, or bad
    /// window sizes or fraction.
    #[error("bad decontamination config: {0}")]
    Config(String),
}

/// One benchmark: a JSONL file and the fields of each record that are benchmark texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkSpec {
    /// snake_case name, used in counters (`decontam_<name>_segments`) and reports.
    pub name: String,
    /// JSONL file, one record per line; relative paths resolve against the base directory given
    /// to [`BenchmarkIndex::load`].
    pub path: PathBuf,
    /// Fields of each record; each is a separate benchmark text. A string is used as is; a
    /// number or boolean as its JSON text; a missing or `null` field is an error.
    pub fields: Vec<String>,
}

impl BenchmarkSpec {
    /// A spec from its parts.
    pub fn new(name: &str, path: impl Into<PathBuf>, fields: &[&str]) -> Self {
        BenchmarkSpec { name: name.to_string(), path: path.into(), fields: fields.iter().map(|f| f.to_string()).collect() }
    }

    /// The defaults, relative to the shared data folder: GSM8K test (`question`, `answer`), MATH
    /// test (5,000 problems: `problem`, `solution`) and MATH-500 (`problem`, `solution`); the
    /// Chinese CMATH test, AGIEval Gaokao-MathQA and Gaokao-MathCloze (`question`) and MGSM-zh
    /// (`messages.0.content`, the problem). Their answers are left out: a short number matched
    /// exactly would remove every paragraph that writes it.
    ///
    /// MATH-500's `answer` field is left out on purpose: most of its answers are 1 to 3 words
    /// once normalised (`\frac{1}{2}` is `frac 1 2`), and a 3-word answer matched exactly would
    /// remove every paragraph that writes one half. The answer also sits inside `solution`.
    pub fn defaults() -> Vec<BenchmarkSpec> {
        vec![
            BenchmarkSpec::new("gsm8k", "benchmarks/gsm8k-test.jsonl", &["question", "answer"]),
            BenchmarkSpec::new("math", "benchmarks/math-test-5000.jsonl", &["problem", "solution"]),
            BenchmarkSpec::new("math500", "benchmarks/math500-test.jsonl", &["problem", "solution"]),
            BenchmarkSpec::new("cmath", "zh/benchmarks/cmath-test.jsonl", &["question"]),
            BenchmarkSpec::new("gaokao_mathqa", "zh/benchmarks/agieval-gaokao-mathqa.jsonl", &["question"]),
            BenchmarkSpec::new("gaokao_mathcloze", "zh/benchmarks/agieval-gaokao-mathcloze.jsonl", &["question"]),
            BenchmarkSpec::new("mgsm_zh", "zh/benchmarks/mgsm-zh.jsonl", &["messages.0.content"]),
        ]
    }
}

fn default_ngram_words() -> usize {
    NGRAM_WORDS
}
fn default_min_exact_words() -> usize {
    MIN_EXACT_WORDS
}
fn default_max_removed_fraction() -> f64 {
    0.5
}

/// Decontamination settings (serde; unknown keys rejected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecontamConfig {
    /// Benchmarks to index; default [`BenchmarkSpec::defaults`].
    #[serde(default = "BenchmarkSpec::defaults")]
    pub benchmarks: Vec<BenchmarkSpec>,
    /// n of the n-gram, in words (default 10).
    #[serde(default = "default_ngram_words")]
    pub ngram_words: usize,
    /// Benchmark texts of `min_exact_words..ngram_words` words are matched exactly; shorter
    /// ones are ignored (default 3).
    #[serde(default = "default_min_exact_words")]
    pub min_exact_words: usize,
    /// A document whose removed segments hold more than this share of its characters (0..=1)
    /// is dropped whole (default 0.5).
    #[serde(default = "default_max_removed_fraction")]
    pub max_removed_fraction: f64,
}

impl Default for DecontamConfig {
    fn default() -> Self {
        DecontamConfig {
            benchmarks: BenchmarkSpec::defaults(),
            ngram_words: NGRAM_WORDS,
            min_exact_words: MIN_EXACT_WORDS,
            max_removed_fraction: default_max_removed_fraction(),
        }
    }
}

impl DecontamConfig {
    /// Checks window sizes (`1 <= min_exact_words <= ngram_words <= 64`), the fraction
    /// (`0..=1`), and each benchmark (snake_case unique name, at least one field, at most
    /// [`MAX_BENCHMARKS`]).
    pub fn validate(&self) -> Result<(), DecontamError> {
        check_windows(self.ngram_words, self.min_exact_words)?;
        if !(0.0..=1.0).contains(&self.max_removed_fraction) {
            return Err(DecontamError::Config(format!("max_removed_fraction {} is not in 0..=1", self.max_removed_fraction)));
        }
        if self.benchmarks.len() > MAX_BENCHMARKS {
            return Err(DecontamError::Config(format!("{} benchmarks, at most {MAX_BENCHMARKS}", self.benchmarks.len())));
        }
        for (i, b) in self.benchmarks.iter().enumerate() {
            check_name(&b.name)?;
            if self.benchmarks[..i].iter().any(|o| o.name == b.name) {
                return Err(DecontamError::Config(format!("benchmark {} listed twice", b.name)));
            }
            if b.fields.is_empty() {
                return Err(DecontamError::Config(format!("benchmark {} has no fields", b.name)));
            }
        }
        Ok(())
    }
}

fn check_windows(ngram_words: usize, min_exact_words: usize) -> Result<(), DecontamError> {
    if !(1..=64).contains(&ngram_words) || min_exact_words == 0 || min_exact_words > ngram_words {
        return Err(DecontamError::Config(format!(
            "need 1 <= min_exact_words ({min_exact_words}) <= ngram_words ({ngram_words}) <= 64"
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), DecontamError> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DecontamError::Config(format!("benchmark name {name:?} is not snake_case")))
    }
}

/// What one benchmark put into the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchmarkStats {
    /// The benchmark's name.
    pub name: String,
    /// Records (JSONL lines) read.
    pub records: u64,
    /// Benchmark texts (fields) read.
    pub texts: u64,
    /// Words in all texts (normalised).
    pub words: u64,
    /// Texts of `ngram_words` words or more (all their n-grams indexed).
    pub long_texts: u64,
    /// Texts matched exactly (`min_exact_words..ngram_words` words).
    pub exact_texts: u64,
    /// Texts under `min_exact_words` words, ignored.
    pub ignored_texts: u64,
    /// n-gram windows indexed (with repeats within the benchmark).
    pub ngrams: u64,
}

/// A hasher for keys that are already well-mixed 64-bit hashes: the key is its own hash.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyMap = HashMap<u64, u64, BuildHasherDefault<KeyHasher>>;

/// The hashed n-grams and short texts of a set of benchmarks.
///
/// Keys are 64-bit hashes of normalised word windows ([`words`]); values are a bit mask of the
/// benchmarks holding the window (bit i = the i-th benchmark added). A false match needs a
/// 64-bit collision: about 1 in 10^13 per window for an index of a million n-grams. GSM8K test +
/// MATH test + MATH-500 (5.3 MB of JSONL) index 688k distinct 10-grams and 348 exact texts, about
/// 20 MB of maps and 2 MB of filters.
#[derive(Debug, Clone)]
pub struct BenchmarkIndex {
    ngram_words: usize,
    min_exact_words: usize,
    benchmarks: Vec<BenchmarkStats>,
    /// Windows of `ngram_words` words of the long texts.
    ngrams: KeyMap,
    /// Whole short texts (`min_exact_words..ngram_words` words), keyed with their length.
    exact: KeyMap,
    /// Bit `l` set when some exact text has `l` words: the window lengths to slide.
    exact_lengths: u64,
    /// Membership pre-checks of `ngrams` and `exact` (see [`KeyFilter`]).
    ngram_filter: KeyFilter,
    exact_filter: KeyFilter,
}

/// A one-hash Bloom filter over keys, about 16 bits per key (a false "maybe" for ~6% of absent
/// keys, never a false "no"): most windows of a clean page are rejected by one bit test in a
/// table small enough for the cache, before a probe of the large map.
#[derive(Debug, Clone, Default)]
struct KeyFilter {
    bits: Vec<u64>,
    shift: u32,
}

impl KeyFilter {
    fn build(map: &KeyMap) -> Self {
        if map.is_empty() {
            return KeyFilter::default();
        }
        let nbits = (map.len() * 16).next_power_of_two().max(64);
        let shift = 64 - nbits.trailing_zeros();
        let mut bits = vec![0u64; nbits / 64];
        for &k in map.keys() {
            let b = (k >> shift) as usize;
            bits[b >> 6] |= 1 << (b & 63);
        }
        KeyFilter { bits, shift }
    }

    #[inline]
    fn maybe(&self, key: u64) -> bool {
        if self.bits.is_empty() {
            return false;
        }
        let b = (key >> self.shift) as usize;
        self.bits[b >> 6] >> (b & 63) & 1 == 1
    }
}

impl BenchmarkIndex {
    /// An empty index for `ngram_words`-grams and exact texts of `min_exact_words` words and up.
    ///
    /// Errors: [`DecontamError::Config`] unless `1 <= min_exact_words <= ngram_words <= 64`.
    pub fn new(ngram_words: usize, min_exact_words: usize) -> Result<Self, DecontamError> {
        check_windows(ngram_words, min_exact_words)?;
        Ok(BenchmarkIndex {
            ngram_words,
            min_exact_words,
            benchmarks: Vec::new(),
            ngrams: KeyMap::default(),
            exact: KeyMap::default(),
            exact_lengths: 0,
            ngram_filter: KeyFilter::default(),
            exact_filter: KeyFilter::default(),
        })
    }

    /// An index of one JSONL benchmark with the paper's windows (10-grams, exact 3..9 words).
    /// See [`Self::add_jsonl`].
    pub fn from_jsonl(name: &str, reader: impl BufRead, fields: &[&str]) -> Result<Self, DecontamError> {
        let mut index = BenchmarkIndex::new(NGRAM_WORDS, MIN_EXACT_WORDS)?;
        index.add_jsonl(name, reader, fields)?;
        Ok(index)
    }

    /// Loads every benchmark of `config`, resolving relative paths against `base_dir`.
    ///
    /// Errors: an invalid config, a missing or unreadable file, a bad line or missing field
    /// ([`DecontamError`]); never a partial index.
    pub fn load(config: &DecontamConfig, base_dir: &Path) -> Result<Self, DecontamError> {
        config.validate()?;
        let mut index = BenchmarkIndex::new(config.ngram_words, config.min_exact_words)?;
        for spec in &config.benchmarks {
            let path = base_dir.join(&spec.path);
            let file = std::fs::File::open(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    DecontamError::MissingFile { name: spec.name.clone(), path: path.clone() }
                } else {
                    DecontamError::Io { name: spec.name.clone(), path: path.clone(), source }
                }
            })?;
            let fields: Vec<&str> = spec.fields.iter().map(String::as_str).collect();
            index
                .add_jsonl(&spec.name, std::io::BufReader::with_capacity(1 << 16, file), &fields)
                .map_err(|e| match e {
                    DecontamError::Io { name, source, .. } => DecontamError::Io { name, path: path.clone(), source },
                    e => e,
                })?;
        }
        Ok(index)
    }

    /// Adds a JSONL benchmark: each non-blank line a JSON object, each of `fields` a separate
    /// benchmark text. Returns what it indexed.
    ///
    /// Errors: a bad name (not snake_case, already present), too many benchmarks, no fields, a
    /// read error (path left empty), a line that is not a JSON object, a missing or `null`
    /// field, no records at all.
    pub fn add_jsonl(&mut self, name: &str, mut reader: impl BufRead, fields: &[&str]) -> Result<&BenchmarkStats, DecontamError> {
        if fields.is_empty() {
            return Err(DecontamError::Config(format!("benchmark {name} has no fields")));
        }
        let id = self.start_benchmark(name)?;
        let mut line = String::new();
        let mut line_no = 0usize;
        let mut buf = WordHashes::new(self.ngram_words);
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|source| DecontamError::Io {
                name: name.to_string(),
                path: PathBuf::new(),
                source,
            });
            let n = match n {
                Ok(n) => n,
                Err(e) => return Err(self.abort(e)),
            };
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let record = match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(m)) => m,
                Ok(_) => return Err(self.abort(DecontamError::BadRecord { name: name.into(), line: line_no, why: "not a JSON object".into() })),
                Err(e) => return Err(self.abort(DecontamError::BadRecord { name: name.into(), line: line_no, why: e.to_string() })),
            };
            self.benchmarks[id].records += 1;
            for field in fields {
                let text = match crate::fields::field_text(&record, field) {
                    crate::fields::FieldText::Text(t) => t,
                    crate::fields::FieldText::NotText => {
                        return Err(self.abort(DecontamError::BadRecord {
                            name: name.into(),
                            line: line_no,
                            why: format!("field {field:?} is not text"),
                        }))
                    }
                    crate::fields::FieldText::Missing => {
                        return Err(self.abort(DecontamError::MissingField { name: name.into(), line: line_no, field: field.to_string() }))
                    }
                };
                self.add_text_with(id, &text, &mut buf);
            }
        }
        if self.benchmarks[id].records == 0 {
            return Err(self.abort(DecontamError::Empty { name: name.into() }));
        }
        self.rebuild_filters();
        Ok(&self.benchmarks[id])
    }

    /// Adds a benchmark from its texts (each a separate benchmark text). Errors as
    /// [`Self::add_jsonl`] for the name.
    pub fn add_texts<S: AsRef<str>>(&mut self, name: &str, texts: impl IntoIterator<Item = S>) -> Result<&BenchmarkStats, DecontamError> {
        let id = self.start_benchmark(name)?;
        let mut buf = WordHashes::new(self.ngram_words);
        for t in texts {
            self.benchmarks[id].records += 1;
            self.add_text_with(id, t.as_ref(), &mut buf);
        }
        self.rebuild_filters();
        Ok(&self.benchmarks[id])
    }

    fn start_benchmark(&mut self, name: &str) -> Result<usize, DecontamError> {
        check_name(name)?;
        if self.benchmarks.iter().any(|b| b.name == name) {
            return Err(DecontamError::Config(format!("benchmark {name} added twice")));
        }
        if self.benchmarks.len() >= MAX_BENCHMARKS {
            return Err(DecontamError::Config(format!("more than {MAX_BENCHMARKS} benchmarks")));
        }
        self.benchmarks.push(BenchmarkStats { name: name.to_string(), ..Default::default() });
        Ok(self.benchmarks.len() - 1)
    }

    /// Undoes a benchmark whose reading failed: its windows stay out of the index.
    fn abort(&mut self, e: DecontamError) -> DecontamError {
        let id = self.benchmarks.len() - 1;
        let bit = 1u64 << id;
        for map in [&mut self.ngrams, &mut self.exact] {
            map.retain(|_, mask| {
                *mask &= !bit;
                *mask != 0
            });
        }
        self.benchmarks.pop();
        // `exact_lengths` may keep a length no surviving text has: a superset only costs time.
        self.rebuild_filters();
        e
    }

    fn rebuild_filters(&mut self) {
        self.ngram_filter = KeyFilter::build(&self.ngrams);
        self.exact_filter = KeyFilter::build(&self.exact);
    }

    fn add_text_with(&mut self, id: usize, text: &str, buf: &mut WordHashes) {
        let bit = 1u64 << id;
        buf.fill(text);
        let n = buf.len();
        let stats = &mut self.benchmarks[id];
        stats.texts += 1;
        stats.words += n as u64;
        if n >= self.ngram_words {
            stats.long_texts += 1;
            let windows = n - self.ngram_words + 1;
            stats.ngrams += windows as u64;
            self.ngrams.reserve(windows);
            for start in 0..windows {
                *self.ngrams.entry(buf.window(start, self.ngram_words)).or_insert(0) |= bit;
            }
        } else if n >= self.min_exact_words {
            stats.exact_texts += 1;
            *self.exact.entry(buf.window(0, n)).or_insert(0) |= bit;
            self.exact_lengths |= 1 << n;
        } else {
            stats.ignored_texts += 1;
        }
    }

    /// What each benchmark put into the index, in the order added (bit order of masks).
    pub fn benchmarks(&self) -> &[BenchmarkStats] {
        &self.benchmarks
    }

    /// The name of benchmark `id` (bit `id` of a mask).
    pub fn name(&self, id: usize) -> &str {
        &self.benchmarks[id].name
    }

    /// n of the n-gram, in words.
    pub fn ngram_words(&self) -> usize {
        self.ngram_words
    }

    /// Distinct n-gram keys and distinct exact-text keys held.
    pub fn len(&self) -> (usize, usize) {
        (self.ngrams.len(), self.exact.len())
    }

    /// True when the index holds nothing to match.
    pub fn is_empty(&self) -> bool {
        self.ngrams.is_empty() && self.exact.is_empty()
    }

    /// The mask of benchmarks that `segment` matches (0 = clean): bit i set when the segment
    /// shares an n-gram with benchmark i's long texts or contains one of its exact texts as a
    /// contiguous word sequence.
    pub fn matches(&self, segment: &str) -> u64 {
        let mut buf = WordHashes::new(self.ngram_words);
        self.matches_with(segment, &mut buf)
    }

    fn matches_with(&self, segment: &str, buf: &mut WordHashes) -> u64 {
        buf.fill(segment);
        let n = buf.len();
        let mut mask = 0u64;
        if n >= self.ngram_words && !self.ngrams.is_empty() {
            for start in 0..=n - self.ngram_words {
                let key = buf.window(start, self.ngram_words);
                if self.ngram_filter.maybe(key) {
                    if let Some(m) = self.ngrams.get(&key) {
                        mask |= m;
                    }
                }
            }
        }
        let mut lengths = self.exact_lengths;
        while lengths != 0 {
            let len = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            if len > n {
                break;
            }
            for start in 0..=n - len {
                let key = buf.window(start, len);
                if self.exact_filter.maybe(key) {
                    if let Some(m) = self.exact.get(&key) {
                        mask |= m;
                    }
                }
            }
        }
        mask
    }
}

/// The result of cleaning one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cleaned {
    /// The document without its contaminated segments (kept segments and their separators byte
    /// for byte; the input itself when nothing matched); `None` when the document was dropped
    /// whole.
    pub text: Option<String>,
    /// Segments (paragraphs) in the document.
    pub segments: usize,
    /// (benchmark name, segment index from 0) for every benchmark each removed segment matched,
    /// by segment then benchmark order. A segment matching two benchmarks appears twice.
    pub removed_segments: Vec<(String, usize)>,
    /// Distinct segments removed.
    pub removed_segment_count: usize,
    /// Characters (Unicode scalar values) in the removed segments.
    pub removed_chars: usize,
    /// Characters in the input document.
    pub total_chars: usize,
}

impl Cleaned {
    /// True when the document was dropped whole.
    pub fn dropped(&self) -> bool {
        self.text.is_none()
    }

    /// Adds this document to `counters`: `decontam_documents` (seen), `decontam_documents_clean`
    /// (nothing removed), `decontam_documents_trimmed` (segments removed, kept),
    /// `decontam_documents_dropped`, `decontam_segments_removed`, `decontam_chars_removed`, and
    /// per benchmark `decontam_<bench>_segments` (removed segments it matched) and
    /// `decontam_<bench>_documents_dropped` (dropped documents with a segment it matched).
    pub fn count_into(&self, counters: &mut Counters) {
        counters.incr("decontam_documents");
        if self.removed_segment_count == 0 {
            counters.incr("decontam_documents_clean");
            return;
        }
        counters.incr(if self.dropped() { "decontam_documents_dropped" } else { "decontam_documents_trimmed" });
        counters.add("decontam_segments_removed", self.removed_segment_count as u64);
        counters.add("decontam_chars_removed", self.removed_chars as u64);
        let mut seen: Vec<&str> = Vec::new();
        for (bench, _) in &self.removed_segments {
            counters.incr(&format!("decontam_{bench}_segments"));
            if self.dropped() && !seen.contains(&bench.as_str()) {
                seen.push(bench);
                counters.incr(&format!("decontam_{bench}_documents_dropped"));
            }
        }
    }
}

/// A serialisable summary of a decontamination run: what was indexed and what was removed.
/// Reports of shards merge by adding counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecontamReport {
    /// What each benchmark put into the index.
    pub benchmarks: Vec<BenchmarkStats>,
    /// The counters of [`Cleaned::count_into`].
    pub counters: Counters,
}

impl DecontamReport {
    /// An empty report for `index`.
    pub fn new(index: &BenchmarkIndex) -> Self {
        DecontamReport { benchmarks: index.benchmarks().to_vec(), counters: Counters::default() }
    }

    /// Counts one cleaned document.
    pub fn record(&mut self, cleaned: &Cleaned) {
        cleaned.count_into(&mut self.counters);
    }

    /// Adds the counters of `other` (same index) into `self`.
    pub fn merge(&mut self, other: &DecontamReport) {
        self.counters.merge(&other.counters);
    }
}

/// Removes contaminated segments from documents. Cheap to clone (the index is shared); `clean`
/// takes `&self`, so one value serves every thread.
#[derive(Debug, Clone)]
pub struct Decontaminator {
    index: Arc<BenchmarkIndex>,
    max_removed_fraction: f64,
}

/// A segment's byte range in the document.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
}

/// Splits `text` into paragraphs: runs of non-blank lines (a blank line is empty or whitespace
/// only; `\n` ends a line, a `\r` before it is whitespace). Ranges exclude the final line break.
fn segments(text: &str, out: &mut Vec<Segment>) {
    out.clear();
    let mut pos = 0;
    let mut open: Option<Segment> = None;
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let line_start = pos;
        pos += line.len();
        if body.trim().is_empty() {
            if let Some(s) = open.take() {
                out.push(s);
            }
        } else {
            let end = line_start + body.len();
            match &mut open {
                Some(s) => s.end = end,
                None => open = Some(Segment { start: line_start, end }),
            }
        }
    }
    if let Some(s) = open {
        out.push(s);
    }
}

impl Decontaminator {
    /// A decontaminator over `index`, dropping documents that lose more than
    /// `config.max_removed_fraction` of their characters. The config's benchmark list and window
    /// sizes are not consulted here (they built the index).
    ///
    /// Errors: [`DecontamError::Config`] for a fraction outside 0..=1.
    pub fn new(index: impl Into<Arc<BenchmarkIndex>>, config: &DecontamConfig) -> Result<Self, DecontamError> {
        if !(0.0..=1.0).contains(&config.max_removed_fraction) {
            return Err(DecontamError::Config(format!("max_removed_fraction {} is not in 0..=1", config.max_removed_fraction)));
        }
        Ok(Decontaminator { index: index.into(), max_removed_fraction: config.max_removed_fraction })
    }

    /// Loads the config's benchmarks ([`BenchmarkIndex::load`]) and builds a decontaminator.
    pub fn from_config(config: &DecontamConfig, base_dir: &Path) -> Result<Self, DecontamError> {
        let index = BenchmarkIndex::load(config, base_dir)?;
        Decontaminator::new(index, config)
    }

    /// The index in use.
    pub fn index(&self) -> &BenchmarkIndex {
        &self.index
    }

    /// Removes every segment of `text` that matches a benchmark ([`BenchmarkIndex::matches`]),
    /// and drops the document when the removed segments hold more than `max_removed_fraction`
    /// of its characters. Kept segments keep their bytes and the separator that followed them;
    /// leading and trailing blank text is kept. Never fails: any `&str` is a valid document.
    pub fn clean(&self, text: &str) -> Cleaned {
        let mut segs = Vec::new();
        segments(text, &mut segs);
        let mut buf = WordHashes::new(self.index.ngram_words);
        let mut masks: Vec<u64> = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let m = self.index.matches_with(&text[s.start..s.end], &mut buf);
            if m != 0 {
                masks.resize(i, 0);
                masks.push(m);
            }
        }
        let total_chars = text.chars().count();
        if masks.is_empty() {
            return Cleaned {
                text: Some(text.to_string()),
                segments: segs.len(),
                removed_segments: Vec::new(),
                removed_segment_count: 0,
                removed_chars: 0,
                total_chars,
            };
        }
        masks.resize(segs.len(), 0);
        let mut removed_segments = Vec::new();
        let mut removed_chars = 0;
        let mut removed_segment_count = 0;
        for (i, (&m, s)) in masks.iter().zip(&segs).enumerate() {
            if m == 0 {
                continue;
            }
            removed_segment_count += 1;
            removed_chars += text[s.start..s.end].chars().count();
            let mut bits = m;
            while bits != 0 {
                let id = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                removed_segments.push((self.index.name(id).to_string(), i));
            }
        }
        let dropped = removed_chars as f64 > self.max_removed_fraction * total_chars as f64;
        let out = if dropped {
            None
        } else {
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..segs[0].start]);
            let mut prev: Option<usize> = None;
            for (i, s) in segs.iter().enumerate() {
                if masks[i] != 0 {
                    continue;
                }
                if let Some(p) = prev {
                    // The separator that followed the previous kept segment.
                    out.push_str(&text[segs[p].end..segs[p + 1].start]);
                }
                out.push_str(&text[s.start..s.end]);
                prev = Some(i);
            }
            out.push_str(&text[segs[segs.len() - 1].end..]);
            Some(out)
        };
        Cleaned { text: out, segments: segs.len(), removed_segments, removed_segment_count, removed_chars, total_chars }
    }
}
