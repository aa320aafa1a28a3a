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

/// The corpus of iteration `iteration` in a local output folder
/// (`OUT/iterations/N/corpus/*.jsonl.zst`).
pub fn local_corpus(out: &Path, iteration: i64) -> BTreeSet<DocKey> {
    let files: Vec<Vec<u8>> = std::fs::read_dir(out.join("iterations").join(iteration.to_string()).join("corpus"))
        .expect("corpus folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl.zst"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    corpus_keys(files.iter().map(|f| f.as_slice()))
}

/// One page of a composed crawl: where it was placed and what it is.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The URL it was given.
    pub url: String,
    /// Its label in `minicrawl/LABELS.tsv` (`math` or `nonmath`).
    pub label: String,
    /// Its document id (the WARC-Record-ID UUID written for it).
    pub id: String,
}

/// A crawl composed from the real minicrawl pages, placed under a few hosts so that each host
/// holds many pages: math pages under `mathhub.example.org/questions/` and
/// `forum.example.net/t/`, not-math pages under `mathhub.example.org/blog/`,
/// `forum.example.net/t/` and `news.example.com/`. Returns two gzip WARC shards (one gzip
/// member per record, as Common Crawl writes them) and the placement of every page.
pub fn compose_crawl(data: &Path) -> ([Vec<u8>; 2], Vec<Placed>) {
    use corpusminer_pipeline::warc::{ReadEvent, WarcReader};
    use std::io::Write;
    let labels: std::collections::HashMap<String, String> = std::fs::read_to_string(data.join("minicrawl/LABELS.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 3).then(|| (f[1].to_string(), f[2].to_string()))
        })
        .collect();
    let mut pages: Vec<(String, String, Vec<u8>)> = Vec::new(); // (label, date, http block)
    let mut shards: Vec<PathBuf> = std::fs::read_dir(data.join("minicrawl")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(".warc.gz")).collect();
    shards.sort();
    for shard in shards {
        let bytes = std::fs::read(&shard).unwrap();
        for ev in WarcReader::new(&bytes[..]) {
            let ReadEvent::Record(r) = ev else { continue };
            if r.warc_type() != Some("response") {
                continue;
            }
            let Some(label) = r.target_uri().and_then(|u| labels.get(&u).cloned()) else { continue };
            let date = r.header("WARC-Date").unwrap_or("2024-01-01T00:00:00Z").to_string();
            pages.push((label, date, r.into_block()));
        }
    }
    let (mut math, mut nonmath) = (0usize, 0usize);
    let mut out = [Vec::new(), Vec::new()];
    let mut placed = Vec::new();
    for (n, (label, date, block)) in pages.into_iter().enumerate() {
        let url = if label == "math" {
            math += 1;
            if math <= 30 { format!("https://mathhub.example.org/questions/{math}") } else { format!("https://forum.example.net/t/{n}") }
        } else {
            nonmath += 1;
            match nonmath {
                1..=30 => format!("https://mathhub.example.org/blog/post-{nonmath}"),
                31..=60 => format!("https://forum.example.net/t/{n}"),
                _ => format!("https://news.example.com/{nonmath}/story.html"),
            }
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&url, &mut h);
        let a = std::hash::Hasher::finish(&h);
        std::hash::Hash::hash(&n, &mut h);
        let b = std::hash::Hasher::finish(&h);
        let id = format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & 0xffff_ffff_ffff);
        let head = format!(
            "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:{id}>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
            block.len()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(head.as_bytes()).unwrap();
        gz.write_all(&block).unwrap();
        gz.write_all(b"\r\n\r\n").unwrap();
        out[n % 2].extend(gz.finish().unwrap());
        placed.push(Placed { url, label, id });
    }
    (out, placed)
}

/// The first `n` lines of a real data file written to `dir/name` (small, fast training sets).
pub fn head_lines(src: &Path, n: usize, dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(src).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text.lines().take(n).collect::<Vec<_>>().join("\n")).unwrap();
    path.display().to_string()
}

/// One labelled page of a packed crawl: its URL and label (`math` or `nonmath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledUrl {
    /// WARC-Target-URI.
    pub url: String,
    /// `math` or `nonmath`.
    pub label: String,
    /// The page's file in the shared data (`zh/html/math/….html.gz`).
    pub file: String,
}

/// The 79 labelled Chinese pages of `zh/html` packed as one gzip WARC shard (one member per
/// response record, `Content-Type: text/html` with no charset, so the page's own declaration
/// and bytes decide its decoding), with their labels. A page's URL is its INDEX `original_url`,
/// or `https://zh-pages.example/<file>` where that is unknown.
pub fn zh_crawl(data: &Path) -> (Vec<u8>, Vec<LabelledUrl>) {
    use std::io::{Read, Write};
    let index = std::fs::read_to_string(data.join("zh/html/INDEX.tsv")).unwrap();
    let mut out = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in index.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, label, original) = (f[0], f[1], f[2]);
        let url = if original.starts_with("http") { original.to_string() } else { format!("https://zh-pages.example/{file}") };
        let mut html = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(data.join("zh/html").join(file)).unwrap()[..]).read_to_end(&mut html).unwrap();
        let mut block = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", html.len()).into_bytes();
        block.extend_from_slice(&html);
        let head = format!(
            "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\nWARC-Date: 2024-05-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{n:012}>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
            block.len()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(head.as_bytes()).unwrap();
        gz.write_all(&block).unwrap();
        gz.write_all(b"\r\n\r\n").unwrap();
        out.extend(gz.finish().unwrap());
        labels.push(LabelledUrl { url, label: label.to_string(), file: file.to_string() });
    }
    (out, labels)
}

/// A mixed English and Chinese crawl in `dir`: the Chinese shard of [`zh_crawl`] written as
/// `dir/ZH-00000.warc.gz`, beside the English minicrawl's shards read in place. Returns the
/// `--input` arguments and a labels TSV (`dir/LABELS.tsv`: the minicrawl's labels, then the
/// Chinese pages') with the Chinese labels.
pub fn mixed_crawl(data: &Path, dir: &Path) -> (Vec<String>, PathBuf, Vec<LabelledUrl>) {
    let (zh, zh_labels) = zh_crawl(data);
    let shard = dir.join("ZH-00000.warc.gz");
    std::fs::write(&shard, zh).unwrap();
    let mut tsv = std::fs::read_to_string(data.join("minicrawl/LABELS.tsv")).unwrap();
    if !tsv.ends_with('\n') {
        tsv.push('\n');
    }
    for l in &zh_labels {
        tsv.push_str(&format!("ZH-00000.warc.gz\t{}\t{}\tzh/html/{}\n", l.url, l.label, l.file));
    }
    let labels = dir.join("LABELS.tsv");
    std::fs::write(&labels, tsv).unwrap();
    let inputs = vec![data.join("minicrawl/*.warc.gz").display().to_string(), shard.display().to_string()];
    (inputs, labels, zh_labels)
}

/// `--seed …` and `--negatives …` of both languages: [`seed_and_negatives`] plus the Chinese
/// math seed (TAL-SCQ5K-CN train, Ape210K valid) and every Chinese negative file, each read with
/// the default text fields.
pub fn bilingual_seed_and_negatives(data: &Path) -> Vec<String> {
    let mut v = vec!["--seed".to_string()];
    v.push(data.join("math/gsm8k-train.jsonl").display().to_string());
    v.push(data.join("math/stackmathqa100k-shards32-127.jsonl").display().to_string());
    v.push(data.join("zh/math-seed/tal-scq5k-cn-train-3k.jsonl").display().to_string());
    v.push(data.join("zh/math-seed/ape210k-valid.ape.jsonl").display().to_string());
    v.push("--negatives".into());
    for f in ["dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "dolma-cc_en_head-0091.jsonl.gz", "dolma-cc_en_head-0174.jsonl.gz", "wikitext-2-valid.txt"] {
        v.push(data.join("negatives").join(f).display().to_string());
    }
    for f in ["chinesewebtext-cc-main-2022-21-cleared1.jsonl", "chinesewebtext-fasttext-clean.jsonl", "chinesewebtext-fasttext-dirty.jsonl", "thucnews-headlines-test.txt", "sighan2005-pku-test.utf8", "sighan2005-cityu-test.utf8"] {
        v.push(data.join("zh/negatives").join(f).display().to_string());
    }
    v
}
