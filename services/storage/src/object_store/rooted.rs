//! A store seen from a folder inside it: keys relative to that folder.
//!
//! An output folder records its files by keys relative to its root (`iterations/3/model.bin`),
//! never by where the folder happens to be, so a folder moved or copied elsewhere (another
//! local path, another bucket prefix) is read the same way from its new place.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ObjectReader, ObjectStore};
use crate::error::StorageError;

/// `inner` with every key prefixed by `prefix/` (and `list` answering keys without it).
#[derive(Debug)]
pub struct RootedStore {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
}

impl RootedStore {
    /// The view of `inner` under `prefix` (`""` is the store itself).
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        Self { inner, prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") } }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key.trim_start_matches('/'))
    }
}

#[async_trait]
impl ObjectStore for RootedStore {
    fn uri(&self) -> String {
        format!("{}{}", self.inner.uri(), self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.inner.get(&self.key(key)).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.inner.get_range(&self.key(key), range).await
    }

    async fn open_read(&self, key: &str, start: u64) -> Result<ObjectReader, StorageError> {
        self.inner.open_read(&self.key(key), start).await
    }

    async fn size(&self, key: &str) -> Result<u64, StorageError> {
        self.inner.size(&self.key(key)).await
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.inner.put(&self.key(key), bytes).await
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<(), StorageError> {
        self.inner.put_file(&self.key(key), path).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let keys = self.inner.list(&self.key(prefix)).await?;
        Ok(keys.into_iter().filter_map(|k| k.strip_prefix(self.prefix.as_str()).map(str::to_string)).collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(&self.key(key)).await
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        self.inner.exists(&self.key(key)).await
    }
}
