//! Choice 5: loading the model once per process and sharing it across threads.
//!
//! Measures loading a `.bin` from a path and from bytes in memory (time, resident memory added),
//! and scoring with one `Arc<Classifier>` on 1..=N threads (wall-clock pages/s, resident memory
//! before and after: no per-thread copy).

use crate::fasttext_choice::PageText;
use crate::measure::{f, loadavg, mb, rss_bytes, thread_cpu_seconds, Table};
use corpusminer_pipeline::classify::{Classifier, ClassifyError};
use std::sync::Arc;
use std::time::Instant;

/// The sharing table for `clf` over `texts`, with up to `max_threads` scoring threads.
pub fn table(clf: Classifier, texts: &[PageText], max_threads: usize, reps: usize) -> Table {
    let mut t = Table::new(
        "5. Model loading and sharing",
        &[
            "what",
            "time s",
            "RSS added MB",
            "pages/s (wall)",
            "speed-up",
            "cores used",
            "pages per CPU-s per thread",
        ],
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("model.bin");
    clf.save(&path).expect("saving the model");
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    drop(clf);

    let r0 = rss_bytes();
    let name = format!("Classifier::load (path, {:.1} MB file)", mb(size));
    drop(load_row(&mut t, name, r0, || Classifier::load(&path)));

    let r0 = rss_bytes();
    let bytes = std::fs::read(&path).expect("reading the model file");
    let name = "Classifier::from_bytes (file bytes held in memory too)".to_string();
    let from_bytes = load_row(&mut t, name, r0, || Classifier::from_bytes(&bytes));
    drop(bytes);

    let shared = Arc::new(from_bytes);
    let mut base = 0.0;
    for k in 1..=max_threads.max(1) {
        let r0 = rss_bytes();
        let t0 = Instant::now();
        let per_thread: Vec<(usize, f64)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..k)
                .map(|i| {
                    let clf = Arc::clone(&shared);
                    s.spawn(move || {
                        let c0 = thread_cpu_seconds();
                        let mut done = 0;
                        for _ in 0..reps {
                            for p in texts.iter().skip(i).step_by(k) {
                                std::hint::black_box(clf.score(&p.text));
                                done += 1;
                            }
                        }
                        (done, thread_cpu_seconds() - c0)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("scoring thread"))
                .collect()
        });
        let wall = t0.elapsed().as_secs_f64();
        let scored: usize = per_thread.iter().map(|x| x.0).sum();
        let cpu: f64 = per_thread.iter().map(|x| x.1).sum();
        let rate = scored as f64 / wall.max(1e-9);
        if k == 1 {
            base = rate;
        }
        t.row(vec![
            format!("score, one Arc<Classifier> on {k} thread(s)"),
            f(wall, 2),
            f(mb(rss_bytes().saturating_sub(r0)), 1),
            f(rate, 0),
            f(rate / base.max(1e-9), 2),
            f(cpu / wall.max(1e-9), 2),
            f(scored as f64 / cpu.max(1e-9), 0),
        ]);
    }
    t.note(format!(
        "Scoring: {} extracted minicrawl texts x {reps}, split across threads; wall clock, so the speed-up depends on what \
         else runs (1-min load average at the end: {}); \"cores used\" is the threads' CPU time over wall time, and a \
         flat \"pages per CPU-s per thread\" means the threads do not slow each other down. The fasttext 0.8 crate copies the model into its own 64-byte-aligned \
         heap matrices (`DenseMatrix::load` from any `io::Read`): there is no constructor over borrowed or memory-mapped \
         bytes, so a memory map would need a change to the crate. `FastText::predict(&self)` builds its scratch state per \
         call and takes no lock; `Classifier` is `Send + Sync` (asserted at compile time in classify/mod.rs) and the \
         worker holds one `Arc<Classifier>` per process (`ShardContext::classifier`).",
        texts.len(),
        loadavg()
    ));
    t
}

/// Times `load`, adds a row with its seconds and the resident memory added since `rss_before`,
/// and returns the model.
fn load_row(
    t: &mut Table,
    name: String,
    rss_before: u64,
    load: impl FnOnce() -> Result<Classifier, ClassifyError>,
) -> Classifier {
    let t0 = Instant::now();
    let clf = load().expect("loading the model");
    let secs = t0.elapsed().as_secs_f64();
    let added = rss_bytes().saturating_sub(rss_before);
    let mut row = vec![name, f(secs, 2), f(mb(added), 1)];
    row.resize(t.header.len(), "-".into());
    t.row(row);
    clf
}
