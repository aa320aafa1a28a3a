//! Throughput of [`extract`] over the 229 labelled minicrawl pages (the `html-extraction` and
//! `html-math` pages of the shared data, ~200 KB of HTML each), held in memory.
//!
//! `cargo bench -p corpusminer-pipeline --bench extract`: criterion reports the time of one pass
//! over all pages and the throughput in pages/s ("elem/s"); a summary line with ms/page and
//! pages/s is printed first. Skips (with a printed reason) when the shared data is absent.

use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::testdata::shared_data_dir;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Read;
use std::time::Instant;

/// The decompressed pages, in a stable (sorted) order.
fn pages() -> Option<Vec<Vec<u8>>> {
    let dir = shared_data_dir()?;
    let mut out = Vec::new();
    for sub in ["html-extraction/html", "html-math/math", "html-math/nonmath"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub)).ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.to_string_lossy().ends_with(".html.gz")) {
            let mut body = Vec::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).ok()?).read_to_end(&mut body).ok()?;
            out.push(body);
        }
    }
    Some(out)
}

fn bench_extract(c: &mut Criterion) {
    let Some(pages) = pages() else {
        eprintln!("extract bench skipped: shared data not found");
        return;
    };
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let run = || pages.iter().map(|p| extract(p, None).map_or(0, |x| x.text.len())).sum::<usize>();
    // One plain timed pass, so the figure is in the output even with --quick runs.
    let t0 = Instant::now();
    let chars = std::hint::black_box(run());
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "extract: {} pages, {:.1} MB of HTML, {chars} text bytes: {:.2} ms/page, {:.0} pages/s (one pass, one core)",
        pages.len(),
        bytes as f64 / 1e6,
        dt * 1e3 / pages.len() as f64,
        pages.len() as f64 / dt
    );
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(pages.len() as u64));
    g.sample_size(10);
    g.bench_function("minicrawl_229_pages", |b| b.iter(|| std::hint::black_box(run())));
    g.finish();
}

criterion_group!(benches, bench_extract);
criterion_main!(benches);
