//! `corpusminer bench --corpus-rows N`: peak memory and time of corpus writing
//! ([`corpusminer_coordinator::corpus::write_corpus`]) on a synthetic iteration of `N` scored
//! pages spread over `--shards` shards, of which about `--kept-share` are kept.
//!
//! The iteration is written in the worker's formats (`scored/*.jsonl.zst` of [`ScoredPage`],
//! `texts/*.jsonl.zst` of [`PageText`], every page with its text as at the default text floor 0)
//! into `--corpus-dir` (reused when it holds the same shape) or a temporary folder. Texts come
//! from the 127 reference texts of `html-extraction/ground-truth.json` (`articleBody`) by one
//! rule, seeded per row: split each reference text into sentences (at `. `, `? `, `! ` and line
//! ends; sentences of at least 3 words), draw 3 to 7 sentences of one text A and 3 to 7 of
//! another text B without replacement, shuffle them together and write them 3 to a paragraph.
//! So texts are distinct (exact dedup removes only chance repeats, counted in the output) and
//! rarely near-duplicates. The URL is `https://<host of A>/bench/<row>`, distinct per row.
//! Scores: with probability `kept_share` uniform in [0.9, 1), else uniform in [0, 0.5); the
//! selection keeps the bucket of 0.8 and up, so exactly the first group is kept.
//!
//! Generation holds one shard at a time and runs before the measured phase; the peak resident
//! memory (`VmHWM`) is reset through `/proc/self/clear_refs` (`5`) right before
//! `write_corpus`, so the figure is corpus writing's (with the decontamination index it loads).

use clap::Args;
use corpusminer_coordinator::corpus::{done_shard, write_corpus, DolmaDocument, Manifest};
use corpusminer_coordinator::filters::CorpusFilters;
use corpusminer_pipeline::histogram::{bucket_lower_edge, bucket_of, Selection};
use corpusminer_pipeline::scored::{encode_rows, read_rows, PageText, ScoredPage};
use corpusminer_pipeline::text::TokenCounter;
use corpusminer_storage::metastore::ShardRow;
use corpusminer_storage::{LocalStore, ObjectStore};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The corpus-writing bench's flags (on `corpusminer bench`).
#[derive(Debug, Clone, Args)]
pub struct CorpusBenchArgs {
    /// Benchmark corpus writing instead of the worker pipeline: a synthetic iteration of this
    /// many scored pages (texts made from the shared data's reference texts), peak RSS and time.
    #[arg(long, value_name = "ROWS")]
    pub corpus_rows: Option<u64>,
    /// Share (0..1) of the synthetic pages the selection keeps.
    #[arg(long, default_value_t = 0.1)]
    pub kept_share: f64,
    /// Shards of the synthetic iteration (pages are split evenly).
    #[arg(long, default_value_t = 200)]
    pub shards: usize,
    /// Keep the synthetic iteration in this folder and reuse it when it holds one of the same
    /// rows, shards, kept share and seed (default: a temporary folder, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub corpus_dir: Option<PathBuf>,
    /// Seed of the synthetic iteration.
    #[arg(long, default_value_t = 42)]
    pub corpus_seed: u64,
}

/// What the generator wrote: the shape asked for and what was drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticIteration {
    /// Scored pages.
    pub rows: u64,
    /// Shards.
    pub shards: usize,
    /// Share kept, as asked.
    pub kept_share: f64,
    /// Seed.
    pub seed: u64,
    /// Pages drawn with a kept score.
    pub kept: u64,
    /// Distinct texts (content hashes) among the kept pages.
    pub kept_distinct_texts: u64,
    /// Compressed bytes of the scored and text files.
    pub bytes: u64,
}

/// Results of the corpus-writing bench.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusBenchResult {
    /// The synthetic iteration.
    pub input: SyntheticIteration,
    /// Seconds to generate it (0 when reused).
    pub generate_seconds: f64,
    /// Seconds of `write_corpus`.
    pub corpus_seconds: f64,
    /// Resident memory when corpus writing started, MB (VmRSS).
    pub rss_before_mb: f64,
    /// Peak resident memory during corpus writing, MB (VmHWM after a reset).
    pub peak_rss_mb: f64,
    /// Whether the peak could be reset before the phase (else it includes generation).
    pub peak_reset: bool,
    /// The manifest written.
    pub manifest: Manifest,
    /// SHA-256 over the corpus with the run-dependent `added` field blanked: each file's path
    /// and documents in order, then `near_duplicates.jsonl`, `decontamination.jsonl` and the
    /// manifest's `filters`. Equal digests mean equal corpora.
    pub corpus_digest: String,
}

/// Reads a `/proc/self/status` field in kB, as MB.
pub(crate) fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

/// Sentences of a reference text (see the module doc).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let b = line.as_bytes();
        for i in 0..b.len() {
            let end = matches!(b[i], b'.' | b'?' | b'!') && (i + 1 == b.len() || b[i + 1] == b' ');
            if end || i + 1 == b.len() {
                let s = line[start..=i].trim();
                if s.split_whitespace().count() >= 3 {
                    out.push(s.to_string());
                }
                start = i + 1;
            }
        }
    }
    out
}

/// One source page: host, registrable domain, sentences.
struct Source {
    host: String,
    domain: String,
    sentences: Vec<String>,
}

fn sources(data: &Path) -> anyhow::Result<Vec<Source>> {
    let path = data.join("html-extraction/ground-truth.json");
    let raw = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let map: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_slice(&raw)?;
    let mut out = Vec::new();
    for v in map.values() {
        let (Some(url), Some(body)) = (v["url"].as_str(), v["articleBody"].as_str()) else { continue };
        let Some(hd) = corpusminer_pipeline::domain::host_domain(url) else { continue };
        let s = sentences(body);
        if s.len() >= 3 {
            out.push(Source { host: hd.host, domain: hd.domain, sentences: s });
        }
    }
    anyhow::ensure!(out.len() >= 2, "{}: fewer than 2 usable reference texts", path.display());
    Ok(out)
}

/// Score drawn for a row, and whether it is kept.
fn draw_score(rng: &mut impl Rng, kept_share: f64) -> (f32, bool) {
    if rng.gen_bool(kept_share.clamp(0.0, 1.0)) {
        (rng.gen_range(0.9..1.0), true)
    } else {
        (rng.gen_range(0.0..0.5), false)
    }
}

/// The selection of the bench: the bucket of 0.8 and up.
fn selection() -> Selection {
    let bucket = bucket_of(0.8);
    Selection { bucket, threshold: bucket_lower_edge(bucket), kept_pages: 0, kept_tokens: 0 }
}

/// Row `r`: its scored row and text (see the module doc for the rule).
fn synthetic_page(sources: &[Source], seed: u64, r: u64, kept_share: f64) -> (ScoredPage, PageText, bool) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ r.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let a = rng.gen_range(0..sources.len());
    let b = (a + rng.gen_range(1..sources.len())) % sources.len();
    let mut picked: Vec<&str> = Vec::new();
    for s in [&sources[a], &sources[b]] {
        let n = rng.gen_range(3..=7).min(s.sentences.len());
        picked.extend(s.sentences.choose_multiple(&mut rng, n).map(String::as_str));
    }
    picked.shuffle(&mut rng);
    let text = picked.chunks(3).map(|c| c.join(" ")).collect::<Vec<_>>().join("\n\n");
    let (score, kept) = draw_score(&mut rng, kept_share);
    let id: u128 = rng.gen();
    let id = format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", id >> 96, (id >> 80) & 0xffff, (id >> 64) & 0xffff, (id >> 48) & 0xffff, id & 0xffff_ffff_ffff);
    let page = ScoredPage {
        id: id.clone(),
        url: format!("https://{}/bench/{r}", sources[a].host),
        host: sources[a].host.clone(),
        domain: sources[a].domain.clone(),
        score,
        tokens: TokenCounter::Whitespace.count(&text),
        content_hash: corpusminer_worker::shard::content_hash(&text),
        warc_offset: r * 10_000,
        warc_length: 10_000,
        date: Some("2024-02-20T10:00:00Z".into()),
        lang: "en".into(),
    };
    (page, PageText { id, text }, kept)
}

fn scored_key(shard: usize) -> String {
    format!("iterations/1/scored/{shard:06}-bench.warc.jsonl.zst")
}

fn text_key(shard: usize) -> String {
    format!("iterations/1/texts/{shard:06}-bench.warc.jsonl.zst")
}

/// Writes the synthetic iteration into `dir` (two threads, one shard in memory per thread).
fn generate(dir: &Path, args: &CorpusBenchArgs, rows: u64, data: &Path) -> anyhow::Result<SyntheticIteration> {
    let sources = sources(data)?;
    let shards = args.shards.max(1);
    std::fs::create_dir_all(dir.join("iterations/1/scored"))?;
    std::fs::create_dir_all(dir.join("iterations/1/texts"))?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<anyhow::Result<(u64, Vec<String>, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<(u64, Vec<String>, u64)> {
                    let (mut kept, mut hashes, mut bytes) = (0u64, Vec::new(), 0u64);
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= shards {
                            return Ok((kept, hashes, bytes));
                        }
                        let range = (k as u64 * rows / shards as u64)..((k as u64 + 1) * rows / shards as u64);
                        let mut scored = Vec::with_capacity((range.end - range.start) as usize);
                        let mut texts = Vec::with_capacity(scored.capacity());
                        for r in range {
                            let (p, t, is_kept) = synthetic_page(&sources, args.corpus_seed, r, args.kept_share);
                            if is_kept {
                                kept += 1;
                                hashes.push(p.content_hash.clone());
                            }
                            scored.push(p);
                            texts.push(t);
                        }
                        for (key, file) in [(text_key(k), encode_rows(&texts)), (scored_key(k), encode_rows(&scored))] {
                            bytes += file.len() as u64;
                            std::fs::write(dir.join(key), file)?;
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("generator thread panicked")).collect()
    });
    let (mut kept, mut distinct, mut bytes) = (0, HashSet::new(), 0);
    for r in results {
        let (k, h, b) = r?;
        kept += k;
        distinct.extend(h);
        bytes += b;
    }
    Ok(SyntheticIteration { rows, shards, kept_share: args.kept_share, seed: args.corpus_seed, kept, kept_distinct_texts: distinct.len() as u64, bytes })
}

fn shard_rows(shards: usize) -> Vec<ShardRow> {
    (0..shards).map(|k| done_shard(k as i64 + 1, 1, format!("/crawl/bench-{k:06}.warc.gz"), scored_key(k), text_key(k))).collect()
}

/// The corpus digest of [`CorpusBenchResult::corpus_digest`].
async fn corpus_digest(store: &Arc<dyn ObjectStore>, prefix: &str, manifest: &Manifest) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    for f in &manifest.files {
        h.update(f.path.as_bytes());
        let bytes = store.get(&format!("{prefix}/{}", f.path)).await?;
        for mut d in read_rows::<DolmaDocument, _>(&bytes[..])? {
            d.added.clear();
            h.update(serde_json::to_vec(&d)?);
        }
    }
    for name in ["near_duplicates.jsonl", "decontamination.jsonl"] {
        let key = format!("{prefix}/{name}");
        if store.exists(&key).await? {
            h.update(store.get(&key).await?);
        }
    }
    h.update(serde_json::to_vec(&manifest.filters)?);
    Ok(hex::encode(h.finalize()))
}

/// Runs the corpus-writing bench (`args.corpus_rows` must be set) and prints its table.
/// `data` is the shared data folder (reference texts, default benchmarks).
pub async fn bench_corpus(args: &CorpusBenchArgs, data: &Path, json: Option<&Path>) -> anyhow::Result<CorpusBenchResult> {
    let rows = args.corpus_rows.ok_or_else(|| anyhow::anyhow!("--corpus-rows is not set"))?;
    anyhow::ensure!((0.0..=1.0).contains(&args.kept_share), "--kept-share {} is not in 0..=1", args.kept_share);
    let temp = match &args.corpus_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let dir = args.corpus_dir.clone().unwrap_or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
    let info_path = dir.join("bench-input.json");
    let previous: Option<SyntheticIteration> = std::fs::read(&info_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let t = Instant::now();
    let same = |p: &SyntheticIteration| p.rows == rows && p.shards == args.shards.max(1) && p.kept_share == args.kept_share && p.seed == args.corpus_seed;
    let (input, generate_seconds) = match previous.filter(same) {
        Some(p) => {
            eprintln!("reusing the synthetic iteration in {}", dir.display());
            (p, 0.0)
        }
        None => {
            eprintln!("generating {rows} scored pages in {} shards into {}…", args.shards.max(1), dir.display());
            let _ = std::fs::remove_file(&info_path);
            let (d, a, data) = (dir.clone(), args.clone(), data.to_path_buf());
            let input = tokio::task::spawn_blocking(move || generate(&d, &a, rows, &data)).await??;
            std::fs::write(&info_path, serde_json::to_vec_pretty(&input)?)?;
            (input, t.elapsed().as_secs_f64())
        }
    };
    let filters = CorpusFilters::default().resolve_in(&std::env::current_dir()?)?;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(&dir));
    let shards = shard_rows(input.shards);
    let prefix = "iterations/1/corpus";

    let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before_mb = status_mb("VmRSS:");
    let t = Instant::now();
    let (manifest, _summary) = write_corpus(
        &store,
        &shards,
        prefix,
        &selection(),
        "BENCH",
        1,
        ("model.bin", "0"),
        None,
        &filters,
        &TokenCounter::Whitespace,
    )
    .await?;
    let corpus_seconds = t.elapsed().as_secs_f64();
    let peak_rss_mb = status_mb("VmHWM:");
    let corpus_digest = corpus_digest(&store, prefix, &manifest).await?;
    let result = CorpusBenchResult { input, generate_seconds, corpus_seconds, rss_before_mb, peak_rss_mb, peak_reset, manifest, corpus_digest };
    print_table(&result);
    if let Some(p) = json {
        std::fs::write(p, serde_json::to_vec_pretty(&result)?)?;
    }
    Ok(result)
}

fn print_table(r: &CorpusBenchResult) {
    let (i, f) = (&r.input, &r.manifest.filters);
    println!("corpusminer bench (corpus writing): {} scored pages in {} shards, {:.1} MB compressed, seed {}", i.rows, i.shards, i.bytes as f64 / 1e6, i.seed);
    println!("kept pages                {:>10} ({:.1}%; {} distinct texts)", f.kept_pages, 100.0 * f.kept_pages as f64 / i.rows.max(1) as f64, i.kept_distinct_texts);
    println!("removed: same URL         {:>10}", f.url_duplicates_removed);
    println!("removed: same text        {:>10}", f.exact_duplicates_removed);
    println!("removed: near-duplicates  {:>10}", f.near_duplicates_removed);
    println!("removed: decontamination  {:>10} documents dropped, {} trimmed", f.decontam.documents_dropped, f.decontam.documents_trimmed);
    println!("documents written         {:>10} ({} tokens, {} files)", r.manifest.documents, r.manifest.tokens, r.manifest.files.len());
    println!("generation                {:>10.1} s{}", r.generate_seconds, if r.generate_seconds == 0.0 { " (reused)" } else { "" });
    println!("corpus writing            {:>10.1} s", r.corpus_seconds);
    println!("RSS when it started       {:>10.1} MB", r.rss_before_mb);
    println!("peak RSS of corpus writing{:>10.1} MB{}", r.peak_rss_mb, if r.peak_reset { "" } else { " (not reset: includes generation)" });
    println!("corpus digest             {}", r.corpus_digest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_terminal_punctuation_and_line_ends() {
        let s = sentences("One two three. Four five six? Too short.\nA line without a stop\nMr. X");
        assert_eq!(s, vec!["One two three.", "Four five six?", "A line without a stop"]);
    }
}
