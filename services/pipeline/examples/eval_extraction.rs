//! Prints the extraction evaluation table (token F1, formula recall, pages/s) on ../shared/data.
//! Usage: `cargo run --release -p corpusminer-pipeline --example eval_extraction [DATA_DIR] [--dump DIR]`
//! With `--dump DIR`, writes each page's extracted text to DIR for inspection; `--missing FILE`
//! lists the source formulas of one page absent from its text; `--bench N` times N rounds of
//! `extract` over all 229 pages held in memory; `--short KEY` prints the reference and our text
//! of the short-article variant of one `html-extraction` page (with `--dump FILE`, writes the
//! variant page there).

use corpusminer_pipeline::extract::{eval, extract};
use std::io::Read;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args.iter().position(|a| a == "--dump").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i].starts_with("--") {
            i += 2;
        } else {
            positional.push(PathBuf::from(&args[i]));
            i += 1;
        }
    }
    let dir = positional
        .first()
        .cloned()
        .or_else(corpusminer_pipeline::testdata::shared_data_dir)
        .expect("shared data dir");
    if let Some(f) = args.iter().position(|a| a == "--missing").and_then(|i| args.get(i + 1)) {
        let mut body = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap()).read_to_end(&mut body).unwrap();
        let text = extract(&body, None).map(|x| x.text).unwrap_or_default();
        let ours = corpusminer_pipeline::extract::math::collapse_ws(&text);
        for m in eval::source_formulas(&String::from_utf8_lossy(&body)) {
            if !ours.contains(m.as_str()) {
                println!("MISSING {m:?}");
            }
        }
        return;
    }
    if let Some(key) = args.iter().position(|a| a == "--short").and_then(|i| args.get(i + 1)) {
        let gt: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap()).unwrap();
        let mut body = Vec::new();
        let path = dir.join("html-extraction/html").join(format!("{key}.html.gz"));
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut body).unwrap();
        let (page, truth) = eval::short_article_variant(&body, gt[key.as_str()]["articleBody"].as_str().unwrap_or(""));
        if let Some(out) = dump.as_ref() {
            std::fs::write(out, &page).unwrap();
        }
        let text = match extract(page.as_bytes(), Some("text/html; charset=utf-8")) {
            Ok(x) => x.text,
            Err(e) => format!("[error {}]", e.reason()),
        };
        println!("REFERENCE\n{truth}\n\nOURS (F1 {:.3})\n{text}", eval::token_f1(&text, &truth));
        return;
    }
    if let Some(rounds) = args.iter().position(|a| a == "--bench").and_then(|i| args.get(i + 1)) {
        let rounds: usize = rounds.parse().expect("rounds");
        let mut pages = Vec::new();
        for sub in ["html-extraction/html", "html-math/math", "html-math/nonmath"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let mut body = Vec::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(e.unwrap().path()).unwrap()).read_to_end(&mut body).unwrap();
                pages.push(body);
            }
        }
        let bytes: usize = pages.iter().map(Vec::len).sum();
        let t0 = std::time::Instant::now();
        let mut chars = 0usize;
        for _ in 0..rounds {
            for p in &pages {
                chars += extract(p, None).map_or(0, |x| x.text.len());
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        let n = (pages.len() * rounds) as f64;
        println!(
            "bench: {} pages x {rounds} rounds, {:.1} MB/round: {:.0} pages/s, {:.1} MB/s, {:.2} ms/page (text bytes {chars})",
            pages.len(),
            bytes as f64 / 1e6,
            n / dt,
            bytes as f64 * rounds as f64 / 1e6 / dt,
            dt * 1e3 / n
        );
        return;
    }
    let report = eval::evaluate(&dir).expect("evaluate");
    println!("{report}");
    if let Some(out) = dump {
        std::fs::create_dir_all(&out).unwrap();
        for sub in ["html-extraction/html", "html-math/math", "html-math/nonmath"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let p = e.unwrap().path();
                let mut body = Vec::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_end(&mut body).unwrap();
                let name = p.file_name().unwrap().to_string_lossy().replace(".html.gz", ".txt");
                let text = match extract(&body, None) {
                    Ok(x) => x.text,
                    Err(e) => format!("[error {}]", e.reason()),
                };
                std::fs::write(out.join(name), text).unwrap();
            }
        }
    }
}
