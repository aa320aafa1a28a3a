//! One shard through the pipeline: records -> pages -> text -> score, on one thread.

use corpusminer_pipeline::classify::Classifier;
use corpusminer_pipeline::dedup::url_key;
use corpusminer_pipeline::domain::host_domain;
use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::histogram::{bucket_of, ScoreHistogram};
use corpusminer_pipeline::lang::identify;
use corpusminer_pipeline::page::Pages;
use corpusminer_pipeline::scored::{PageText, ScoredPage};
use corpusminer_pipeline::stats::Counters;
use corpusminer_pipeline::text::TokenCounter;
use corpusminer_pipeline::warc::WarcReader;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Live counters a progress bar can poll while shards run (all monotonic).
#[derive(Debug, Default)]
pub struct Progress {
    /// Compressed shard bytes read so far.
    pub bytes: AtomicU64,
    /// HTML pages scored so far.
    pub pages: AtomicU64,
    /// Shards finished (done or failed).
    pub shards: AtomicU64,
    /// Shards of the iteration (set when scoring starts).
    pub shards_total: AtomicU64,
    /// The step the iteration is in and what it is doing there, for a person to plan by.
    pub step: Mutex<Step>,
}

/// The step an iteration is in ([`Progress::step`]): the state's name (`preparing`,
/// `preparing_negatives`, `training`, `scoring`, `selecting`) and what it is doing now
/// ("reading seed file 2 of 2 (…), 7,473 documents so far", "epoch 3 of 10").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// The state's name; empty before the first step.
    pub name: String,
    /// What the step is doing now; empty when it said nothing yet.
    pub detail: String,
}

impl Progress {
    /// Enters step `name`, with no detail yet.
    pub fn set_step(&self, name: &str) {
        let mut step = self.step.lock().unwrap_or_else(|e| e.into_inner());
        step.name = name.to_string();
        step.detail.clear();
    }

    /// What the current step is doing now.
    pub fn set_detail(&self, detail: impl Into<String>) {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).detail = detail.into();
    }

    /// The current step and its detail.
    pub fn step(&self) -> Step {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `n` with its digits grouped by threes: 15,225,300 (every count a person reads: progress,
/// summaries, tables).
pub fn grouped(n: u64) -> String {
    use num_format::{Locale, ToFormattedString};
    n.to_formatted_string(&Locale::en)
}

/// What every shard of an iteration shares: the model, and where to report progress.
#[derive(Debug, Clone)]
pub struct ShardContext {
    /// The classifier, loaded once per process and shared by all worker threads.
    pub classifier: Arc<Classifier>,
    /// What a token is (whitespace words, or a `tokenizer.json`).
    pub tokens: TokenCounter,
    /// Pages whose score is at least this keep their text in the shard's text file (0 = all).
    pub text_floor: f32,
    /// Languages to score (ISO 639-1 codes, [`corpusminer_pipeline::lang`]); `None` scores
    /// every page. A page of another language is counted under its language and skipped as
    /// `language_not_selected`, before scoring.
    pub languages: Option<Arc<Vec<String>>>,
    /// Progress counters.
    pub progress: Arc<Progress>,
}

/// Pages and tokens of one (host, bucket) cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Pages.
    pub pages: u64,
    /// Tokens.
    pub tokens: u64,
}

/// Everything one shard produced.
#[derive(Debug, Default)]
pub struct ShardOutput {
    /// One row per scored page, in shard order.
    pub pages: Vec<ScoredPage>,
    /// Text of the pages at or above the text floor.
    pub texts: Vec<PageText>,
    /// Tokens and pages per score bucket.
    pub histogram: ScoreHistogram,
    /// Per (host, registrable domain, bucket): pages and tokens.
    pub hosts: BTreeMap<(String, String, usize), Cell>,
    /// Per (language, bucket): pages and tokens of the scored pages.
    pub languages: BTreeMap<(String, usize), Cell>,
    /// Per (host, language): pages and tokens of every page whose text was extracted, the pages
    /// a `--languages` filter skipped included.
    pub host_languages: BTreeMap<(String, String), Cell>,
    /// Records seen by type, pages skipped by reason, and pipeline counters.
    pub counters: Counters,
    /// WARC records read.
    pub records: u64,
    /// Compressed bytes read.
    pub bytes_in: u64,
}

/// Why an attempt at a shard failed; its [`ShardFailure::reason`] is stored with the shard.
///
/// Data damage inside a readable file (a truncated or corrupt gzip member, a bad record) is not a
/// failure: it is counted and skipped, and the shard is done. A failure means the shard's bytes
/// could not be read to their end, or hold no WARC at all, or the pipeline panicked on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardFailure {
    /// The stream broke for good (an I/O error once the resumable reader's retries were spent,
    /// an object that cannot be opened, an output file that cannot be written). Retryable: the
    /// shard goes back to the queue until its attempts are spent.
    #[error("{0}")]
    Io(String),
    /// The store answered that the shard cannot be read as named, which a retry does not
    /// change: not found (HTTP 404/410, no such key or file), not allowed (HTTP 401/403), or a
    /// read the store cannot serve (no size, no range reads). Final; `reason` is the store's
    /// error kind (`not_found`, `unauthorized`, `unsupported`) and the message names the URL
    /// or path and the status.
    #[error("{message}")]
    Unreadable {
        /// `not_found`, `unauthorized` or `unsupported`.
        reason: &'static str,
        /// The store's error, its causes included.
        message: String,
    },
    /// The shard has no bytes at all. Final (a retry reads the same nothing).
    #[error("the shard is empty (0 bytes)")]
    Empty,
    /// The shard has bytes but not one WARC record header (a damaged record still counts as
    /// WARC: it is skipped and the shard is done). Final.
    #[error("{bytes} bytes read and not one WARC record header among them (not a WARC file, plain or gzip)")]
    NotWarc {
        /// Bytes read (compressed, as stored).
        bytes: u64,
    },
    /// The pipeline panicked on this shard. Final: the same bytes would panic again.
    #[error("processing panicked: {0}")]
    Panic(String),
}

impl ShardFailure {
    /// The stable snake_case reason stored with the shard: `io`, `not_found`, `unauthorized`,
    /// `unsupported`, `empty`, `not_warc`, `panic`.
    pub fn reason(&self) -> &'static str {
        match self {
            ShardFailure::Io(_) => "io",
            ShardFailure::Unreadable { reason, .. } => reason,
            ShardFailure::Empty => "empty",
            ShardFailure::NotWarc { .. } => "not_warc",
            ShardFailure::Panic(_) => "panic",
        }
    }

    /// The failure of a shard whose store refused or broke: final ([`ShardFailure::Unreadable`])
    /// for an error a retry cannot fix (not found, not allowed, unsupported), else `Io`. The
    /// message is the error with its causes, each once ([`corpusminer_storage::error_chain`]).
    pub fn from_storage(e: &corpusminer_storage::StorageError) -> Self {
        let message = corpusminer_storage::error_chain(e);
        if e.is_retryable() {
            ShardFailure::Io(message)
        } else {
            ShardFailure::Unreadable { reason: e.kind().as_str(), message }
        }
    }

    /// Whether another attempt may succeed (only an I/O failure).
    pub fn retryable(&self) -> bool {
        matches!(self, ShardFailure::Io(_))
    }

    /// The failure of a panic payload (`catch_unwind`'s error).
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        ShardFailure::Panic(msg)
    }
}

/// Counts bytes read through it into the shard output and the shared progress, and keeps the
/// first I/O error (the WARC reader stops at it and counts a `read_error`; the shard then fails).
struct CountingReader<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
    progress: Arc<Progress>,
    error: Arc<std::sync::Mutex<Option<String>>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes.fetch_add(n as u64, Ordering::Relaxed);
                self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert_with(|| corpusminer_storage::error_chain(&e));
                Err(e)
            }
        }
    }
}

/// The document id of a page: the UUID of its WARC-Record-ID, else a hash of URL and date.
pub fn document_id(record_id: &str, url: &str, date: Option<&str>) -> String {
    let rid = record_id.trim().trim_start_matches('<').trim_end_matches('>');
    let rid = rid.strip_prefix("urn:uuid:").unwrap_or(rid);
    if !rid.is_empty() {
        return rid.to_string();
    }
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    h.update([0]);
    h.update(date.unwrap_or("").as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Hex of the first 16 bytes of the SHA-256 of `text`: the exact-duplicate key.
pub fn content_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// Streams one shard (gzip or plain WARC bytes) through the pipeline. Unreadable records and
/// unusable pages are counted under their reason in `counters`, and the shard is done.
///
/// Errors ([`ShardFailure`]): `Io` when the reader fails before the end (the partial output is
/// dropped, and the attempt's pages and bytes are taken back from the progress counters),
/// `Empty` for a shard of 0 bytes, `NotWarc` when no WARC record was found. A panic is not
/// caught here: [`process_shard_caught`] turns it into `Panic`.
///
/// Exact URL dedup within the shard happens before extraction and scoring (arXiv 2402.03300
/// §2.1, "after URL dedup"): a page whose [`url_key`] (normalised URL) an earlier page of the
/// shard had is skipped and counted under `url_duplicate`. Across shards the corpus writer
/// dedups the kept pages by the same key.
pub fn process_shard<R: Read>(reader: R, ctx: &ShardContext) -> Result<ShardOutput, ShardFailure> {
    let bytes = Arc::new(AtomicU64::new(0));
    let error = Arc::new(std::sync::Mutex::new(None));
    let counting = CountingReader { inner: reader, bytes: bytes.clone(), progress: ctx.progress.clone(), error: error.clone() };
    let mut out = ShardOutput::default();
    let mut pages = Pages::new(WarcReader::new(std::io::BufReader::with_capacity(1 << 20, counting)));
    let mut seen_urls: HashSet<String> = HashSet::new();
    for page in pages.by_ref() {
        corpusminer_storage::fault::panic_point("shard_page");
        let Some(hd) = host_domain(&page.url) else {
            out.counters.incr("bad_url");
            continue;
        };
        if !seen_urls.insert(url_key(&page.url)) {
            out.counters.incr("url_duplicate");
            continue;
        }
        let extracted = match extract(&page.body, page.content_type.as_deref()) {
            Ok(x) => x,
            Err(e) => {
                out.counters.incr(e.reason());
                continue;
            }
        };
        let lang = identify(&extracted.text);
        let tokens = ctx.tokens.count(&extracted.text);
        let hl = out.host_languages.entry((hd.host.clone(), lang.to_string())).or_default();
        hl.pages += 1;
        hl.tokens += tokens;
        if ctx.languages.as_ref().is_some_and(|keep| !keep.iter().any(|l| l == lang)) {
            out.counters.incr("language_not_selected");
            continue;
        }
        let score = ctx.classifier.score(&extracted.text);
        let date = (!page.date.is_empty()).then(|| page.date.clone());
        let id = document_id(&page.record_id, &page.url, date.as_deref());
        out.histogram.add(score, tokens);
        let bucket = bucket_of(score);
        let cell = out.hosts.entry((hd.host.clone(), hd.domain.clone(), bucket)).or_default();
        cell.pages += 1;
        cell.tokens += tokens;
        let lc = out.languages.entry((lang.to_string(), bucket)).or_default();
        lc.pages += 1;
        lc.tokens += tokens;
        out.counters.incr("pages_scored");
        if score >= ctx.text_floor {
            out.texts.push(PageText { id: id.clone(), text: extracted.text.clone() });
        }
        out.pages.push(ScoredPage {
            id,
            url: page.url,
            host: hd.host,
            domain: hd.domain,
            score,
            tokens,
            content_hash: content_hash(&extracted.text),
            warc_offset: page.warc_offset,
            warc_length: page.warc_length,
            date,
            lang: lang.to_string(),
        });
        ctx.progress.pages.fetch_add(1, Ordering::Relaxed);
    }
    out.counters.merge(pages.counters());
    out.records = out.counters.0.iter().filter(|(k, _)| k.starts_with("record_")).map(|(_, v)| v).sum();
    out.bytes_in = bytes.load(Ordering::Relaxed);
    let io_error = error.lock().unwrap_or_else(|p| p.into_inner()).take();
    let failure = match io_error {
        Some(e) => Some(ShardFailure::Io(format!("read failed after {} bytes: {e}", out.bytes_in))),
        None if out.bytes_in == 0 => Some(ShardFailure::Empty),
        None if out.records == 0 && !warc_seen(&out.counters) => Some(ShardFailure::NotWarc { bytes: out.bytes_in }),
        None => None,
    };
    match failure {
        Some(f) => {
            // Nothing of a failed attempt counts, the live progress included.
            ctx.progress.pages.fetch_sub(out.pages.len() as u64, Ordering::Relaxed);
            ctx.progress.bytes.fetch_sub(out.bytes_in, Ordering::Relaxed);
            Err(f)
        }
        None => Ok(out),
    }
}

/// Whether the reader met a WARC record header, even one whose record it then had to skip (a
/// file clipped inside its only record is a damaged WARC file, not "not a WARC file").
fn warc_seen(counters: &Counters) -> bool {
    use corpusminer_pipeline::warc::skip;
    [skip::TRUNCATED_RECORD, skip::RECORD_CUT_BY_GZIP_ERROR, skip::BAD_CONTENT_LENGTH, skip::HEADER_TOO_LONG, skip::RECORD_TOO_LARGE]
        .iter()
        .any(|reason| counters.get(reason) > 0)
}

/// [`process_shard`] with a panic inside it caught and returned as [`ShardFailure::Panic`], so
/// one shard's panic fails that shard and never the worker.
pub fn process_shard_caught<R: Read>(reader: R, ctx: &ShardContext) -> Result<ShardOutput, ShardFailure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| process_shard(reader, ctx))).unwrap_or_else(|p| Err(ShardFailure::from_panic(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corpusminer_pipeline::classify::{train, TrainSettings};

    #[test]
    fn grouped_digits_and_steps() {
        let got: Vec<String> = [0, 7, 999, 1_000, 15_225_300, 123_456].into_iter().map(grouped).collect();
        assert_eq!(got, ["0", "7", "999", "1,000", "15,225,300", "123,456"]);
        let p = Progress::default();
        p.set_step("training");
        p.set_detail("epoch 1 of 3");
        assert_eq!(p.step(), Step { name: "training".into(), detail: "epoch 1 of 3".into() });
        p.set_step("scoring");
        assert_eq!(p.step().detail, "", "a new step starts without the old detail");
    }

    fn tiny_classifier() -> Classifier {
        let pos: Vec<String> = ["Solve for x: 2x + 3 = 7, so x = 2.", "The derivative of x^2 is 2x."].iter().map(|s| s.to_string()).collect();
        let neg: Vec<String> = ["The weather in Paris is mild in spring.", "Our shop ships shoes worldwide."].iter().map(|s| s.to_string()).collect();
        let settings = TrainSettings { dim: 8, epoch: 1, bucket: 1000, ..TrainSettings::auto(4) };
        train(&pos, &neg, &settings).unwrap().0
    }

    #[test]
    fn a_real_shard_yields_scored_pages_consistent_aggregates_and_tokenizer_counts() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let bytes = std::fs::read(data.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz")).unwrap();
        let ctx = ShardContext { classifier: Arc::new(tiny_classifier()), tokens: TokenCounter::Whitespace, text_floor: 0.0, languages: None, progress: Arc::new(Progress::default()) };
        let out = process_shard(&bytes[..], &ctx).unwrap();
        assert_eq!(out.records, 50, "warcinfo + 17 request + 16 response + 16 metadata");
        assert_eq!(out.bytes_in, bytes.len() as u64);
        assert_eq!(out.pages.len() as u64 + out.counters.get("empty_text") + out.counters.get("bad_url"), 16);
        assert_eq!(out.texts.len(), out.pages.len(), "text floor 0 keeps every text");
        assert_eq!(out.histogram.total_pages(), out.pages.len() as u64);
        assert_eq!(out.histogram.total_tokens(), out.pages.iter().map(|p| p.tokens).sum::<u64>());
        let host_pages: u64 = out.hosts.values().map(|c| c.pages).sum();
        assert_eq!(host_pages, out.pages.len() as u64);
        assert!(out.pages.iter().all(|p| !p.id.contains("urn:uuid") && p.warc_length > 0 && !p.host.starts_with("www.")));
        assert_eq!(ctx.progress.pages.load(Ordering::Relaxed), out.pages.len() as u64);

        // Its Chinese pages are read as Chinese, and counted in segmented words: more tokens
        // than whitespace-separated "words" (a Chinese sentence has no spaces).
        let zh: Vec<&ScoredPage> = out.pages.iter().filter(|p| p.lang == "zh").collect();
        assert!(zh.len() >= 8, "{:?}", out.pages.iter().map(|p| &p.lang).collect::<Vec<_>>());
        let lang_tokens: u64 = out.languages.iter().filter(|((l, _), _)| l == "zh").map(|(_, c)| c.tokens).sum();
        assert_eq!(lang_tokens, zh.iter().map(|p| p.tokens).sum::<u64>());
        assert_eq!(out.host_languages.values().map(|c| c.pages).sum::<u64>(), out.pages.len() as u64);

        // With a tokenizer.json whose pre-tokenizer splits punctuation, pages without Chinese
        // count more tokens (its `\w+` keeps a Chinese run whole, so those count fewer).
        let json = br#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
            "pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
            "model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;
        let ctx2 = ShardContext { tokens: TokenCounter::from_tokenizer_json(json).unwrap(), ..ctx.clone() };
        let out2 = process_shard(&bytes[..], &ctx2).unwrap();
        assert_eq!(out2.pages.len(), out.pages.len());
        let latin = |o: &ShardOutput| o.pages.iter().filter(|p| p.lang != "zh").map(|p| p.tokens).sum::<u64>();
        assert!(latin(&out2) > latin(&out));
    }

    fn ctx() -> ShardContext {
        ShardContext { classifier: Arc::new(tiny_classifier()), tokens: TokenCounter::Whitespace, text_floor: 0.0, languages: None, progress: Arc::new(Progress::default()) }
    }

    /// Yields `data` up to `cut` bytes, then fails every read (a connection gone for good), or
    /// panics there when `panic` is set.
    struct Broken<'a> {
        data: &'a [u8],
        pos: usize,
        cut: usize,
        panic: bool,
    }

    impl Read for Broken<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.pos >= self.cut {
                if self.panic {
                    panic!("reader exploded at byte {}", self.pos);
                }
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset for good"));
            }
            let n = buf.len().min(self.cut - self.pos).min(4096);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn a_stream_broken_for_good_fails_the_shard_and_takes_its_progress_back() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let bytes = std::fs::read(data.join("minicrawl/MINICRAWL-dev-00000.warc.gz")).unwrap();
        let ctx = ctx();
        let cut = bytes.len() / 2;
        let got = process_shard(Broken { data: &bytes, pos: 0, cut, panic: false }, &ctx);
        match got {
            Err(ShardFailure::Io(msg)) => assert!(msg.contains("connection reset for good") && msg.contains(&format!("after {cut} bytes")), "{msg}"),
            other => panic!("expected an io failure, got {:?}", other.map(|o| o.pages.len())),
        }
        assert!(ShardFailure::Io(String::new()).retryable());
        assert_eq!(ctx.progress.pages.load(Ordering::Relaxed), 0, "a failed attempt's pages are not progress");
        assert_eq!(ctx.progress.bytes.load(Ordering::Relaxed), 0);
        // The same bytes read to their end are a done shard.
        assert!(process_shard(&bytes[..], &ctx).unwrap().pages.len() > 10);
    }

    #[test]
    fn damage_inside_a_readable_file_is_skipped_and_the_shard_is_done() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let bytes = std::fs::read(data.join("warc-edge/resiliparse-clipped.warc.gz")).unwrap();
        let out = process_shard(&bytes[..], &ctx()).expect("a clipped file is done, not failed");
        assert_eq!((out.counters.get("truncated_gzip_member"), out.counters.get("truncated_record")), (1, 1));
        assert_eq!(out.records, 0, "its only record is cut short and skipped");
    }

    #[test]
    fn empty_and_non_warc_shards_fail_at_once() {
        let ctx = ctx();
        assert_eq!(process_shard(&b""[..], &ctx).unwrap_err(), ShardFailure::Empty);
        let text = b"<html><body>not a WARC file at all, just a page</body></html>\n".repeat(50);
        let err = process_shard(&text[..], &ctx).unwrap_err();
        assert_eq!(err, ShardFailure::NotWarc { bytes: text.len() as u64 });
        assert_eq!((err.reason(), err.retryable()), ("not_warc", false));
        // gzip bytes that hold no WARC are not a WARC file either.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(process_shard(&gz[..], &ctx).unwrap_err().reason(), "not_warc");
        assert_eq!((ShardFailure::Empty.reason(), ShardFailure::Empty.retryable()), ("empty", false));
    }

    #[test]
    fn a_panic_while_processing_fails_only_that_shard() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let bytes = std::fs::read(data.join("minicrawl/MINICRAWL-dev-00000.warc.gz")).unwrap();
        let ctx = ctx();
        let err = process_shard_caught(Broken { data: &bytes, pos: 0, cut: 100_000, panic: true }, &ctx).unwrap_err();
        assert_eq!(err, ShardFailure::Panic("reader exploded at byte 100000".into()));
        assert_eq!((err.reason(), err.retryable()), ("panic", false));
        // The next shard on the same context is processed as usual.
        assert!(process_shard_caught(&bytes[..], &ctx).is_ok());
    }

    #[test]
    fn a_page_seen_twice_in_a_shard_is_scored_once() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        // The real shard twice over: every page comes again (same URL) after the first copy.
        let once = std::fs::read(data.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz")).unwrap();
        let twice = [once.clone(), once.clone()].concat();
        let ctx = ShardContext { classifier: Arc::new(tiny_classifier()), tokens: TokenCounter::Whitespace, text_floor: 0.0, languages: None, progress: Arc::new(Progress::default()) };
        let one = process_shard(&once[..], &ctx).unwrap();
        let two = process_shard(&twice[..], &ctx).unwrap();
        assert_eq!(one.counters.get("url_duplicate"), 0, "the excerpt has no repeated URL");
        assert_eq!(two.records, 2 * one.records);
        assert_eq!(two.pages, one.pages, "the second copy adds no scored page");
        let extract_skips: u64 = ["empty_body", "not_text", "empty_text"].iter().map(|r| one.counters.get(r)).sum();
        let first_pass = one.pages.len() as u64 + extract_skips;
        assert_eq!(two.counters.get("url_duplicate"), first_pass, "every page of the second copy is a URL duplicate");
        assert_eq!(two.histogram.total_pages(), one.histogram.total_pages());
    }
}
