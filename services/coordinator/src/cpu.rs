//! CPU work of the control plane (zstd decoding of row files, checksums) off the async runtime:
//! on tokio's blocking pool, so that a large file being decoded never stalls the network reads
//! and database calls of other tasks (DESIGN.md: never block a tokio worker).

use bytes::Bytes;
use corpusminer_pipeline::scored::{read_rows, RowsError};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Runs `f` on the blocking pool and returns its result; a panic inside `f` resumes here.
pub async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("blocking task cancelled: {e}"),
    }
}

/// The rows of a zstd JSONL row file ([`read_rows`]), decoded on the blocking pool.
pub async fn decode_rows<T: DeserializeOwned + Send + 'static>(bytes: Bytes) -> Result<Vec<T>, RowsError> {
    off_runtime(move || read_rows(&bytes[..])).await
}

/// Lowercase hex SHA-256 of `bytes`, hashed on the blocking pool.
pub async fn sha256_hex(bytes: Bytes) -> String {
    off_runtime(move || hex::encode(Sha256::digest(&bytes))).await
}
