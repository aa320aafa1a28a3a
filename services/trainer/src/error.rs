//! The trainer's errors.

/// Errors of the trainer.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// A tensor operation failed (a shape mismatch is a bug; an allocation failure is not).
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A configuration is invalid (model shape, settings, a source spec).
    #[error("{0}")]
    Config(String),
    /// The tokenizer could not be trained, loaded or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A corpus file or manifest could not be read or parsed.
    #[error("corpus {key}: {message}")]
    Corpus {
        /// Object key or path.
        key: String,
        /// The cause.
        message: String,
    },
    /// A checkpoint or export could not be written or read back.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// File.
        path: String,
        /// The cause.
        message: String,
    },
    /// The object store failed.
    #[error(transparent)]
    Storage(#[from] corpusminer_storage::StorageError),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl TrainerError {
    /// An [`TrainerError::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        TrainerError::Io { path: path.as_ref().display().to_string(), source }
    }
}

/// The trainer's result type.
pub type Result<T, E = TrainerError> = std::result::Result<T, E>;
