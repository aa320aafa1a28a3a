//! Training settings, training, and the validation report.

use std::io::{BufWriter, Write};
use std::time::Instant;

use fasttext::args::{Args, LossName, ModelName};
use fasttext::FastText;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Classifier, ClassifyError, ScoreProbe, ScoringMode, LABEL_MATH, LABEL_OTHER};
use crate::text::normalize;

/// fastText loss function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax over the two labels (fastText's supervised default); P(math) + P(other) = 1.
    Softmax,
    /// Hierarchical softmax.
    HierarchicalSoftmax,
    /// Independent binary logistic per label.
    OneVsAll,
}

/// How the training split's class sizes are balanced (the held-out split is never touched).
///
/// Seeds are small and negatives fewer still, while a crawl is overwhelmingly non-math: a model
/// trained with far more positives than negatives learns a prior P(math) near the positive share
/// and scores ordinary pages high. Balancing sets the learned prior to about one half.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassBalance {
    /// Train on the classes as given.
    Natural,
    /// Keep at most `ratio` x (training negatives) positives, a seeded random subset.
    CapPositives(f32),
    /// Repeat the negatives (whole rounds, then a seeded random part) until they number as many
    /// as the positives; a no-op when negatives already outnumber positives. Done per writing
    /// system ([`writing_system`]: Chinese and Japanese, or alphabetic), so that in a bilingual
    /// seed one language's surplus of positives cannot make the language itself a sign of math.
    OversampleNegatives,
}

/// fastText training settings plus this module's split, balance and seed.
///
/// Model size: `(vocabulary + bucket) x dim x 4` bytes for the input matrix, plus a little for the
/// dictionary: [`TrainSettings::paper`] is 2M x 256 x 4 = 2.0 GB; [`TrainSettings::auto`] for a
/// seed under 100k documents is (vocabulary + 200k) x 64 x 4, about 70 MB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Embedding dimension.
    pub dim: u32,
    /// Initial learning rate (decays linearly to 0).
    pub lr: f64,
    /// Longest word n-gram hashed into buckets (1 = unigrams only).
    pub word_ngrams: u32,
    /// Minimum occurrences for a word to enter the vocabulary.
    pub min_count: u32,
    /// Passes over the training file.
    pub epoch: u32,
    /// Hash buckets for word n-grams and character n-grams.
    pub bucket: u32,
    /// Shortest character n-gram (0 with `maxn` 0: none).
    pub minn: u32,
    /// Longest character n-gram (0: none).
    pub maxn: u32,
    /// Loss function.
    pub loss: Loss,
    /// Training threads. fastText's multi-threaded (Hogwild!) SGD is not reproducible (measured:
    /// two 2-thread runs with one seed differ on 372 of 567 probe scores, by up to 0.014), so the
    /// default is 1, which is bit-for-bit deterministic for a given `seed` (tested).
    pub threads: u32,
    /// Seed of the shuffle, the split, the balancing and fastText's own initialisation.
    pub seed: u64,
    /// Share of each class held out for the [`ValidationReport`], in [0, 0.5].
    pub validation_fraction: f64,
    /// Class balancing of the training split.
    pub balance: ClassBalance,
    /// Cut every document into chunks of this many normalised tokens (the last one shorter) after
    /// the train/validation split, train and validate on chunks, and score with windows of the
    /// same size ([`Classifier::window`]). 0: whole documents, as the paper did. This decides the
    /// model's [`ScoringMode`] ([`TrainSettings::scoring_mode`]).
    pub chunk_tokens: u32,
}

impl TrainSettings {
    /// DeepSeekMath's settings (arXiv 2402.03300 §2.1): dim 256, lr 0.1, wordNgrams 3,
    /// minCount 3, epoch 3, 2M buckets (a 2.0 GB model). They suit ~1M training documents and
    /// under-train a seed of a few thousand (see BASELINES.md).
    pub fn paper() -> Self {
        TrainSettings {
            dim: 256,
            lr: 0.1,
            word_ngrams: 3,
            min_count: 3,
            epoch: 3,
            bucket: 2_000_000,
            minn: 0,
            maxn: 0,
            loss: Loss::Softmax,
            threads: 1,
            seed: 0,
            validation_fraction: 0.1,
            balance: ClassBalance::OversampleNegatives,
            chunk_tokens: 0,
        }
    }

    /// Settings that train well on a seed of `n_docs` documents (positives + negatives).
    ///
    /// Small data needs more passes and a larger step than the paper's. Under 100k documents:
    /// lr 1.0, 10 epochs, dim 64, word bigrams, character 3- to 5-grams, minCount 1, 200k buckets
    /// (a ~70 MB model), trained on 64-token chunks. Measured on GSM8K train + StackMathQA (8,460)
    /// against `data/negatives` (1,850), scoring the 102 labelled `html-math` pages (crude tag
    /// stripping) at the label-free page threshold: P 0.93 / R 0.85 (threshold 0.28), where the
    /// same without character n-grams gave P 0.90 / R 0.78, and whole documents with 25 epochs
    /// P 1.00 / R 0.33. Under 1M documents: lr 0.5, 10 epochs, dim 128, 1M buckets (~0.5 GB),
    /// minCount 2. From 1M on: the paper's lr 0.1, wordNgrams 3, minCount 3, epoch 3, with dim 128
    /// and 1M buckets (~0.5 GB, not 2 GB). Character n-grams roughly double training time.
    pub fn auto(n_docs: usize) -> Self {
        let base = TrainSettings::paper();
        if n_docs < 100_000 {
            TrainSettings {
                dim: 64,
                lr: 1.0,
                word_ngrams: 2,
                min_count: 1,
                epoch: 10,
                bucket: 200_000,
                minn: 3,
                maxn: 5,
                chunk_tokens: super::SCORE_WINDOW_TOKENS as u32,
                ..base
            }
        } else if n_docs < 1_000_000 {
            TrainSettings {
                dim: 128,
                lr: 0.5,
                word_ngrams: 2,
                min_count: 2,
                epoch: 10,
                bucket: 1_000_000,
                chunk_tokens: super::SCORE_WINDOW_TOKENS as u32,
                ..base
            }
        } else {
            TrainSettings {
                dim: 128,
                bucket: 1_000_000,
                ..base
            }
        }
    }

    /// How the trained model scores pages, at validation and ever after (it is stored in the
    /// model's scoring sidecar): `Window(chunk_tokens)` for a model trained on chunks, whole
    /// documents for `chunk_tokens` 0. So [`TrainSettings::paper`] and [`TrainSettings::auto`]
    /// from 1M documents on score whole documents, the paper's way; `auto` under 1M documents
    /// scores 64-token windows.
    pub fn scoring_mode(&self) -> ScoringMode {
        ScoringMode::from_window_tokens(self.chunk_tokens as usize)
    }

    fn validate(&self) -> Result<(), ClassifyError> {
        let bad = |m: String| Err(ClassifyError::InvalidSetting(m));
        if !(0.0..=0.5).contains(&self.validation_fraction) {
            return bad(format!(
                "validation_fraction {} not in [0, 0.5]",
                self.validation_fraction
            ));
        }
        if self.dim == 0 || self.epoch == 0 || self.threads == 0 || self.word_ngrams == 0 {
            return bad("dim, epoch, threads and word_ngrams must be >= 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("lr {} must be > 0", self.lr));
        }
        if self.maxn < self.minn {
            return bad(format!("maxn {} < minn {}", self.maxn, self.minn));
        }
        if let ClassBalance::CapPositives(r) = self.balance {
            if !(r > 0.0) {
                return bad(format!("CapPositives ratio {r} must be > 0"));
            }
        }
        for (name, v) in [
            ("dim", self.dim),
            ("epoch", self.epoch),
            ("bucket", self.bucket),
            ("threads", self.threads),
        ] {
            if v > i32::MAX as u32 {
                return bad(format!("{name} {v} too large"));
            }
        }
        Ok(())
    }

    /// The fastText arguments of these settings (no input file yet), for tests.
    #[cfg(test)]
    pub(crate) fn fasttext_args_for_tests(&self) -> Args {
        self.fasttext_args()
    }

    fn fasttext_args(&self) -> Args {
        let mut a = Args::default();
        a.model = ModelName::Supervised;
        a.loss = match self.loss {
            Loss::Softmax => LossName::Softmax,
            Loss::HierarchicalSoftmax => LossName::HierarchicalSoftmax,
            Loss::OneVsAll => LossName::OneVsAll,
        };
        a.dim = self.dim as i32;
        a.lr = self.lr;
        a.word_ngrams = self.word_ngrams as i32;
        a.min_count = self.min_count as i32;
        a.epoch = self.epoch as i32;
        a.bucket = self.bucket as i32;
        a.minn = self.minn as i32;
        a.maxn = self.maxn as i32;
        a.thread = self.threads as i32;
        // fastText's seed is an i32; fold the u64 so every bit of it matters.
        a.seed = ((self.seed ^ (self.seed >> 32)) as u32 & 0x7fff_ffff) as i32;
        a.verbose = 0;
        a
    }
}

/// Precision, recall and F1 of the math class at one score threshold (score >= threshold is math).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// P(math) threshold.
    pub threshold: f32,
    /// Share of documents at or above the threshold that are positives (1 when none are).
    pub precision: f64,
    /// Share of positives at or above the threshold.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// What [`train`] measured on its held-out split of the seed positives and negatives.
///
/// Metrics are computed with the held-out negatives weighted so that the two classes weigh the
/// same (weight `n_valid_pos / n_valid_neg` per negative). The held-out split keeps the input's
/// class ratio (here several positives per negative), while a crawl is mostly non-math: unweighted,
/// precision would be flattered and the best-F1 threshold pushed too low.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Positives in the training split after balancing (repeats counted); chunks when
    /// `settings.chunk_tokens > 0`, else documents.
    pub n_train_pos: usize,
    /// Negatives in the training split after balancing (repeats counted); chunks or documents.
    pub n_train_neg: usize,
    /// Held-out positives (chunks or documents; the split itself is by document).
    pub n_valid_pos: usize,
    /// Held-out negatives (chunks or documents).
    pub n_valid_neg: usize,
    /// Documents dropped because they normalise to nothing: (positives, negatives).
    pub n_empty: (usize, usize),
    /// Metrics at threshold 0.5 of single predictions on held-out chunks (or documents).
    pub at_half: CurvePoint,
    /// The best-F1 threshold of single predictions on held-out chunks (or documents): the middle
    /// of the plateau of thresholds within 0.005 of the best F1, in 0.01..=0.99.
    pub best: CurvePoint,
    /// Single-prediction metrics at thresholds 0.1, 0.2, ..., 0.9.
    pub curve: Vec<CurvePoint>,
    /// The default page threshold for [`Classifier::score`]: best F1 (middle of the plateau) on
    /// synthetic held-out pages, half math and half negative text (see [`train`]).
    pub page: CurvePoint,
    /// Page metrics at thresholds 0.1, 0.2, ..., 0.9.
    pub page_curve: Vec<CurvePoint>,
    /// The best-F1 page threshold of each writing system's synthetic pages alone (as
    /// [`ValidationReport::page`], each system's negatives weighted against its own positives),
    /// for the systems with at least [`MIN_SYSTEM_PAGES`] held-out pages of each class (a
    /// one-language seed has one, equal to `page`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_by_writing_system: Vec<SystemThreshold>,
    /// Settings actually used.
    pub settings: TrainSettings,
    /// Size of the saved `.bin` model in bytes.
    pub model_bytes: u64,
    /// Words in the model's vocabulary.
    pub vocabulary: usize,
    /// Wall-clock seconds spent in fastText training.
    pub train_seconds: f64,
    /// Two synthetic held-out pages, the math one and the other one of median length, with
    /// their page scores: stored in the scoring sidecar ([`super::ScoringSidecar`]), where a
    /// loaded model must score them the same. Not part of the report's JSON (empty when read
    /// back, and when nothing was held out).
    #[serde(skip)]
    pub probes: Vec<ScoreProbe>,
}

/// Trains a [`Classifier`] on `positives` (math) against `negatives`, raw texts.
///
/// Steps: normalise every text ([`crate::text::normalize`]) and drop those left empty; shuffle each
/// class with `settings.seed`; hold out `validation_fraction` of each class (rounded, at least one
/// document when the fraction is > 0); cut documents into chunks when `chunk_tokens > 0`; balance the training split ([`ClassBalance`]); write
/// `__label__math` / `__label__other` lines, shuffled, to a file in a temporary directory; train
/// fastText; score the held-out split into a [`ValidationReport`]. The report's page threshold
/// ([`ValidationReport::page`]) comes from synthetic held-out pages: each held-out positive
/// document padded with an equal number of tokens of held-out negative text (a math page whose
/// main text is half mathematics, half surrounding prose), against the held-out negative
/// documents, all scored with [`Classifier::score`] in the returned classifier's mode
/// ([`TrainSettings::scoring_mode`]): the very call a worker makes on a page, so the threshold
/// fits page scores as long as the model is loaded in that mode (its scoring sidecar).
///
/// Errors: [`ClassifyError::TooFewDocuments`] when a class has fewer than 2 non-empty documents
/// (1 without validation), [`ClassifyError::InvalidSetting`], [`ClassifyError::Io`] for the
/// temporary file, [`ClassifyError::FastText`] from training.
pub fn train(
    positives: &[String],
    negatives: &[String],
    settings: &TrainSettings,
) -> Result<(Classifier, ValidationReport), ClassifyError> {
    train_observed(positives, negatives, settings, &|_| {})
}

/// Where a training run is, for a person watching it ([`train_observed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainProgress {
    /// fastText reads the training file once to build its vocabulary.
    Vocabulary,
    /// Epoch `epoch` (from 1) of `epochs` runs, `percent` of it done.
    Epoch {
        /// The epoch, from 1.
        epoch: u32,
        /// Epochs in all.
        epochs: u32,
        /// Share of the epoch's pass over the training file read so far, 0 to 100.
        percent: u8,
    },
    /// Epoch `epoch` of `epochs` ended with `loss`, fastText's average loss per training
    /// example over that epoch. Reported for every epoch when fastText returns (it has no hook
    /// inside its loop), and only for a single training thread: with several, fastText's
    /// per-epoch figures mix the threads.
    EpochLoss {
        /// The epoch, from 1.
        epoch: u32,
        /// Epochs in all.
        epochs: u32,
        /// Average loss per example in that epoch.
        loss: f32,
    },
    /// fastText is done: the held-out split is scored for the [`ValidationReport`].
    Validating,
}

/// [`train`], telling `observe` where it is ([`TrainProgress`]): the vocabulary pass, each
/// epoch as it runs (on Linux, from how far fastText has read its training file, sampled on a
/// separate thread: the training loop itself is not touched), each epoch's average loss, and
/// validation. The model is the same as [`train`]'s, bit for bit.
pub fn train_observed(
    positives: &[String],
    negatives: &[String],
    settings: &TrainSettings,
    observe: &(dyn Fn(TrainProgress) + Sync),
) -> Result<(Classifier, ValidationReport), ClassifyError> {
    settings.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let prep = |docs: &[String]| -> Vec<String> {
        docs.iter()
            .map(|d| normalize(d))
            .filter(|d| !d.is_empty())
            .collect()
    };
    let mut pos = prep(positives);
    let mut neg = prep(negatives);
    let n_empty = (positives.len() - pos.len(), negatives.len() - neg.len());
    let needed = if settings.validation_fraction > 0.0 {
        2
    } else {
        1
    };
    for (class, got) in [("positives", pos.len()), ("negatives", neg.len())] {
        if got < needed {
            return Err(ClassifyError::TooFewDocuments { class, got, needed });
        }
    }
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let n_hold = |n: usize| -> usize {
        if settings.validation_fraction == 0.0 {
            return 0;
        }
        ((n as f64 * settings.validation_fraction).round() as usize).clamp(1, n - 1)
    };
    let mut valid_pos = pos.split_off(pos.len() - n_hold(pos.len()));
    let mut valid_neg = neg.split_off(neg.len() - n_hold(neg.len()));
    let synthetic = synthetic_pages(&valid_pos, &valid_neg);
    if settings.chunk_tokens > 0 {
        let size = settings.chunk_tokens as usize;
        let chunk = |docs: &mut Vec<String>| {
            *docs = docs
                .iter()
                .flat_map(|d| crate::text::windows(d, size).map(str::to_string))
                .collect();
        };
        for docs in [&mut pos, &mut neg, &mut valid_pos, &mut valid_neg] {
            chunk(docs);
        }
    }

    // Balance the training split: indices into `pos` / `neg`, repeats allowed.
    let mut train_pos: Vec<usize> = (0..pos.len()).collect();
    let mut train_neg: Vec<usize> = (0..neg.len()).collect();
    match settings.balance {
        ClassBalance::Natural => {}
        ClassBalance::CapPositives(ratio) => {
            let cap = ((neg.len() as f64 * ratio as f64).ceil() as usize).max(1);
            train_pos.truncate(cap); // `pos` is already shuffled
        }
        ClassBalance::OversampleNegatives => {
            let pos_sys: Vec<usize> = pos.iter().map(|d| writing_system(d)).collect();
            let neg_sys: Vec<usize> = neg.iter().map(|d| writing_system(d)).collect();
            train_neg.clear();
            for sys in 0..WRITING_SYSTEMS {
                let n_pos = pos_sys.iter().filter(|&&g| g == sys).count();
                let group: Vec<usize> = (0..neg.len()).filter(|&i| neg_sys[i] == sys).collect();
                if group.is_empty() {
                    continue;
                }
                let mut take = group.clone();
                while take.len() + group.len() <= n_pos {
                    take.extend_from_slice(&group);
                }
                let mut extra = group.clone();
                extra.shuffle(&mut rng);
                let short = n_pos.saturating_sub(take.len());
                take.extend(extra.into_iter().take(short));
                train_neg.extend(take);
            }
        }
    }
    let mut lines: Vec<(bool, usize)> = train_pos
        .iter()
        .map(|&i| (true, i))
        .chain(train_neg.iter().map(|&i| (false, i)))
        .collect();
    lines.shuffle(&mut rng);

    let dir = tempfile::tempdir()?;
    let input = dir.path().join("train.txt");
    {
        let mut w = BufWriter::new(std::fs::File::create(&input)?);
        for &(is_pos, i) in &lines {
            let (label, text) = if is_pos {
                (LABEL_MATH, &pos[i])
            } else {
                (LABEL_OTHER, &neg[i])
            };
            writeln!(w, "{label} {text}")?;
        }
        w.flush()?;
    }
    let mut args = settings.fasttext_args();
    args.input = input.clone();
    let started = Instant::now();
    let (model, losses) = watch::passes(&input, settings.epoch, observe, || FastText::train_tracking_epoch_losses(args))?;
    let train_seconds = started.elapsed().as_secs_f64();
    drop(dir);
    // One figure per epoch with one thread; several threads add theirs in any order.
    if losses.len() == settings.epoch as usize {
        for (i, &loss) in losses.iter().enumerate() {
            observe(TrainProgress::EpochLoss { epoch: i as u32 + 1, epochs: settings.epoch, loss });
        }
        let per_epoch = losses.iter().map(|l| format!("{l:.4}")).collect::<Vec<_>>().join(" ");
        tracing::info!(epochs = settings.epoch, loss = %per_epoch, "classifier trained: average loss per example, epoch by epoch");
    }
    observe(TrainProgress::Validating);
    let classifier = Classifier::from_fasttext(model)?.with_mode(settings.scoring_mode());

    let score_all =
        |docs: &[String]| -> Vec<f32> { docs.iter().map(|d| classifier.score_window(d)).collect() };
    // `score`, not `score_normalized`: a synthetic page can exceed the token cap, and a worker's
    // page is cut at the cap by `normalize`; the held-out pages must be scored the same way.
    let score_pages =
        |docs: &[String]| -> Vec<f32> { docs.iter().map(|d| classifier.score(d)).collect() };
    let pos_scores = score_all(&valid_pos);
    let neg_scores = score_all(&valid_neg);
    let neg_weight = if neg_scores.is_empty() {
        1.0
    } else {
        pos_scores.len() as f64 / neg_scores.len() as f64
    };
    let at = |t: f32| curve_point(&pos_scores, &neg_scores, neg_weight, t);
    let best = best_threshold(&at);
    let (page_pos, page_neg) = (score_pages(&synthetic.0), score_pages(&synthetic.1));
    let page_weight = if page_neg.is_empty() {
        1.0
    } else {
        page_pos.len() as f64 / page_neg.len() as f64
    };
    let page_at = |t: f32| curve_point(&page_pos, &page_neg, page_weight, t);
    let page = best_threshold(&page_at);
    let page_by_writing_system = system_thresholds(&synthetic, &page_pos, &page_neg);
    let probes = [
        ("math", &synthetic.0, &page_pos),
        ("other", &synthetic.1, &page_neg),
    ]
    .into_iter()
    .filter_map(|(class, pages, scores)| {
        let i = median_length(pages)?;
        Some(ScoreProbe {
            class: class.to_string(),
            text: pages[i].clone(),
            score: scores[i],
        })
    })
    .collect();
    let report = ValidationReport {
        n_train_pos: train_pos.len(),
        n_train_neg: train_neg.len(),
        n_valid_pos: valid_pos.len(),
        n_valid_neg: valid_neg.len(),
        n_empty,
        at_half: at(0.5),
        best,
        curve: (1..=9).map(|i| at(i as f32 / 10.0)).collect(),
        page,
        page_curve: (1..=9).map(|i| page_at(i as f32 / 10.0)).collect(),
        page_by_writing_system,
        settings: settings.clone(),
        model_bytes: classifier.model_bytes(),
        vocabulary: classifier.fasttext().dict().nwords() as usize,
        train_seconds,
        probes,
    };
    tracing::info!(
        n_train_pos = report.n_train_pos,
        n_train_neg = report.n_train_neg,
        f1_at_half = report.at_half.f1,
        best_threshold = report.best.threshold,
        best_f1 = report.best.f1,
        page_threshold = report.page.threshold,
        page_f1 = report.page.f1,
        model_bytes = report.model_bytes,
        "trained math classifier"
    );
    Ok((classifier, report))
}

/// The threshold in 0.01..=0.99 (step 0.01) at the middle of the best-F1 plateau: among the
/// thresholds whose F1 is within 0.005 of the best, the midpoint of the lowest and highest, so a
/// perfectly separated validation split does not push the threshold to an extreme.
fn best_threshold(at: &dyn Fn(f32) -> CurvePoint) -> CurvePoint {
    let points: Vec<CurvePoint> = (1..=99).map(|i| at(i as f32 / 100.0)).collect();
    let max = points.iter().map(|p| p.f1).fold(0.0f64, f64::max);
    let near: Vec<f32> = points
        .iter()
        .filter(|p| p.f1 >= max - 0.005)
        .map(|p| p.threshold)
        .collect();
    match (near.first(), near.last()) {
        (Some(lo), Some(hi)) => at(((lo + hi) / 2.0 * 100.0).round() / 100.0),
        _ => at(0.5),
    }
}

/// Synthetic held-out pages (normalised texts): (math pages, other pages).
///
/// A web page's main text is rarely all mathematics: navigation, comments and prose surround it.
/// Each math page is a held-out positive document followed by as many tokens of held-out negative
/// text (taken in turn from the negatives, wrapping around), so half its tokens are math; each
/// other page is a held-out negative document. The page threshold that best separates them is
/// therefore chosen from seed and negatives alone, never from page labels.
fn synthetic_pages(pos: &[String], neg: &[String]) -> (Vec<String>, Vec<String>) {
    // Filler of the positive's own writing system (a Chinese math page is padded with Chinese
    // prose), all negatives when that system has none.
    let all: Vec<&str> = neg.iter().flat_map(|d| d.split(' ')).collect();
    let by_system: Vec<Vec<&str>> = (0..WRITING_SYSTEMS)
        .map(|sys| neg.iter().filter(|d| writing_system(d) == sys).flat_map(|d| d.split(' ')).collect())
        .collect();
    let mut next = [0usize; WRITING_SYSTEMS];
    let pages = pos
        .iter()
        .map(|d| {
            let sys = writing_system(d);
            let filler = if by_system[sys].is_empty() { &all } else { &by_system[sys] };
            let mut page = d.clone();
            if !filler.is_empty() {
                for _ in 0..crate::text::count_words(d) {
                    page.push(' ');
                    page.push_str(filler[next[sys] % filler.len()]);
                    next[sys] += 1;
                }
            }
            page
        })
        .collect();
    (pages, neg.to_vec())
}

/// Writing systems [`writing_system`] tells apart.
const WRITING_SYSTEMS: usize = 2;

/// Names of the writing systems, by [`writing_system`]'s number.
pub const WRITING_SYSTEM_NAMES: [&str; WRITING_SYSTEMS] = ["alphabetic", "han_kana"];

/// Held-out synthetic pages of each class a writing system needs for a threshold of its own
/// ([`ValidationReport::page_by_writing_system`]): fewer would make it noise.
pub const MIN_SYSTEM_PAGES: usize = 30;

/// One writing system's page threshold on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemThreshold {
    /// [`WRITING_SYSTEM_NAMES`]: `alphabetic` (Latin, Cyrillic, Hangul, …) or `han_kana`
    /// (Chinese and Japanese).
    pub system: String,
    /// Held-out synthetic math pages of this system.
    pub math_pages: usize,
    /// Held-out other pages of this system.
    pub other_pages: usize,
    /// Best F1 (middle of the plateau) on this system's pages alone.
    pub page: CurvePoint,
}

/// [`SystemThreshold`] of each writing system with enough held-out pages, from the synthetic
/// pages and their scores.
fn system_thresholds(synthetic: &(Vec<String>, Vec<String>), pos: &[f32], neg: &[f32]) -> Vec<SystemThreshold> {
    let split = |pages: &[String], scores: &[f32]| {
        let mut by = vec![Vec::new(); WRITING_SYSTEMS];
        for (p, &s) in pages.iter().zip(scores) {
            by[writing_system(p)].push(s);
        }
        by
    };
    let (pos_by, neg_by) = (split(&synthetic.0, pos), split(&synthetic.1, neg));
    (0..WRITING_SYSTEMS)
        .filter(|&sys| pos_by[sys].len() >= MIN_SYSTEM_PAGES && neg_by[sys].len() >= MIN_SYSTEM_PAGES)
        .map(|sys| {
            let weight = pos_by[sys].len() as f64 / neg_by[sys].len() as f64;
            SystemThreshold {
                system: WRITING_SYSTEM_NAMES[sys].to_string(),
                math_pages: pos_by[sys].len(),
                other_pages: neg_by[sys].len(),
                page: best_threshold(&|t| curve_point(&pos_by[sys], &neg_by[sys], weight, t)),
            }
        })
        .collect()
}

/// The writing system of a (normalised) text: 1 when its Han and kana words outnumber its
/// alphabetic and Hangul words ([`crate::lang::Sample`]), else 0. Class balance and validation
/// pages are built per writing system.
pub(crate) fn writing_system(text: &str) -> usize {
    let s = crate::lang::Sample::of(text);
    usize::from(s.cjk_words() > (s.other_words + s.hangul_words) as f64)
}

/// Index of a page of median token count (the lower median; the first such page), `None` when
/// there are no pages.
fn median_length(pages: &[String]) -> Option<usize> {
    let mut by_len: Vec<(u64, usize)> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| (crate::text::count_words(p), i))
        .collect();
    by_len.sort_unstable();
    by_len
        .get(by_len.len().checked_sub(1)? / 2)
        .map(|&(_, i)| i)
}

/// Metrics at `threshold`, each negative weighing `neg_weight`.
fn curve_point(pos: &[f32], neg: &[f32], neg_weight: f64, threshold: f32) -> CurvePoint {
    let tp = pos.iter().filter(|&&s| s >= threshold).count() as f64;
    let fp = neg.iter().filter(|&&s| s >= threshold).count() as f64 * neg_weight;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
    let recall = if pos.is_empty() {
        0.0
    } else {
        tp / pos.len() as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    CurvePoint {
        threshold,
        precision,
        recall,
        f1,
    }
}

/// Live epochs of a fastText run, watched from outside its loop: fastText reads its training
/// file once for the vocabulary and once per epoch (rewinding at the end), and the read offset
/// of an open file is in `/proc/self/fdinfo`. Sampling it costs the training loop nothing.
mod watch {
    use super::TrainProgress;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// How often the read offset is sampled.
    const EVERY: Duration = Duration::from_millis(20);

    /// Runs `train`, reporting its passes over `input` to `observe` (nothing where there is no
    /// `/proc`). With several training threads (each reads its own part of the file) the
    /// epoch is approximate.
    pub(super) fn passes<T>(input: &Path, epochs: u32, observe: &(dyn Fn(TrainProgress) + Sync), train: impl FnOnce() -> T) -> T {
        let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
        let path = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
        let stop = AtomicBool::new(false);
        /// Stops the watcher however `train` ends (a panic included).
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        std::thread::scope(|s| {
            if size > 0 && Path::new("/proc/self/fdinfo").is_dir() {
                s.spawn(|| watch(&path, size, epochs, observe, &stop));
            }
            let _stop = Stop(&stop);
            train()
        })
    }

    fn watch(path: &Path, size: u64, epochs: u32, observe: &(dyn Fn(TrainProgress) + Sync), stop: &AtomicBool) {
        let mut passes = Passes { size, epochs, consumed: 0, last: HashMap::new() };
        let mut shown = None;
        while !stop.load(Ordering::Relaxed) {
            let now = passes.sample(&offsets(path));
            if shown != Some(now) {
                observe(now);
                shown = Some(now);
            }
            std::thread::sleep(EVERY);
        }
    }

    /// Bytes read over all passes of a file of `size` bytes, from samples of its readers'
    /// offsets.
    pub(super) struct Passes {
        pub(super) size: u64,
        pub(super) epochs: u32,
        pub(super) consumed: u64,
        /// The offset seen last per open descriptor.
        pub(super) last: HashMap<u32, u64>,
    }

    impl Passes {
        /// Takes one sample, (descriptor, offset) of every reader open now, and says where the
        /// run is.
        pub(super) fn sample(&mut self, open: &[(u32, u64)]) -> TrainProgress {
            let size = self.size.max(1);
            // A reader closed since the last sample had read to the end (the vocabulary pass).
            let mut ended = 0;
            self.last.retain(|fd, l| {
                let gone = !open.iter().any(|(o, _)| o == fd);
                if gone {
                    ended += size.saturating_sub(*l);
                }
                !gone
            });
            self.consumed += ended;
            for &(fd, pos) in open {
                self.consumed += match self.last.insert(fd, pos) {
                    Some(l) if pos >= l => pos - l,
                    // Rewound at the end of a pass (or a new reader on the same descriptor).
                    Some(l) => size.saturating_sub(l) + pos,
                    // A lone reader starts at 0; one of several threads' where it is.
                    None if open.len() == 1 => pos,
                    None => 0,
                };
            }
            match self.consumed / size {
                0 => TrainProgress::Vocabulary,
                p => TrainProgress::Epoch {
                    epoch: p.min(self.epochs as u64) as u32,
                    epochs: self.epochs,
                    percent: if p > self.epochs as u64 { 100 } else { (100 * (self.consumed % size) / size) as u8 },
                },
            }
        }
    }

    /// (descriptor, read offset) of every descriptor of this process open on `path`.
    fn offsets(path: &Path) -> Vec<(u32, u64)> {
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
        let mut found = Vec::new();
        for e in entries.flatten() {
            if std::fs::read_link(e.path()).ok().as_deref() != Some(path) {
                continue;
            }
            let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let info = std::fs::read_to_string(PathBuf::from(format!("/proc/self/fdinfo/{fd}"))).unwrap_or_default();
            if let Some(pos) = info.lines().find_map(|l| l.strip_prefix("pos:")).and_then(|v| v.trim().parse().ok()) {
                found.push((fd, pos));
            }
        }
        found
    }
}

#[cfg(test)]
mod watch_tests {
    use super::watch::Passes;
    use super::TrainProgress::{self, Epoch, Vocabulary};

    fn run(samples: &[&[(u32, u64)]]) -> Vec<TrainProgress> {
        let mut p = Passes { size: 1000, epochs: 3, consumed: 0, last: Default::default() };
        samples.iter().map(|s| p.sample(s)).collect()
    }

    #[test]
    fn the_vocabulary_pass_then_one_pass_per_epoch() {
        let got = run(&[
            &[],
            &[(5, 300)],
            // The vocabulary reader closed at the end; the training reader has the same number.
            &[(5, 100)],
            &[(5, 900)],
            // Rewound: epoch 2.
            &[(5, 200)],
            &[(5, 500)],
        ]);
        let epoch = |epoch, percent| Epoch { epoch, epochs: 3, percent };
        assert_eq!(got, [Vocabulary, Vocabulary, epoch(1, 10), epoch(1, 90), epoch(2, 20), epoch(2, 50)]);
        // The vocabulary reader closed, the training reader got another number.
        let got = run(&[&[(7, 600)], &[(8, 50)], &[(8, 700)], &[(8, 10)], &[(8, 20)], &[(8, 999)], &[]]);
        assert_eq!(got, [Vocabulary, epoch(1, 5), epoch(1, 70), epoch(2, 1), epoch(2, 2), epoch(2, 99), epoch(3, 0)]);
        // Past the last epoch (the reader closes at the end): the last epoch, done.
        let got = run(&[&[(7, 999)], &[(8, 999)], &[(8, 998)], &[(8, 997)], &[]]);
        assert_eq!(got[4], epoch(3, 100));
    }
}
