//! Step 1 of the paper's loop: seed positives and negatives in, a fastText classifier out.

use bytes::Bytes;
use corpusminer_pipeline::classify::{self, Classifier, TextFields, TrainSettings, ValidationReport};
use corpusminer_storage::{resolve, ObjectStore, StorageConfig};
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
        let (store, key) = resolve(uri, storage).map_err(|e| err(e.to_string()))?;
        let bytes = store.get(&key).await.map_err(|e| err(e.to_string()))?;
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

/// Trains on `positives` vs `negatives` (on a blocking thread) and stores `model.bin` and
/// `model.validation.json` under `prefix` in `store`.
pub async fn train_and_store(
    positives: Vec<String>,
    negatives: Vec<String>,
    settings: TrainSettings,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
) -> Result<TrainedModel, TrainingError> {
    if positives.is_empty() {
        return Err(TrainingError::Empty("seed (positive)"));
    }
    if negatives.is_empty() {
        return Err(TrainingError::Empty("negative"));
    }
    let (classifier, validation, bytes) = tokio::task::spawn_blocking(move || {
        let (classifier, validation) = classify::train(&positives, &negatives, &settings).map_err(|e| TrainingError::Model(e.to_string()))?;
        let dir = tempfile::tempdir().map_err(|e| TrainingError::Model(e.to_string()))?;
        let path = dir.path().join("model.bin");
        classifier.save(&path).map_err(|e| TrainingError::Model(e.to_string()))?;
        let bytes = std::fs::read(&path).map_err(|e| TrainingError::Model(e.to_string()))?;
        Ok::<_, TrainingError>((classifier, validation, bytes))
    })
    .await
    .expect("training panicked")?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let key = format!("{prefix}/model.bin");
    store.put(&key, Bytes::from(bytes)).await.map_err(|e| TrainingError::Store(e.to_string()))?;
    let vjson = serde_json::to_vec_pretty(&validation).expect("validation report serialises");
    store.put(&format!("{prefix}/model.validation.json"), Bytes::from(vjson)).await.map_err(|e| TrainingError::Store(e.to_string()))?;
    Ok(TrainedModel { classifier: Arc::new(classifier), uri: format!("{}/{key}", store.uri().trim_end_matches('/')), sha256, validation: Some(validation) })
}

/// Loads a trained model from `uri` (any store), with its `.validation.json` sidecar when present.
pub async fn load_model(uri: &str, storage: &StorageConfig) -> Result<TrainedModel, TrainingError> {
    let err = |message: String| TrainingError::Read { uri: uri.to_string(), message };
    let (store, key) = resolve(uri, storage).map_err(|e| err(e.to_string()))?;
    let bytes = store.get(&key).await.map_err(|e| err(e.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let sidecar = key.strip_suffix(".bin").unwrap_or(&key).to_string() + ".validation.json";
    let validation = match store.get(&sidecar).await {
        Ok(v) => serde_json::from_slice(&v).ok(),
        Err(_) => None,
    };
    let classifier = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("model.bin");
        std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
        Classifier::load(&path).map_err(|e| e.to_string())
    })
    .await
    .expect("model loading panicked")
    .map_err(TrainingError::Model)?;
    Ok(TrainedModel { classifier: Arc::new(classifier), uri: uri.to_string(), sha256, validation })
}
