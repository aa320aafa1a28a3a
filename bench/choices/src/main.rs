//! `corpusminer-bench-choices`: the measurements behind the performance issue's choices, on the
//! same bytes for every alternative (the real WARC shards and pages of `shared/data`).
//!
//! 1. WARC reading: our reader against the `fastwarc` crate 2.0 (feature `fastwarc`) and the
//!    `warc` crate 0.4 (throughput, correctness on every shared file, the `warc` crate's traps).
//! 2. HTML layer: our tokenizer and tree against lol_html and html5ever (parse time, whole-page
//!    text quality), our extractor as the reference.
//! 3. gzip: zlib-rs, miniz_oxide and zlib-ng (when built with the `zlib-ng` feature) inflating
//!    member-per-record WARC gzip; libflate as the `warc` crate uses it, fastwarc's reader. Whether
//!    zlib-rs has runtime CPU detection depends on the build (see [`measure::build_config`]).
//! 4. fastText: dimension, buckets and quantization against model size, scoring speed and
//!    precision / recall on the labelled minicrawl.
//! 5. Model loading and sharing across threads.
//! 6. Language identification: whatlang, lingua, and ours (a prose sample, then whatlang).
//!
//! Usage: `cargo run --release --manifest-path bench/choices/Cargo.toml -- [--quick] [--data DIR]
//! [--only warc,html,gzip,fasttext,sharing,langid] [--repeat N] [--runs N] [--grid DIM:BUCKET[:q],...]
//! [--threads N]`. Prints markdown tables on stdout.

mod fasttext_choice;
mod gzip_choice;
mod html_choice;
mod input;
mod langid_choice;
mod measure;
mod sharing;
mod warc_choice;

use std::path::PathBuf;

/// Command-line options.
struct Options {
    quick: bool,
    data: Option<PathBuf>,
    only: Option<Vec<String>>,
    repeat: usize,
    runs: usize,
    grid: Option<Vec<fasttext_choice::GridPoint>>,
    threads: usize,
}

const USAGE: &str = "usage: corpusminer-bench-choices [--quick] [--data DIR] [--only warc,html,gzip,fasttext,sharing,langid] \
[--repeat N] [--runs N] [--grid DIM:BUCKET[:q],...] [--threads N]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        data: None,
        only: None,
        repeat: 0,
        runs: 0,
        grid: None,
        threads: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let count = |s: String| s.parse::<usize>().map_err(|e| format!("{s:?}: {e}"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--data" => o.data = Some(PathBuf::from(value("--data")?)),
            "--only" => {
                o.only = Some(
                    value("--only")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                )
            }
            "--repeat" => o.repeat = count(value("--repeat")?)?,
            "--runs" => o.runs = count(value("--runs")?)?,
            "--threads" => o.threads = count(value("--threads")?)?,
            "--grid" => {
                o.grid = Some(
                    value("--grid")?
                        .split(',')
                        .map(fasttext_choice::GridPoint::parse)
                        .collect::<Result<_, _>>()?,
                )
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let Some(data) = input::data_dir(o.data.as_deref()) else {
        let lacks = |d: &std::path::Path| corpusminer_pipeline::testdata::data_dir_lacks(d, &["PROVENANCE.md"]).unwrap_or_default();
        let tried = match (&o.data, std::env::var_os("CORPUSMINER_SHARED_DATA")) {
            (Some(d), _) => format!("--data {} {}", d.display(), lacks(d.as_path())),
            (None, Some(v)) => format!("CORPUSMINER_SHARED_DATA={} {}", std::path::Path::new(&v).display(), lacks(std::path::Path::new(&v))),
            (None, None) => "no shared/data holding PROVENANCE.md beside the working directory, this crate or a folder above them".to_string(),
        };
        eprintln!("shared data folder not found: {tried}: give --data DIR or set CORPUSMINER_SHARED_DATA to the shared `data` folder");
        std::process::exit(2);
    };
    let want = |k: &str| o.only.as_ref().is_none_or(|v| v.iter().any(|x| x == k));
    let repeat = if o.repeat > 0 {
        o.repeat
    } else if o.quick {
        1
    } else {
        3
    };
    let runs = if o.runs > 0 {
        o.runs
    } else if o.quick {
        1
    } else {
        3
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if o.threads > 0 { o.threads } else { cores };
    println!(
        "# corpusminer choices{}\n\nData: {}. Machine: {} cores visible, 1-min load average at start {}. Build: {}.",
        if o.quick { " (--quick)" } else { "" },
        data.display(),
        cores,
        measure::loadavg(),
        measure::build_config()
    );

    let shard_paths = input::minicrawl_shards(&data, o.quick);
    let mut gzip_table = None;
    if want("warc") || want("gzip") {
        let shards = input::Shards::load(&shard_paths, repeat);
        if want("warc") {
            warc_choice::throughput(&shards, runs).print();
            let files = if o.quick {
                shard_paths.clone()
            } else {
                input::all_warc_files(&data)
            };
            warc_choice::correctness(&data, &files).print();
            warc_choice::traps().print();
        }
        if want("gzip") {
            gzip_table = Some(gzip_choice::table(&shards, runs));
        }
    }
    let pages = if want("html") || want("fasttext") || want("sharing") {
        input::html_pages(&shard_paths)
    } else {
        Vec::new()
    };
    if want("html") {
        html_choice::table(&pages, &data, runs, o.quick).print();
    }
    if want("langid") {
        langid_choice::table(&data, runs).print();
    }
    if let Some(t) = gzip_table {
        t.print();
    }
    if !(want("fasttext") || want("sharing")) {
        return;
    }
    if want("fasttext") || want("sharing") {
        let texts = fasttext_choice::page_texts(&pages);
        let grid = match (&o.grid, o.quick, want("fasttext")) {
            (Some(g), _, true) => g.clone(),
            (_, true, _) => fasttext_choice::quick_grid(),
            (None, false, true) => fasttext_choice::default_grid(),
            (_, false, false) => vec![fasttext_choice::GridPoint {
                dim: 64,
                bucket: 200_000,
                quantize: false,
            }],
        };
        let (table, model) = fasttext_choice::table(&data, &texts, &grid, runs, o.quick);
        if want("fasttext") {
            table.print();
        }
        if let (true, Some((clf, _))) = (want("sharing"), model) {
            let reps = if o.quick { 1 } else { 10 };
            sharing::table(clf, &texts, threads, reps).print();
        }
    }
}
