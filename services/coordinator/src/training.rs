//! Step 1 of the paper's loop: seed positives and negatives in, a fastText classifier out.

use bytes::Bytes;
use corpusminer_pipeline::classify::{self, scoring_sidecar_name, Classifier, ScoringSidecar, SidecarError, TextFields, TrainProgress, TrainSettings, ValidationReport};
use corpusminer_worker::Progress;
use corpusminer_storage::{resolve, ObjectStore, StorageConfig, StorageErrorKind};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Errors preparing the classifier.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// A seed or negatives file could not be read.
    #[error("reading {uri}: {message}")]
    Read {
        /// The file.
        uri: String,
        /// The cause.
        message: String,
    },
    /// A class has no documents.
    #[error("no {0} documents: give at least one file with text in it")]
    Empty(&'static str),
    /// Training or loading the model failed.
    #[error("classifier: {0}")]
    Model(String),
    /// Storing the model failed.
    #[error("storing the model: {0}")]
    Store(String),
    /// The model's scoring sidecar is another model's, of another normalisation, or unreadable.
    #[error("{0}")]
    Sidecar(#[from] SidecarError),
}

/// Documents read from a set of files, with what was skipped.
#[derive(Debug, Default)]
pub struct Documents {
    /// Document texts.
    pub texts: Vec<String>,
    /// Per file: (uri, documents read, lines skipped).
    pub files: Vec<(String, usize, usize)>,
}

/// Reads documents from every file in `uris` (local paths, `s3://`, `https://`); the format
/// (JSONL plain/.gz/.zst or text) follows the file name, the text fields follow `fields`.
pub async fn read_documents(uris: &[String], fields: &TextFields, storage: &StorageConfig) -> Result<Documents, TrainingError> {
    let mut docs = Documents::default();
    for uri in uris {
        let err = |message: String| TrainingError::Read { uri: uri.clone(), message };
        let (store, key) = resolve(uri, storage).map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
        let bytes = store.get(&key).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
        let name = uri.clone();
        let fields = fields.clone();
        let read = tokio::task::spawn_blocking(move || classify::read_documents(&name, &bytes[..], &fields))
            .await
            .expect("document reading panicked")
            .map_err(|e| err(e.to_string()))?;
        let skipped = read.skipped.total() as usize;
        tracing::info!(file = %uri, documents = read.documents.len(), skipped, "read documents");
        docs.files.push((uri.clone(), read.documents.len(), skipped));
        docs.texts.extend(read.documents);
    }
    Ok(docs)
}

/// What a person is told of a training run at `p`.
fn train_detail(p: TrainProgress) -> String {
    match p {
        TrainProgress::Vocabulary => "fastText vocabulary".into(),
        TrainProgress::Epoch { epoch, epochs, percent } => {
            // The share of the whole training, which only grows (the epoch's own share restarts).
            let overall = (100.0 * (f64::from(epoch.saturating_sub(1)) + f64::from(percent) / 100.0) / f64::from(epochs.max(1))).min(100.0);
            format!("epoch {epoch} of {epochs}, training {overall:.0}% done")
        }
        TrainProgress::EpochLoss { epoch, epochs, loss } => format!("epoch {epoch} of {epochs} done, average loss {loss:.4}"),
        TrainProgress::Validating => "validating on the held-out split".into(),
    }
}

/// The classifier an iteration scores with, where it is stored and how it validated.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The model, shared by all worker threads.
    pub classifier: Arc<Classifier>,
    /// Where the model file is (`<out>/iterations/<n>/model.bin`, or the given `--model`).
    pub uri: String,
    /// Hex SHA-256 of the model file.
    pub sha256: String,
    /// Validation figures (from training, or from the `.validation.json` beside a given model).
    pub validation: Option<ValidationReport>,
}

/// Trains on `positives` vs `negatives` (on a blocking thread) and stores, under `prefix` in
/// `store`, `model.scoring.json` (the [`ScoringSidecar`]: the model's SHA-256, its scoring mode,
/// the normalisation version and two validation pages with their scores; written first, so a
/// `model.bin` never exists without it), `model.bin` and `model.validation.json`.
/// `progress` is told where training is (vocabulary, epoch k of n, each epoch's loss,
/// validation, storing).
pub async fn train_and_store(
    positives: Vec<String>,
    negatives: Vec<String>,
    settings: TrainSettings,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
    progress: Arc<Progress>,
) -> Result<TrainedModel, TrainingError> {
    if positives.is_empty() {
        return Err(TrainingError::Empty("seed (positive)"));
    }
    if negatives.is_empty() {
        return Err(TrainingError::Empty("negative"));
    }
    let training = progress.clone();
    let (classifier, validation, bytes, sha256) = tokio::task::spawn_blocking(move || {
        let shown = |p: TrainProgress| training.set_detail(train_detail(p));
        let (classifier, validation) = classify::train_observed(&positives, &negatives, &settings, &shown).map_err(|e| TrainingError::Model(e.to_string()))?;
        let dir = tempfile::tempdir().map_err(|e| TrainingError::Model(e.to_string()))?;
        let path = dir.path().join("model.bin");
        classifier.save(&path).map_err(|e| TrainingError::Model(e.to_string()))?;
        let bytes = std::fs::read(&path).map_err(|e| TrainingError::Model(e.to_string()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok::<_, TrainingError>((classifier, validation, bytes, sha256))
    })
    .await
    .expect("training panicked")?;
    let key = format!("{prefix}/model.bin");
    progress.set_detail("storing the model");
    let sidecar = ScoringSidecar::new(&sha256, &classifier, &validation);
    store.put(&scoring_sidecar_name(&key), Bytes::from(sidecar.to_json())).await.map_err(|e| TrainingError::Store(corpusminer_storage::error_chain(&e)))?;
    store.put(&key, Bytes::from(bytes)).await.map_err(|e| TrainingError::Store(corpusminer_storage::error_chain(&e)))?;
    let vjson = serde_json::to_vec_pretty(&validation).expect("validation report serialises");
    store.put(&format!("{prefix}/model.validation.json"), Bytes::from(vjson)).await.map_err(|e| TrainingError::Store(corpusminer_storage::error_chain(&e)))?;
    Ok(TrainedModel { classifier: Arc::new(classifier), uri: format!("{}/{key}", store.uri().trim_end_matches('/')), sha256, validation: Some(validation) })
}

/// Loads a trained model from `uri` (any store, `--model FILE` included), scoring the way it was
/// validated: configured from its `.scoring.json` sidecar ([`classify::configure`]), or, when
/// there is none, in the default 64-token windows with a warning logged once. Its
/// `.validation.json` sidecar is read when present.
///
/// Errors: [`TrainingError::Read`] for an unreadable model or sidecar (a missing sidecar is not
/// an error), [`TrainingError::Model`] for an invalid model, [`TrainingError::Sidecar`] for a
/// sidecar of another model (SHA-256), of another normalisation version, or whose probe pages
/// score differently than at validation.
pub async fn load_model(uri: &str, storage: &StorageConfig) -> Result<TrainedModel, TrainingError> {
    let err = |message: String| TrainingError::Read { uri: uri.to_string(), message };
    let (store, key) = resolve(uri, storage).map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
    let bytes = store.get(&key).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
    // A model is tens of MB to GBs: hashed on the blocking pool, not an async worker.
    let sha256 = crate::cpu::sha256_hex(bytes.clone()).await;
    let sidecar = key.strip_suffix(".bin").unwrap_or(&key).to_string() + ".validation.json";
    let validation = match store.get(&sidecar).await {
        Ok(v) => serde_json::from_slice(&v).ok(),
        Err(_) => None,
    };
    let scoring_uri = scoring_sidecar_name(uri);
    let scoring = match store.get(&scoring_sidecar_name(&key)).await {
        Ok(v) => Some(v),
        Err(e) if e.kind() == StorageErrorKind::NotFound => None,
        Err(e) => return Err(TrainingError::Read { uri: scoring_uri, message: e.to_string() }),
    };
    let (model_uri, model_sha) = (uri.to_string(), sha256.clone());
    let classifier = tokio::task::spawn_blocking(move || {
        let loaded = (|| {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("model.bin");
            std::fs::write(&path, &bytes)?;
            Ok::<_, classify::ClassifyError>(Classifier::load(&path)?)
        })()
        .map_err(|e| TrainingError::Model(e.to_string()))?;
        let sidecar = scoring.as_deref().map(|b| (scoring_uri.as_str(), b));
        Ok::<_, TrainingError>(classify::configure(loaded, &model_uri, &model_sha, sidecar)?.0)
    })
    .await
    .expect("model loading panicked")?;
    Ok(TrainedModel { classifier: Arc::new(classifier), uri: uri.to_string(), sha256, validation })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corpusminer_pipeline::classify::ScoringMode;
    use corpusminer_storage::LocalStore;

    /// Real seed and negatives, a few hundred documents each: StackMathQA (long, so pages span
    /// many windows) against dolma Common Crawl pages.
    async fn seed_and_negatives(data: &std::path::Path) -> (Vec<String>, Vec<String>) {
        let read = |rel: &str| data.join(rel).display().to_string();
        let cfg = StorageConfig::default();
        let f = TextFields::default();
        let pos = read_documents(&[read("math/stackmathqa100k-shards32-127.jsonl")], &f, &cfg).await.unwrap();
        let neg = read_documents(&[read("negatives/dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz")], &f, &cfg).await.unwrap();
        (pos.texts.into_iter().step_by(4).collect(), neg.texts.into_iter().step_by(3).collect())
    }

    /// Small and fast: the default (auto) settings with a tiny model; `chunk_tokens` picks the mode.
    fn small(chunk_tokens: u32) -> TrainSettings {
        TrainSettings { dim: 16, bucket: 20_000, epoch: 5, minn: 0, maxn: 0, chunk_tokens, ..TrainSettings::auto(1_000) }
    }

    #[tokio::test]
    async fn a_stored_model_scores_pages_as_validation_did_in_both_modes() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let (pos, neg) = seed_and_negatives(&data).await;
        // The paper's settings (and auto from 1M documents) train and score whole documents.
        assert_eq!(TrainSettings::paper().scoring_mode(), ScoringMode::WholeDocument);
        assert_eq!(TrainSettings::auto(2_000_000).scoring_mode(), ScoringMode::WholeDocument);
        assert_eq!(TrainSettings::auto(10_000).scoring_mode(), ScoringMode::Window(64));
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
        let cfg = StorageConfig::default();
        for (chunk, mode) in [(64, ScoringMode::Window(64)), (0, ScoringMode::WholeDocument)] {
            let prefix = format!("chunk{chunk}");
            let trained = train_and_store(pos.clone(), neg.clone(), small(chunk), store.clone(), &prefix, Arc::default()).await.unwrap();
            assert_eq!(trained.classifier.mode(), mode);
            let loaded = load_model(&trained.uri, &cfg).await.unwrap();
            assert_eq!(loaded.sha256, trained.sha256);
            assert_eq!(loaded.classifier.mode(), mode, "the loaded model scores in the mode it was validated in");
            let probes = &trained.validation.as_ref().unwrap().probes;
            assert_eq!(probes.iter().map(|p| p.class.as_str()).collect::<Vec<_>>(), ["math", "other"]);
            for p in probes {
                // The page's score at validation, and at scoring time (what a worker calls).
                assert_eq!(loaded.classifier.score(&p.text).to_bits(), p.score.to_bits(), "{mode}, {} probe", p.class);
                assert!(corpusminer_pipeline::text::count_tokens(&p.text) > 64, "a probe spans several windows");
            }
            // Raw held-out-like pages (not normalised): trained and loaded models agree bit for bit.
            for page in pos.iter().step_by(37).chain(neg.iter().step_by(29)) {
                assert_eq!(loaded.classifier.score(page).to_bits(), trained.classifier.score(page).to_bits());
            }
            let sidecar: ScoringSidecar = serde_json::from_slice(&store.get(&format!("{prefix}/model.scoring.json")).await.unwrap()).unwrap();
            assert_eq!((sidecar.scoring, sidecar.model_sha256.as_str()), (mode, trained.sha256.as_str()));
            assert_eq!(sidecar.train_settings.as_ref().map(|s| s.chunk_tokens), Some(chunk));
            if mode == ScoringMode::WholeDocument {
                // What loading did before the sidecar: 64-token windows, which validation never
                // scored; the probe's score moves, so its threshold would not fit.
                let default = Classifier::from_bytes(&store.get(&format!("{prefix}/model.bin")).await.unwrap()).unwrap();
                assert_eq!(default.mode(), ScoringMode::DEFAULT);
                assert!(probes.iter().any(|p| (default.score(&p.text) - p.score).abs() > 1e-3), "the modes differ on the probes");
            }
        }
    }

    #[tokio::test]
    async fn a_tampered_sidecar_is_refused_and_a_missing_one_falls_back_to_windows() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let (pos, neg) = seed_and_negatives(&data).await;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
        let cfg = StorageConfig::default();
        let trained = train_and_store(pos, neg, small(0), store.clone(), "it", Arc::default()).await.unwrap();
        let key = "it/model.scoring.json";
        let good = store.get(key).await.unwrap();
        let sidecar = ScoringSidecar::from_json(&good, key).unwrap();
        let put = |s: ScoringSidecar| {
            let store = store.clone();
            async move { store.put(key, Bytes::from(s.to_json())).await.unwrap() }
        };

        // Another model's sidecar: refused, naming both files and both checksums.
        put(ScoringSidecar { model_sha256: "00".repeat(32), ..sidecar.clone() }).await;
        let err = load_model(&trained.uri, &cfg).await.unwrap_err().to_string();
        let sidecar_uri = scoring_sidecar_name(&trained.uri);
        for part in [trained.uri.as_str(), sidecar_uri.as_str(), trained.sha256.as_str(), &"00".repeat(32)] {
            assert!(err.contains(part), "{err} lacks {part}");
        }
        // Another normalisation version: refused, saying to retrain.
        put(ScoringSidecar { normalization_version: corpusminer_pipeline::text::NORMALIZATION_VERSION + 1, ..sidecar.clone() }).await;
        let err = load_model(&trained.uri, &cfg).await.unwrap_err().to_string();
        assert!(err.contains("normalisation version") && err.contains("retrain"), "{err}");
        // A probe whose recorded score is not what the model gives: refused.
        let mut probes = sidecar.probes.clone();
        probes[0].score = (probes[0].score + 0.25) % 1.0;
        put(ScoringSidecar { probes, ..sidecar.clone() }).await;
        let err = load_model(&trained.uri, &cfg).await.unwrap_err().to_string();
        assert!(err.contains("probe") && err.contains("whole documents"), "{err}");
        // Not JSON: refused, naming the sidecar.
        store.put(key, Bytes::from_static(b"{\"model_sha256\":")).await.unwrap();
        let err = load_model(&trained.uri, &cfg).await.unwrap_err().to_string();
        assert!(err.contains(&sidecar_uri), "{err}");

        // No sidecar (a `--model FILE` trained elsewhere): the documented default, 64-token windows.
        store.delete(key).await.unwrap();
        let loaded = load_model(&trained.uri, &cfg).await.unwrap();
        assert_eq!(loaded.classifier.mode(), ScoringMode::DEFAULT);
        assert_eq!(loaded.sha256, trained.sha256);
        // The good sidecar back: whole documents again.
        store.put(key, good).await.unwrap();
        assert_eq!(load_model(&trained.uri, &cfg).await.unwrap().classifier.mode(), ScoringMode::WholeDocument);
    }
}
