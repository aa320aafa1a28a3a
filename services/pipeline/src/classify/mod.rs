//! The math classifier: fastText trained on seed positives and negatives, and page scoring.
//!
//! DeepSeekMath (arXiv 2402.03300, §2.1) trains a supervised fastText model on seed math
//! documents (positives) against random Common Crawl pages (negatives) and scores every crawl page
//! by P(math). This module does the same with the pure-Rust `fasttext` 0.8 crate, whose `.bin`
//! files are C++ fastText compatible:
//!
//! - [`read_documents`]: seed and negative documents out of JSONL (plain, `.gz`, `.zst`) or text;
//! - [`train`]: seeded split, class balancing, training, and a [`ValidationReport`] (precision,
//!   recall, F1, the best-F1 threshold) on a held-out split of the same documents;
//! - [`Classifier`]: `load` / `save` / `from_reader`, and `score(text) -> P(math)` in a
//!   [`ScoringMode`] (windows or the whole document);
//! - [`ScoringSidecar`] and [`configure`]: the scoring mode, normalisation version and probe
//!   scores stored beside a model (`model.scoring.json`), applied when it is loaded.
//!
//! Every text goes through [`crate::text::normalize`] before fastText sees it, at training and at
//! scoring time alike.

mod read;
mod scoring;
mod train;

use std::io::{Read, Write};
use std::path::Path;

use fasttext::FastText;

pub use read::{read_documents, ReadDocuments, TextFields};
pub use scoring::{
    configure, load_with_sidecar, scoring_sidecar_name, ScoreProbe, ScoringMode, ScoringSidecar,
    SidecarError, PROBE_TOLERANCE, SCORING_SIDECAR_SUFFIX,
};
pub use train::{train, train_observed, ClassBalance, CurvePoint, Loss, SystemThreshold, TrainProgress, TrainSettings, ValidationReport, MIN_SYSTEM_PAGES, WRITING_SYSTEM_NAMES};

/// fastText label of positives (math documents).
pub const LABEL_MATH: &str = "__label__math";
/// fastText label of negatives (everything else).
pub const LABEL_OTHER: &str = "__label__other";

/// Errors of reading documents, training, loading and saving models.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Reading or writing a file or stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The fastText library rejected the model, the arguments or the training file.
    #[error("fasttext: {0}")]
    FastText(#[from] fasttext::FastTextError),
    /// Training needs at least `needed` documents of a class (after normalisation drops empty
    /// ones); `class` is `positives` or `negatives`.
    #[error("too few {class}: {got} non-empty documents, need at least {needed}")]
    TooFewDocuments {
        /// `positives` or `negatives`.
        class: &'static str,
        /// Non-empty documents given.
        got: usize,
        /// Minimum required.
        needed: usize,
    },
    /// A setting is out of range (e.g. `validation_fraction` outside [0, 0.5]).
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// A loaded model does not carry the `__label__math` label, so it cannot give P(math).
    #[error("model has no {LABEL_MATH} label (labels: {0:?})")]
    NoMathLabel(Vec<String>),
    /// A model's scoring sidecar cannot be applied to it ([`configure`]).
    #[error("{0}")]
    Sidecar(#[from] SidecarError),
}

/// A trained math classifier: a fastText supervised model with labels [`LABEL_MATH`] and
/// [`LABEL_OTHER`].
///
/// `Send + Sync`: scoring takes `&self` and allocates its own scratch state, so one instance
/// (e.g. in an `Arc`) serves every worker thread without a lock. Memory: the model's input matrix,
/// `(vocabulary + bucket) x dim x 4` bytes (see [`ValidationReport::model_bytes`]).
#[derive(Debug)]
pub struct Classifier {
    model: FastText,
    mode: ScoringMode,
    /// The [`crate::text::NORMALIZATION_VERSION`] texts are normalised with before scoring.
    normalization: u32,
}

/// Tokens per scoring window of [`Classifier::score`] by default ([`ScoringMode::DEFAULT`], also
/// the mode of a model loaded without a sidecar), and of training chunks in
/// [`TrainSettings::auto`]: 64 normalised tokens, about the length of a short seed document
/// (a GSM8K problem is ~150), so a web page's main text is judged window by window the way the
/// seed was learnt, and navigation or comments around the mathematics dilute the page's score in
/// proportion to their length instead of outvoting it.
pub const SCORE_WINDOW_TOKENS: usize = 64;

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
};

impl Classifier {
    /// Wraps a fastText model, checking it has the [`LABEL_MATH`] label. It scores in
    /// [`ScoringMode::DEFAULT`] until told otherwise ([`Classifier::with_mode`], [`configure`]).
    ///
    /// Errors: [`ClassifyError::NoMathLabel`].
    pub fn from_fasttext(model: FastText) -> Result<Self, ClassifyError> {
        let (labels, _) = model.get_labels();
        if !labels.iter().any(|l| l == LABEL_MATH) {
            return Err(ClassifyError::NoMathLabel(labels));
        }
        Ok(Classifier {
            model,
            mode: ScoringMode::DEFAULT,
            normalization: crate::text::NORMALIZATION_VERSION,
        })
    }

    /// Sets how pages are scored (`Window(0)` is taken as [`ScoringMode::WholeDocument`]).
    pub fn with_mode(mut self, mode: ScoringMode) -> Self {
        self.mode = ScoringMode::from_window_tokens(mode.window_tokens());
        self
    }

    /// Normalises texts as version `version` of [`crate::text::normalize_as`] before scoring (the
    /// version the model was trained with; [`configure`] sets it from the sidecar).
    pub fn with_normalization(mut self, version: u32) -> Self {
        self.normalization = version;
        self
    }

    /// The normalisation version texts are scored with.
    pub fn normalization(&self) -> u32 {
        self.normalization
    }

    /// How pages are scored.
    pub fn mode(&self) -> ScoringMode {
        self.mode
    }

    /// Sets the scoring window in tokens (0: the whole text in one prediction, as the paper did):
    /// [`Classifier::with_mode`] of [`ScoringMode::from_window_tokens`].
    pub fn with_window(self, tokens: usize) -> Self {
        self.with_mode(ScoringMode::from_window_tokens(tokens))
    }

    /// The scoring window in tokens (0: whole text).
    pub fn window(&self) -> usize {
        self.mode.window_tokens()
    }

    /// Loads a fastText `.bin` model (C++ fastText format, version <= 12) from `path`, scoring in
    /// [`ScoringMode::DEFAULT`]: apply its sidecar with [`configure`] to score it as validated.
    ///
    /// Errors: [`ClassifyError::FastText`] for an unreadable or invalid file,
    /// [`ClassifyError::NoMathLabel`] for a model of other labels.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClassifyError> {
        Self::from_fasttext(FastText::load_model(path)?)
    }

    /// Loads a fastText `.bin` model from a byte stream (e.g. an object-store download).
    ///
    /// Errors: as [`Classifier::load`].
    pub fn from_reader(mut reader: impl Read) -> Result<Self, ClassifyError> {
        Self::from_fasttext(FastText::load(&mut reader)?)
    }

    /// Loads a fastText `.bin` model from bytes in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClassifyError> {
        Self::from_reader(bytes)
    }

    /// Saves the model to `path` as a C++-compatible fastText `.bin` file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ClassifyError> {
        Ok(self.model.save_model(path)?)
    }

    /// Writes the `.bin` model bytes to `writer`.
    pub fn write_to(&self, mut writer: impl Write) -> Result<(), ClassifyError> {
        Ok(self.model.save(&mut writer)?)
    }

    /// Size of the `.bin` model in bytes (what [`Classifier::save`] writes).
    pub fn model_bytes(&self) -> u64 {
        let mut w = CountingWriter(0);
        // A counting writer never fails; a fastText serialisation error would be a library bug.
        let _ = self.model.save(&mut w);
        w.0
    }

    /// The underlying fastText model (dimension, vocabulary, arguments).
    pub fn fasttext(&self) -> &FastText {
        &self.model
    }

    /// The page score in [0, 1] of a raw text (e.g. a page's extracted main text): the text is
    /// normalised with [`crate::text::normalize_as`] at the model's [`Classifier::normalization`] (so capped at [`crate::text::MAX_TOKENS`]), cut
    /// into windows of [`Classifier::window`] tokens, and the windows' P(math) averaged, weighted
    /// by their token counts: the expected share of the text that is mathematics. With window 0
    /// it is fastText's P(math) of the whole text. A text with no tokens scores 0.
    pub fn score(&self, text: &str) -> f32 {
        self.score_normalized(&crate::text::normalize_as(text, self.normalization))
    }

    /// [`Classifier::score`] of a text already passed through [`crate::text::normalize`].
    pub fn score_normalized(&self, normalized: &str) -> f32 {
        let (mut sum, mut tokens) = (0.0f64, 0u64);
        for w in crate::text::windows(normalized, self.window()) {
            let n = crate::text::count_words(w);
            sum += self.score_window(w) as f64 * n as f64;
            tokens += n;
        }
        if tokens == 0 {
            0.0
        } else {
            (sum / tokens as f64) as f32
        }
    }

    /// fastText's P(math) in [0, 1] of one normalised text in one prediction (no windows).
    pub fn score_window(&self, normalized: &str) -> f32 {
        self.model
            .predict(normalized, 2, 0.0)
            .iter()
            .find(|p| p.label == LABEL_MATH)
            .map_or(0.0, |p| p.prob.clamp(0.0, 1.0))
    }
}

struct CountingWriter(u64);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
