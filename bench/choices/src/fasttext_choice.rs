//! Choice 4: fastText model size (dimension, buckets, product quantization) against precision.
//!
//! Trains with our trainer (`corpusminer_pipeline::classify::train`) on the seed and negatives of
//! the README's offline run, with the settings `corpusminer run` derives (`TrainSettings::auto`,
//! random seed 42) but for the dimension and bucket count of each grid point, on one thread. Each
//! model scores the minicrawl pages' extracted text; pages are kept as `corpusminer run` keeps
//! them by default: score bucket at or above the bucket of the validation page threshold.

use crate::input::HtmlPage;
use crate::measure::{best_of, f, mb, n, Table};
use corpusminer_pipeline::classify::{
    read_documents, train, Classifier, TextFields, TrainSettings,
};
use corpusminer_pipeline::histogram::{bucket_of, bucket_of_f64};
use std::collections::HashMap;
use std::path::Path;

/// One grid point: embedding dimension, hash buckets, and whether a product-quantized copy of the
/// model (fastText `quantize`, dsub 2, no pruning, no retraining) is measured too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridPoint {
    /// `dim`.
    pub dim: u32,
    /// `bucket`.
    pub bucket: u32,
    /// Also measure the quantized copy.
    pub quantize: bool,
}

impl GridPoint {
    /// Parses `DIM:BUCKET` or `DIM:BUCKET:q`.
    pub fn parse(s: &str) -> Result<GridPoint, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |x: &str| {
            x.replace('_', "")
                .parse::<u32>()
                .map_err(|e| format!("grid point {s:?}: {e}"))
        };
        match parts.as_slice() {
            [d, b] => Ok(GridPoint {
                dim: num(d)?,
                bucket: num(b)?,
                quantize: false,
            }),
            [d, b, "q"] => Ok(GridPoint {
                dim: num(d)?,
                bucket: num(b)?,
                quantize: true,
            }),
            _ => Err(format!("grid point {s:?}: want DIM:BUCKET or DIM:BUCKET:q")),
        }
    }
}

/// The default grid: dimensions 16, 32, 64 and 256 by 200k, 500k and 2M buckets (2M x 256 is the
/// paper's 2 GB model), and the default model (64 x 200k) quantized too. About 6 minutes of one core.
pub fn default_grid() -> Vec<GridPoint> {
    let mut v = Vec::new();
    for bucket in [200_000, 500_000, 2_000_000] {
        for dim in [16, 32, 64, 256] {
            v.push(GridPoint {
                dim,
                bucket,
                quantize: dim == 64 && bucket == 200_000,
            });
        }
    }
    v
}

/// The quick grid: one tiny model.
pub fn quick_grid() -> Vec<GridPoint> {
    vec![GridPoint {
        dim: 16,
        bucket: 50_000,
        quantize: false,
    }]
}

/// Seed positives and negatives of the README's offline run: GSM8K train and StackMathQA
/// against every file of `negatives/`, read with the default text fields.
pub fn seed_and_negatives(data: &Path) -> (Vec<String>, Vec<String>) {
    let fields = TextFields::default();
    let read = |p: &Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file =
            std::fs::File::open(p).unwrap_or_else(|e| panic!("opening {}: {e}", p.display()));
        read_documents(&name, file, &fields)
            .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
            .documents
    };
    let mut pos = read(&data.join("math/gsm8k-train.jsonl"));
    pos.extend(read(&data.join("math/stackmathqa100k-shards32-127.jsonl")));
    let mut negs: Vec<_> = std::fs::read_dir(data.join("negatives"))
        .expect("negatives/")
        .flatten()
        .map(|e| e.path())
        .collect();
    negs.sort();
    let neg = negs.iter().flat_map(|p| read(p)).collect();
    (pos, neg)
}

/// `url -> is math` from `minicrawl/LABELS.tsv` (columns found by name, as `corpusminer run`).
pub fn labels(data: &Path) -> HashMap<String, bool> {
    let tsv = std::fs::read_to_string(data.join("minicrawl/LABELS.tsv")).expect("LABELS.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .expect("LABELS.tsv column")
    };
    let (u, l) = (col("url"), col("label"));
    lines
        .filter_map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            Some((c.get(u)?.trim().to_string(), c.get(l)?.trim() == "math"))
        })
        .collect()
}

/// A page's URL and extracted main text (what the worker scores).
pub struct PageText {
    /// `WARC-Target-URI`.
    pub url: String,
    /// `extract::extract` main text.
    pub text: String,
}

/// The pages' texts, as the worker extracts them (pages it cannot extract are left out, as it
/// counts and skips them).
pub fn page_texts(pages: &[HtmlPage]) -> Vec<PageText> {
    pages
        .iter()
        .filter_map(|p| {
            let x =
                corpusminer_pipeline::extract::extract(&p.body, p.content_type.as_deref()).ok()?;
            Some(PageText {
                url: p.url.clone(),
                text: x.text,
            })
        })
        .collect()
}

/// Precision and recall of pages kept at `threshold` against `labels`, as `corpusminer run`
/// computes them: (precision, recall, kept labelled, math labelled).
fn precision_recall(
    texts: &[PageText],
    scores: &[f32],
    labels: &HashMap<String, bool>,
    threshold: f32,
) -> (f64, f64, usize, usize) {
    let cut = bucket_of_f64(threshold as f64);
    let labelled: Vec<(bool, bool)> = texts
        .iter()
        .zip(scores)
        .filter_map(|(p, &s)| labels.get(&p.url).map(|&m| (m, bucket_of(s) >= cut)))
        .collect();
    let tp = labelled.iter().filter(|&&(m, k)| m && k).count();
    let kept = labelled.iter().filter(|&&(_, k)| k).count();
    let math = labelled.iter().filter(|&&(m, _)| m).count();
    let p = if kept == 0 {
        0.0
    } else {
        tp as f64 / kept as f64
    };
    let r = if math == 0 {
        0.0
    } else {
        tp as f64 / math as f64
    };
    (p, r, kept, math)
}

/// F1 of a (precision, recall, ..) tuple.
fn pr_f1((p, r, _, _): (f64, f64, usize, usize)) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// The product-quantized copy of `clf` (fastText `quantize`: dsub 2, no cutoff, no retraining).
fn quantized(clf: &Classifier) -> Classifier {
    let mut bytes = Vec::new();
    clf.write_to(&mut bytes).expect("serialising to memory");
    let mut ft = fasttext::FastText::load(&mut &bytes[..]).expect("reloading the model");
    let qargs = fasttext::args::Args {
        dsub: 2,
        cutoff: 0,
        retrain: false,
        qnorm: false,
        qout: false,
        ..Default::default()
    };
    ft.quantize(&qargs).expect("quantize");
    Classifier::from_fasttext(ft)
        .expect("math label")
        .with_window(clf.window())
}

/// The fastText table (scoring speed: best of `runs`), and the default-size model (dim 64, 200k
/// buckets) when the grid has it, else the last one trained, for the sharing table.
pub fn table(
    data: &Path,
    texts: &[PageText],
    grid: &[GridPoint],
    runs: usize,
    quick: bool,
) -> (Table, Option<(Classifier, f32)>) {
    let mut t = Table::new(
        "4. fastText size vs precision (trained on one thread, scored on one thread)",
        &[
            "dim",
            "bucket",
            "quantized",
            "model MB",
            "train s",
            "valid F1",
            "threshold",
            "pages/s",
            "P",
            "R",
            "kept / math",
            "best F1",
        ],
    );
    let (pos, neg) = seed_and_negatives(data);
    let labels = labels(data);
    let mut keep: Option<(Classifier, f32)> = None;
    for (i, g) in grid.iter().enumerate() {
        let mut settings = TrainSettings {
            dim: g.dim,
            bucket: g.bucket,
            seed: 42,
            ..TrainSettings::auto(pos.len() + neg.len())
        };
        if quick {
            settings = TrainSettings {
                epoch: 2,
                minn: 0,
                maxn: 0,
                ..settings
            };
        }
        let (base, report) = train(&pos, &neg, &settings).expect("training");
        let threshold = report.page.threshold;
        let q = g.quantize.then(|| quantized(&base));
        for (clf, is_q) in std::iter::once((&base, false)).chain(q.as_ref().map(|c| (c, true))) {
            let (scores, tm) = best_of(runs, || {
                texts
                    .iter()
                    .map(|p| clf.score(&p.text))
                    .collect::<Vec<f32>>()
            });
            let (p, r, kept, math) = precision_recall(texts, &scores, &labels, threshold);
            let best = (1..100)
                .map(|k| pr_f1(precision_recall(texts, &scores, &labels, k as f32 / 100.0)))
                .fold(0.0, f64::max);
            t.row(vec![
                g.dim.to_string(),
                n(g.bucket as u64),
                if is_q {
                    "yes (dsub 2)".into()
                } else {
                    "no".into()
                },
                f(mb(clf.model_bytes()), 1),
                if is_q {
                    "-".into()
                } else {
                    f(report.train_seconds, 1)
                },
                f(report.page.f1, 3),
                f(threshold as f64, 2),
                f(tm.per_cpu_s(texts.len() as f64), 0),
                f(p, 3),
                f(r, 3),
                format!("{kept} / {math}"),
                f(best, 3),
            ]);
        }
        let is_default = g.dim == 64 && g.bucket == 200_000;
        if is_default || (keep.is_none() && i + 1 == grid.len()) {
            keep = Some((base, threshold));
        }
    }
    let s = TrainSettings::auto(pos.len() + neg.len());
    t.note(format!(
        "Seed: {} positives (GSM8K train + StackMathQA), {} negatives (negatives/*). Settings: TrainSettings::auto (lr {}, \
         epoch {}, wordNgrams {}, char {}-{}-grams, minCount {}, {}-token chunks{}), random seed 42, 1 thread, with dim \
         and bucket from the grid. Scored: {} minicrawl pages (extract::extract text, Classifier::score); kept = score \
         bucket >= bucket of the validation page threshold, as `corpusminer run` keeps by default. \"valid F1\" is the \
         F1 on the trainer's synthetic held-out pages at that threshold; \"best F1\" the best page F1 over thresholds \
         0.01..0.99 chosen with the labels (an oracle: how separable the scores are). A quantized model keeps its base \
         model's threshold. Scoring speed: pages per CPU-second (best of {}), normalisation and 64-token windows included.",
        n(pos.len() as u64),
        n(neg.len() as u64),
        s.lr,
        s.epoch,
        s.word_ngrams,
        s.minn,
        s.maxn,
        s.min_count,
        s.chunk_tokens,
        if quick { "; --quick: 2 epochs, no char n-grams" } else { "" },
        texts.len(),
        runs
    ));
    (t, keep)
}
