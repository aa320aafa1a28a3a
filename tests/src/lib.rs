//! Helpers shared by the end-to-end tests: the shared data, the CLI's argument parser, and
//! readers for a run's output.

use clap::Parser;
use corpusminer_cli::{Cli, Command, RunArgs};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `../shared/data`, or `None` (with the reason printed) when absent.
pub fn data() -> Option<PathBuf> {
    corpusminer_pipeline::testdata::shared_data_dir()
}

/// Parses `corpusminer run ARGS…` exactly as the binary does.
pub fn run_args(args: &[String]) -> RunArgs {
    let mut argv = vec!["corpusminer".to_string(), "run".to_string()];
    argv.extend(args.iter().cloned());
    match Cli::try_parse_from(argv).expect("valid command line").command {
        Command::Run(a) => *a,
        other => panic!("expected run, got {other:?}"),
    }
}

/// The real crawl shards of the shared data: the minicrawl plus the Common Crawl excerpts.
pub fn crawl_inputs(data: &Path) -> Vec<String> {
    let mut v = vec![data.join("minicrawl/*.warc.gz").display().to_string()];
    v.push(data.join("commoncrawl/*.warc.gz").display().to_string());
    v.push(data.join("commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.gz").display().to_string());
    v.push(data.join("commoncrawl/npm-warc-CC-MAIN-2014-35/*.internal.warc").display().to_string());
    v
}

/// `--seed …` and `--negatives …` of the shared data, as the issue names them.
pub fn seed_and_negatives(data: &Path) -> Vec<String> {
    let mut v = vec!["--seed".to_string()];
    v.push(data.join("math/gsm8k-train.jsonl").display().to_string());
    v.push(data.join("math/stackmathqa100k-shards32-127.jsonl").display().to_string());
    v.push("--negatives".into());
    for f in ["dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "dolma-cc_en_head-0091.jsonl.gz", "dolma-cc_en_head-0174.jsonl.gz", "wikitext-2-valid.txt"] {
        v.push(data.join("negatives").join(f).display().to_string());
    }
    v
}

/// One corpus document reduced to what must agree between runs: (id, text, score bits).
pub type DocKey = (String, String, u32);

/// Reads every corpus document of zstd JSONL `files` into a set of (id, text, score bits).
pub fn corpus_keys<'a>(files: impl IntoIterator<Item = &'a [u8]>) -> BTreeSet<DocKey> {
    let mut out = BTreeSet::new();
    for bytes in files {
        let text = String::from_utf8(zstd::decode_all(bytes).expect("zstd")).expect("utf-8");
        for line in text.lines().filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let score = v["metadata"]["score"].as_f64().expect("score") as f32;
            out.insert((v["id"].as_str().unwrap().to_string(), v["text"].as_str().unwrap().to_string(), score.to_bits()));
        }
    }
    out
}

/// The corpus of a local output folder (`OUT/corpus/*.jsonl.zst`).
pub fn local_corpus(out: &Path) -> BTreeSet<DocKey> {
    let files: Vec<Vec<u8>> = std::fs::read_dir(out.join("corpus"))
        .expect("corpus folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl.zst"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    corpus_keys(files.iter().map(|f| f.as_slice()))
}
