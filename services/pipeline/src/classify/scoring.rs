//! How a model scores pages, and the scoring sidecar stored beside every trained model.
//!
//! [`train`](super::train) picks the default page threshold from held-out pages scored with
//! [`Classifier::score`] in one [`ScoringMode`]; that threshold only fits scores computed the same
//! way, on texts normalised the same way. The sidecar (`model.scoring.json` beside `model.bin`,
//! [`scoring_sidecar_name`]) records the mode, the [`NORMALIZATION_VERSION`], the model's SHA-256
//! and two held-out pages with the scores validation gave them; [`configure`] applies it to a
//! loaded model and refuses a sidecar of another model, of another normalisation, or whose probe
//! pages no longer score as they did at validation.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Classifier, ClassifyError, TrainSettings, ValidationReport, SCORE_WINDOW_TOKENS};
use crate::text::{NORMALIZATION_VERSION, OLDEST_NORMALIZATION_VERSION};

/// How [`Classifier::score`] turns a page's normalised text into one score.
///
/// Serialised as `{"window": 64}` or `"whole_document"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringMode {
    /// The token-weighted mean of P(math) over consecutive windows of this many normalised
    /// tokens (>= 1; the last window may be shorter): the mode of models trained on chunks.
    Window(u32),
    /// fastText's P(math) of the whole normalised text in one prediction, as the paper scored
    /// (arXiv 2402.03300 §2.1): the mode of models trained on whole documents.
    WholeDocument,
}

impl ScoringMode {
    /// The mode of a model loaded without a sidecar: [`SCORE_WINDOW_TOKENS`]-token windows, the
    /// mode of [`TrainSettings::auto`] under 1M documents.
    pub const DEFAULT: ScoringMode = ScoringMode::Window(SCORE_WINDOW_TOKENS as u32);

    /// The mode matching a training chunk size: `Window(tokens)`, or `WholeDocument` for 0.
    pub fn from_window_tokens(tokens: usize) -> Self {
        match u32::try_from(tokens) {
            Ok(0) => ScoringMode::WholeDocument,
            Ok(n) => ScoringMode::Window(n),
            Err(_) => ScoringMode::WholeDocument, // a window past u32::MAX holds any text whole
        }
    }

    /// Tokens per window, 0 for the whole document (the convention of [`crate::text::windows`]).
    pub fn window_tokens(self) -> usize {
        match self {
            ScoringMode::Window(n) => n as usize,
            ScoringMode::WholeDocument => 0,
        }
    }
}

impl std::fmt::Display for ScoringMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScoringMode::Window(n) => write!(f, "{n}-token windows"),
            ScoringMode::WholeDocument => f.write_str("whole documents"),
        }
    }
}

/// One held-out validation page and the score [`train`](super::train) gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreProbe {
    /// `math` (a synthetic held-out math page) or `other` (a held-out negative document).
    pub class: String,
    /// The page's text, as [`Classifier::score`] was given it (already normalised).
    pub text: String,
    /// Its page score at validation, in [0, 1].
    pub score: f32,
}

/// Largest difference between a probe's score at load time and at validation that
/// [`configure`] accepts: far below the 0.01 step of thresholds, above float noise that a
/// different CPU's instruction set might add (on one machine the scores are identical, tested).
pub const PROBE_TOLERANCE: f32 = 1e-4;

/// What a trained model needs to be scored the way it was validated: the scoring sidecar,
/// stored as JSON beside the model ([`scoring_sidecar_name`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringSidecar {
    /// Hex SHA-256 of the model file this sidecar belongs to.
    pub model_sha256: String,
    /// How pages are scored.
    pub scoring: ScoringMode,
    /// [`NORMALIZATION_VERSION`] of the build that trained the model; the model is scored with
    /// that version's normalisation ([`crate::text::normalize_as`]).
    pub normalization_version: u32,
    /// The word segmentation of Chinese and Japanese the model was trained with
    /// ([`crate::segment::SEGMENTATION`]); `None` for version 1 (no segmentation). For the
    /// record: the version decides how text is normalised.
    #[serde(default)]
    pub segmentation: Option<String>,
    /// The training settings (their `chunk_tokens` decided the mode); `None` for a sidecar
    /// written by hand for a model trained elsewhere.
    pub train_settings: Option<TrainSettings>,
    /// The page threshold validation chose ([`ValidationReport::page`]), for the record.
    pub page_threshold: Option<f32>,
    /// Held-out pages with their validation scores, re-scored by [`configure`].
    pub probes: Vec<ScoreProbe>,
}

/// A scoring sidecar that cannot be applied to a model.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// The sidecar is not valid JSON of a [`ScoringSidecar`].
    #[error("scoring sidecar {sidecar}: {message}")]
    Parse {
        /// The sidecar's name.
        sidecar: String,
        /// The parser's message.
        message: String,
    },
    /// The sidecar names another model (the model was replaced or the sidecar copied).
    #[error("scoring sidecar {sidecar} belongs to a model with sha256 {sidecar_sha256}, but {model} has sha256 {model_sha256}")]
    OtherModel {
        /// The model file.
        model: String,
        /// The sidecar file.
        sidecar: String,
        /// The model file's SHA-256.
        model_sha256: String,
        /// The SHA-256 the sidecar records.
        sidecar_sha256: String,
    },
    /// The model was trained on texts normalised by a version of the normaliser this build does
    /// not reproduce (a newer build's).
    #[error("model {model} was trained on text normalisation version {found} ({sidecar}), this build normalises with versions {OLDEST_NORMALIZATION_VERSION} to {expected}: its scores would not fit its threshold; score it with the build that trained it, or retrain it with this one")]
    Normalization {
        /// The model file.
        model: String,
        /// The sidecar file.
        sidecar: String,
        /// The version the sidecar records.
        found: u32,
        /// [`NORMALIZATION_VERSION`].
        expected: u32,
    },
    /// `{"window": 0}`: use `"whole_document"`.
    #[error("scoring sidecar {sidecar}: a window of 0 tokens; write \"whole_document\" for whole-text scoring")]
    ZeroWindow {
        /// The sidecar file.
        sidecar: String,
    },
    /// A probe page scores differently than at validation: scoring changed without the
    /// normalisation version (or the model file's format reading) saying so.
    #[error("model {model} scores its {class} probe page {now} with {mode}, validation gave it {validation} ({sidecar}): scoring differs from validation, so its threshold would not fit")]
    ProbeMismatch {
        /// The model file.
        model: String,
        /// The sidecar file.
        sidecar: String,
        /// The probe's class.
        class: String,
        /// [`ScoringMode`] applied.
        mode: ScoringMode,
        /// Its score at validation.
        validation: f32,
        /// Its score now.
        now: f32,
    },
}

/// File name suffix of the scoring sidecar: `model.bin` -> `model.scoring.json`.
pub const SCORING_SIDECAR_SUFFIX: &str = ".scoring.json";

/// The sidecar's name (path, key or URI) for a model's: `.bin` replaced by
/// [`SCORING_SIDECAR_SUFFIX`] (appended when the name has no `.bin`).
pub fn scoring_sidecar_name(model: &str) -> String {
    model.strip_suffix(".bin").unwrap_or(model).to_string() + SCORING_SIDECAR_SUFFIX
}

impl ScoringSidecar {
    /// The sidecar of a freshly trained model: its mode ([`Classifier::mode`], the one
    /// validation scored with), this build's normalisation, the report's settings, threshold and
    /// probes ([`ValidationReport::probes`]).
    pub fn new(model_sha256: &str, classifier: &Classifier, report: &ValidationReport) -> Self {
        ScoringSidecar {
            model_sha256: model_sha256.to_string(),
            scoring: classifier.mode(),
            normalization_version: NORMALIZATION_VERSION,
            segmentation: Some(crate::segment::SEGMENTATION.to_string()),
            train_settings: Some(report.settings.clone()),
            page_threshold: Some(report.page.threshold),
            probes: report.probes.clone(),
        }
    }

    /// Parses a sidecar's JSON; `sidecar` names it in errors.
    ///
    /// Errors: [`SidecarError::Parse`], [`SidecarError::ZeroWindow`].
    pub fn from_json(bytes: &[u8], sidecar: &str) -> Result<Self, SidecarError> {
        let s: ScoringSidecar = serde_json::from_slice(bytes).map_err(|e| SidecarError::Parse {
            sidecar: sidecar.to_string(),
            message: e.to_string(),
        })?;
        if s.scoring == ScoringMode::Window(0) {
            return Err(SidecarError::ZeroWindow {
                sidecar: sidecar.to_string(),
            });
        }
        Ok(s)
    }

    /// The sidecar as pretty-printed JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a scoring sidecar serialises")
    }
}

/// Configures a loaded `classifier` from its scoring sidecar, `sidecar` as (name, JSON bytes),
/// and returns it with the parsed sidecar. `model` names the model file, `model_sha256` is the
/// hex SHA-256 of its bytes.
///
/// With a sidecar: checks that it belongs to this model and to a normalisation version this build
/// reproduces, sets its [`ScoringMode`] and normalisation version, and re-scores its probe pages with [`Classifier::score`], which must give
/// the validation scores within [`PROBE_TOLERANCE`]. Without one (a model trained elsewhere, or
/// before sidecars existed): [`ScoringMode::DEFAULT`], with a warning logged once per model name
/// in this process.
///
/// Errors: [`SidecarError`], each naming the model and the sidecar.
pub fn configure(
    classifier: Classifier,
    model: &str,
    model_sha256: &str,
    sidecar: Option<(&str, &[u8])>,
) -> Result<(Classifier, Option<ScoringSidecar>), SidecarError> {
    let Some((name, bytes)) = sidecar else {
        if first_warning(model) {
            tracing::warn!(
                model,
                sidecar = %scoring_sidecar_name(model),
                "no scoring sidecar beside the model: scoring with the default {}, which fits a \
                 model trained on 64-token chunks (corpusminer's default settings); a model \
                 validated on whole documents needs a sidecar saying \"whole_document\"",
                ScoringMode::DEFAULT
            );
        }
        return Ok((classifier.with_mode(ScoringMode::DEFAULT), None));
    };
    let s = ScoringSidecar::from_json(bytes, name)?;
    if !s.model_sha256.eq_ignore_ascii_case(model_sha256) {
        return Err(SidecarError::OtherModel {
            model: model.to_string(),
            sidecar: name.to_string(),
            model_sha256: model_sha256.to_string(),
            sidecar_sha256: s.model_sha256,
        });
    }
    if !(OLDEST_NORMALIZATION_VERSION..=NORMALIZATION_VERSION).contains(&s.normalization_version) {
        return Err(SidecarError::Normalization {
            model: model.to_string(),
            sidecar: name.to_string(),
            found: s.normalization_version,
            expected: NORMALIZATION_VERSION,
        });
    }
    let classifier = classifier.with_mode(s.scoring).with_normalization(s.normalization_version);
    for p in &s.probes {
        let now = classifier.score(&p.text);
        if !((now - p.score).abs() <= PROBE_TOLERANCE) {
            return Err(SidecarError::ProbeMismatch {
                model: model.to_string(),
                sidecar: name.to_string(),
                class: p.class.clone(),
                mode: s.scoring,
                validation: p.score,
                now,
            });
        }
    }
    Ok((classifier, Some(s)))
}

/// Loads the model file at `path` and [`configure`]s it from the scoring sidecar beside it
/// ([`scoring_sidecar_name`]; a missing one gives [`ScoringMode::DEFAULT`] with a warning).
///
/// Errors: [`ClassifyError::Io`] for an unreadable model or sidecar, as [`Classifier::load`]
/// for an invalid model, [`ClassifyError::Sidecar`] from [`configure`].
pub fn load_with_sidecar(
    path: impl AsRef<Path>,
) -> Result<(Classifier, Option<ScoringSidecar>), ClassifyError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let name = path.to_string_lossy();
    let sidecar_name = scoring_sidecar_name(&name);
    let sidecar = match std::fs::read(&sidecar_name) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let classifier = Classifier::load(path)?;
    let sidecar = sidecar.as_deref().map(|b| (sidecar_name.as_str(), b));
    Ok(configure(classifier, &name, &sha256, sidecar)?)
}

/// True the first time this process asks about `model`.
fn first_warning(model: &str) -> bool {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    WARNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(model.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_serialise_and_map_chunk_sizes() {
        assert_eq!(
            ScoringMode::from_window_tokens(0),
            ScoringMode::WholeDocument
        );
        assert_eq!(ScoringMode::from_window_tokens(64), ScoringMode::DEFAULT);
        assert_eq!(ScoringMode::WholeDocument.window_tokens(), 0);
        assert_eq!(
            serde_json::to_string(&ScoringMode::Window(64)).unwrap(),
            r#"{"window":64}"#
        );
        assert_eq!(
            serde_json::to_string(&ScoringMode::WholeDocument).unwrap(),
            r#""whole_document""#
        );
        assert_eq!(scoring_sidecar_name("a/model.bin"), "a/model.scoring.json");
        assert_eq!(scoring_sidecar_name("m"), "m.scoring.json");
    }

    #[test]
    fn warns_once_per_model() {
        assert!(first_warning("s3://b/once.bin"));
        assert!(!first_warning("s3://b/once.bin"));
        assert!(first_warning("s3://b/other.bin"));
    }

    #[test]
    fn zero_window_and_bad_json_are_refused() {
        let json = br#"{"model_sha256":"ab","scoring":{"window":0},"normalization_version":1,
            "train_settings":null,"page_threshold":null,"probes":[]}"#;
        assert!(matches!(
            ScoringSidecar::from_json(json, "m.scoring.json"),
            Err(SidecarError::ZeroWindow { .. })
        ));
        let err = ScoringSidecar::from_json(b"{", "m.scoring.json").unwrap_err();
        assert!(err.to_string().contains("m.scoring.json"), "{err}");
    }
}
