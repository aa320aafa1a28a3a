//! `corpusminer bench`: the worker pipeline on real shards, stage by stage, on one core and on
//! all cores, with the peers' pipelines on the same bytes when asked.
//!
//! Stages are measured cumulatively: pass k runs stages 1..=k over the whole input, and stage k
//! costs `T(k) - T(k-1)`. Every pass reads the shards from disk (the page cache after the first),
//! so memory holds one record at a time, as in the worker.

use clap::Args;
use corpusminer_pipeline::classify::{load_with_sidecar, read_documents, train, Classifier, TextFields, TrainSettings};
use corpusminer_pipeline::extract::{charset, extract};
use corpusminer_pipeline::page::Pages;
use corpusminer_pipeline::text::normalize;
use corpusminer_pipeline::warc::WarcReader;
use serde::Serialize;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Shards in a Common Crawl dump, for the core-hour projection.
const DUMP_SHARDS: f64 = 90_000.0;
/// Compressed bytes of a Common Crawl shard (about 1 GiB).
const SHARD_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// Arguments of `corpusminer bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Shards to run on (default: the minicrawl of the shared data).
    #[arg(long = "input", num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Repeat the input until it holds at least this many compressed megabytes (10^6 bytes).
    #[arg(long, default_value_t = 200.0)]
    pub min_mb: f64,
    /// A trained fastText model, scored in the mode of its `.scoring.json` sidecar (64-token
    /// windows without one); without a model, one is trained on the shared data's seed.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The shared data folder (default input, seed for the model, extraction quality).
    #[arg(long, env = "CORPUSMINER_SHARED_DATA", default_value = crate::DEFAULT_DATA)]
    pub data: PathBuf,
    /// Threads of the all-cores pass (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also run the peers (bench/peers/run_peers.py in the .venv-peers virtualenv, made by
    /// bench/peers/install.sh) on the same bytes.
    #[arg(long)]
    pub peers: bool,
    /// Peer pipelines to run.
    #[arg(long, default_value = "floor,warcio,resiliparse,resiliparse_fasttext,datatrove")]
    pub peer_pipelines: String,
    /// Write the results as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The corpus-writing bench (`--corpus-rows N` selects it).
    #[command(flatten)]
    pub corpus: crate::bench_corpus::CorpusBenchArgs,
}

/// One measured stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// Stage name.
    pub stage: String,
    /// Seconds of this stage alone (difference of cumulative passes).
    pub seconds: f64,
    /// Seconds of the cumulative pass ending with this stage.
    pub cumulative_seconds: f64,
    /// Pages per second of the cumulative pass.
    pub pages_per_s: f64,
    /// Compressed MB per second of the cumulative pass.
    pub mb_per_s: f64,
}

/// Results of the bench.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Shard files, after repetition.
    pub files: usize,
    /// Compressed bytes of the input.
    pub bytes: u64,
    /// HTML pages in the input.
    pub pages: u64,
    /// One-core stages.
    pub stages: Vec<StageRow>,
    /// End to end, one core, pages per second.
    pub one_core_pages_per_s: f64,
    /// End to end, all cores: threads used.
    pub threads: usize,
    /// End to end, all cores, pages per second in total.
    pub all_cores_pages_per_s: f64,
    /// all_cores / one_core.
    pub scaling: f64,
    /// Peak resident memory of the process, MB (VmHWM), model included.
    pub peak_rss_mb: f64,
    /// Model size in memory, MB.
    pub model_mb: f64,
    /// Projected core-hours to score a 90,000-shard dump at the one-core rate.
    pub dump_core_hours: f64,
    /// Read floor (gzip + WARC framing), pages per second on one core.
    pub floor_pages_per_s: f64,
    /// Our extraction's token F1 and formula recall on the shared data (when present).
    pub extraction: Option<(f64, f64)>,
    /// Our extraction's character F1 on the Chinese pages of `zh/html-extraction/` (when present):
    /// (all pages, article pages, forum pages), 0..1.
    pub zh_char_f1: Option<(f64, f64, f64)>,
    /// Peers' rows, when run.
    pub peers: Option<serde_json::Value>,
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0)))
        .unwrap_or(0.0)
        / 1024.0
}

fn open(path: &Path) -> anyhow::Result<BufReader<std::fs::File>> {
    Ok(BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?))
}

/// Runs stages `1..=depth` over one file and returns pages seen.
fn pass_file(path: &Path, depth: usize, model: &Classifier) -> anyhow::Result<u64> {
    let reader = open(path)?;
    if depth == 1 {
        let mut gz = flate2::bufread::MultiGzDecoder::new(reader);
        let mut buf = vec![0u8; 1 << 16];
        while gz.read(&mut buf)? > 0 {}
        return Ok(0);
    }
    if depth == 2 {
        std::hint::black_box(WarcReader::new(reader).count());
        return Ok(0);
    }
    let mut pages = 0;
    let mut sink = 0usize;
    for page in Pages::new(WarcReader::new(reader)) {
        pages += 1;
        if depth == 3 {
            continue;
        }
        if depth == 4 {
            let (enc, _) = charset::sniff(&page.body, page.content_type.as_deref());
            sink += charset::decode(&page.body, enc).len();
            continue;
        }
        let Ok(x) = extract(&page.body, page.content_type.as_deref()) else { continue };
        if depth == 5 {
            sink += x.text.len();
            continue;
        }
        sink += corpusminer_pipeline::lang::identify(&x.text).len();
        if depth == 6 {
            continue;
        }
        let norm = normalize(&x.text);
        if depth == 7 {
            sink += norm.len();
            continue;
        }
        sink += (model.score_normalized(&norm) * 1000.0) as usize;
    }
    std::hint::black_box(sink);
    Ok(pages)
}

const STAGES: [&str; 8] = ["gzip decode", "WARC parse", "HTTP decode + page filter", "charset decode", "HTML to text", "language identification", "normalisation", "scoring"];

fn train_default_model(data: &Path) -> anyhow::Result<Classifier> {
    let fields = TextFields::default();
    let read = |rel: &str| -> anyhow::Result<Vec<String>> {
        let p = data.join(rel);
        Ok(read_documents(&p.to_string_lossy(), open(&p)?, &fields)?.documents)
    };
    let mut pos = read("math/gsm8k-train.jsonl")?;
    pos.extend(read("math/stackmathqa100k-shards32-127.jsonl")?);
    let mut neg = Vec::new();
    for f in ["negatives/dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "negatives/dolma-cc_en_head-0091.jsonl.gz", "negatives/dolma-cc_en_head-0174.jsonl.gz", "negatives/wikitext-2-valid.txt"] {
        neg.extend(read(f)?);
    }
    let settings = TrainSettings::auto(pos.len() + neg.len());
    eprintln!("training a model on the shared seed ({} positives, {} negatives)…", pos.len(), neg.len());
    Ok(train(&pos, &neg, &settings)?.0)
}

/// Runs the bench and prints its table.
pub fn bench(args: BenchArgs) -> anyhow::Result<BenchResult> {
    let base: Vec<PathBuf> = if args.inputs.is_empty() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(args.data.join("minicrawl"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
            .collect();
        v.sort();
        v
    } else {
        args.inputs.clone()
    };
    anyhow::ensure!(!base.is_empty(), "no input shards");
    let base_bytes: u64 = base.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    let repeat = ((args.min_mb * 1e6) / base_bytes.max(1) as f64).ceil().max(1.0) as usize;
    let files: Vec<PathBuf> = (0..repeat).flat_map(|_| base.iter().cloned()).collect();
    let bytes = base_bytes * repeat as u64;
    let (model, model_path, _keep) = match &args.model {
        // Scored the way it was validated: its `.scoring.json` beside it (or 64-token windows).
        Some(p) => (load_with_sidecar(p)?.0, p.clone(), None),
        None => {
            let m = train_default_model(&args.data)?;
            let dir = tempfile::tempdir()?;
            let p = dir.path().join("bench-model.bin");
            m.save(&p)?;
            (m, p, Some(dir))
        }
    };
    eprintln!("input: {} files ({} x {}), {:.1} MB compressed", files.len(), repeat, base.len(), bytes as f64 / 1e6);

    let mut stages = Vec::new();
    let mut prev = 0.0;
    let mut pages = 0;
    let mut floor_secs = 0.0;
    for (i, name) in STAGES.iter().enumerate() {
        let depth = i + 1;
        let t = Instant::now();
        let mut n = 0;
        for f in &files {
            n += pass_file(f, depth, &model)?;
        }
        let secs = t.elapsed().as_secs_f64();
        if depth >= 3 {
            pages = n;
        }
        if depth == 2 {
            floor_secs = secs;
        }
        stages.push(StageRow { stage: name.to_string(), seconds: (secs - prev).max(0.0), cumulative_seconds: secs, pages_per_s: 0.0, mb_per_s: bytes as f64 / 1e6 / secs });
        prev = secs;
        eprintln!("  {name:<28} {secs:>8.2} s cumulative");
    }
    for s in &mut stages {
        s.pages_per_s = pages as f64 / s.cumulative_seconds;
    }
    let one = stages.last().map(|s| s.pages_per_s).unwrap_or(0.0);

    let threads = crate::iterate::default_workers(args.threads);
    let next = Arc::new(AtomicUsize::new(0));
    let files = Arc::new(files);
    let model = Arc::new(model);
    let t = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (next, files, model) = (next.clone(), files.clone(), model.clone());
                s.spawn(move || -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { return Ok(()) };
                        pass_file(f, STAGES.len(), &model)?;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("bench thread panicked")?;
        }
        Ok(())
    })?;
    let all = pages as f64 / t.elapsed().as_secs_f64();
    let mb_per_core_s = bytes as f64 / stages.last().map(|s| s.cumulative_seconds).unwrap_or(1.0);
    let eval = corpusminer_pipeline::extract::eval::evaluate(&args.data).ok();
    let result = BenchResult {
        files: files.len(),
        bytes,
        pages,
        stages,
        one_core_pages_per_s: one,
        threads,
        all_cores_pages_per_s: all,
        scaling: all / one.max(1e-9),
        peak_rss_mb: peak_rss_mb(),
        model_mb: model.model_bytes() as f64 / 1e6,
        dump_core_hours: DUMP_SHARDS * SHARD_BYTES / mb_per_core_s / 3600.0,
        floor_pages_per_s: pages as f64 / floor_secs.max(1e-9),
        extraction: eval.as_ref().map(|e| (e.mean_f1, e.formula_recall)),
        zh_char_f1: eval.as_ref().and_then(|e| e.zh.as_ref()).map(|z| (z.char_f1, z.article_f1, z.forum_f1)),
        peers: if args.peers { Some(run_peers(&args, &files, &model_path)?) } else { None },
    };
    print_table(&result);
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_vec_pretty(&result)?)?;
    }
    Ok(result)
}

fn run_peers(args: &BenchArgs, files: &[PathBuf], model: &Path) -> anyhow::Result<serde_json::Value> {
    let python = Path::new(".venv-peers/bin/python");
    anyhow::ensure!(python.exists(), "no .venv-peers: run `bash bench/peers/install.sh` first");
    let out = tempfile::NamedTempFile::new()?;
    let mut cmd = std::process::Command::new(python);
    cmd.arg("bench/peers/run_peers.py").arg("--model").arg(model).arg("--pipelines").arg(&args.peer_pipelines);
    cmd.arg("--json").arg(out.path()).arg("--quality").arg("--data").arg(&args.data).arg("--input");
    for f in files {
        cmd.arg(f);
    }
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "run_peers.py failed: {status}");
    Ok(serde_json::from_slice(&std::fs::read(out.path())?)?)
}

fn print_table(r: &BenchResult) {
    println!("corpusminer bench: {} files, {:.1} MB compressed, {} pages", r.files, r.bytes as f64 / 1e6, r.pages);
    println!();
    println!("{:<28} {:>10} {:>12} {:>14} {:>12}", "stage (one core)", "stage s", "cumul. s", "pages/s cumul.", "MB/s cumul.");
    for s in &r.stages {
        println!("{:<28} {:>10.2} {:>12.2} {:>14.1} {:>12.2}", s.stage, s.seconds, s.cumulative_seconds, s.pages_per_s, s.mb_per_s);
    }
    println!();
    println!("end to end, one core      {:>10.1} pages/s", r.one_core_pages_per_s);
    println!("end to end, {} threads    {:>10.1} pages/s total, {:.1} per core, scaling {:.2}x", r.threads, r.all_cores_pages_per_s, r.all_cores_pages_per_s / r.threads as f64, r.scaling);
    println!("read floor (gzip + WARC)  {:>10.1} pages/s; end to end is {:.1}x the floor", r.floor_pages_per_s, r.floor_pages_per_s / r.one_core_pages_per_s.max(1e-9));
    println!("peak RSS                  {:>10.1} MB (model {:.1} MB)", r.peak_rss_mb, r.model_mb);
    println!("90,000-shard dump         {:>10.0} core-hours at the one-core rate", r.dump_core_hours);
    if let Some((f1, fr)) = r.extraction {
        println!("extraction quality        token F1 {f1:.3}, formula recall {fr:.3}");
    }
    if let Some((all, article, forum)) = r.zh_char_f1 {
        println!("Chinese extraction        char F1 {all:.3} (article {article:.3}, forum {forum:.3})");
    }
    if let Some(peers) = &r.peers {
        println!();
        println!("{:<34} {:>12} {:>12} {:>10} {:>8} {:>10} {:>10}", "pipeline (one core)", "pages/s", "peak MB", "ratio", "F1", "formulas", "zh char F1");
        let (f1, fr) = r.extraction.map(|(a, b)| (format!("{a:.3}"), format!("{b:.3}"))).unwrap_or(("-".into(), "-".into()));
        let zh = r.zh_char_f1.map_or("-".to_string(), |z| format!("{:.3}", z.0));
        println!("{:<34} {:>12.1} {:>12.1} {:>10} {:>8} {:>10} {:>10}", "corpusminer", r.one_core_pages_per_s, r.peak_rss_mb, "1.00", f1, fr, zh);
        for p in peers.as_array().into_iter().flatten() {
            let f = |k: &str| p.get(k).and_then(|v| v.as_f64());
            let opt = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or("-".into());
            let rate = f("pages_per_s");
            println!(
                "{:<34} {:>12} {:>12} {:>10} {:>8} {:>10} {:>10}",
                p.get("pipeline").and_then(|v| v.as_str()).unwrap_or("?"),
                opt(rate, 1),
                opt(f("peak_rss_mb"), 1),
                opt(rate.map(|x| x / r.one_core_pages_per_s.max(1e-9)), 2),
                opt(f("f1"), 3),
                opt(f("formula_recall"), 3),
                opt(f("zh_char_f1"), 3),
            );
        }
    }
}
