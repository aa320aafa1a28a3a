//! What language identification and Chinese segmentation add to a page's processing, on the
//! 229 English-majority minicrawl pages (`html-extraction`, `html-math`) and on the 79 labelled
//! Chinese pages (`zh/html`), their main texts extracted once and held in memory.
//!
//! `cargo bench --workspace --bench language`: prints, per page set, the mean time per page of
//! extraction (the reference), of [`lang::identify`], of normalisation at version 1 (no
//! segmentation) and 2 (this build), and of token counting without and with segmentation, and
//! the share of extraction time each addition costs. Criterion then times `identify` alone.

use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::lang;
use corpusminer_pipeline::testdata::shared_data_dir;
use corpusminer_pipeline::text::{count_tokens, count_words, normalize_as};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

fn pages(dir: &Path, subs: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in subs {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub)).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.to_string_lossy().ends_with(".html.gz")) {
            let mut body = Vec::new();
            if let Ok(file) = std::fs::File::open(&f) {
                if flate2::read::MultiGzDecoder::new(file).read_to_end(&mut body).is_ok() {
                    out.push(body);
                }
            }
        }
    }
    out
}

/// Mean microseconds per item of `f` over `items`, best of 3 passes.
fn per_item<T>(items: &[T], mut f: impl FnMut(&T) -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut sink = 0usize;
        for i in items {
            sink = sink.wrapping_add(f(i));
        }
        std::hint::black_box(sink);
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / items.len().max(1) as f64);
    }
    best
}

fn bench_language(c: &mut Criterion) {
    let Some(dir) = shared_data_dir() else {
        eprintln!("language bench skipped: shared data not found");
        return;
    };
    let sets = [("minicrawl pages (English-majority)", pages(&dir, &["html-extraction/html", "html-math/math", "html-math/nonmath"])), ("zh/html pages (Chinese)", pages(&dir, &["zh/html/math", "zh/html/nonmath"]))];
    println!("| pages | n | extract µs | identify µs | normalize v1 µs | normalize v2 µs | count words µs | count tokens µs | added / extract |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut english_texts = Vec::new();
    for (name, html) in &sets {
        let texts: Vec<String> = html.iter().filter_map(|p| extract(p, None).ok().map(|x| x.text)).collect();
        let ex = per_item(html, |p| extract(p, None).map_or(0, |x| x.text.len()));
        let id = per_item(&texts, |t| lang::identify(t).len());
        let n1 = per_item(&texts, |t| normalize_as(t, 1).len());
        let n2 = per_item(&texts, |t| normalize_as(t, 2).len());
        let c1 = per_item(&texts, |t| count_words(t) as usize);
        let c2 = per_item(&texts, |t| count_tokens(t) as usize);
        let added = id + (n2 - n1).max(0.0) + (c2 - c1).max(0.0);
        println!("| {name} | {} | {ex:.0} | {id:.1} | {n1:.1} | {n2:.1} | {c1:.1} | {c2:.1} | {:.1}% |", texts.len(), 100.0 * added / ex);
        if english_texts.is_empty() {
            english_texts = texts;
        }
    }
    let mut g = c.benchmark_group("language");
    g.throughput(Throughput::Elements(english_texts.len() as u64));
    g.sample_size(10);
    g.bench_function("identify_minicrawl_texts", |b| b.iter(|| english_texts.iter().map(|t| lang::identify(t).len()).sum::<usize>()));
    g.finish();
}

criterion_group!(benches, bench_language);
criterion_main!(benches);
