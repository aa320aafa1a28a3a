//! Where bytes live: one small async trait ([`ObjectStore`]), a backend per URI scheme (local
//! directory, `s3://`, `https://`/`http://`) and [`resolve`], which maps a URI to a store and a key.
//!
//! Keys are `/`-separated, relative to the store's root (the filesystem root, the bucket, the
//! origin), never starting with `/`.

mod http;
mod local;
mod rooted;
mod s3;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub use self::http::HttpStore;
pub use self::local::LocalStore;
pub use self::rooted::RootedStore;
pub use self::s3::S3Store;
use crate::error::StorageError;

/// A streamed object body, as returned by [`ObjectStore::open_read`].
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// An object store: get/put/list/delete of whole objects plus ranged and streamed reads.
///
/// Errors are [`StorageError`]s; a missing object is `NotFound` from `get`, `get_range`,
/// `open_read` and `size`, and `false` from `exists`. `delete` of a missing object succeeds.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// The base URI (`/data/`, `s3://bucket/`, `https://host/`), for logs and manifests:
    /// `format!("{}{}", store.uri(), key)` names the object.
    fn uri(&self) -> String;

    /// The whole object, in memory. Capped: an object over the store's cap on whole-object
    /// reads ([`StorageConfig::get_cap`], default [`DEFAULT_MAX_GET_BYTES`]) is an
    /// `Unsupported` error naming the object, its size and the cap, and is not read; stream it
    /// with [`ObjectStore::open_read`] instead.
    async fn get(&self, key: &str) -> Result<Bytes, StorageError>;

    /// Bytes `range.start..range.end` (end exclusive, bytes). An empty range returns no bytes
    /// without a request; a range past the end is clipped by the backend as HTTP does.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError>;

    /// The object streamed from byte `start` to its end. Transport errors surface as
    /// `std::io::Error`s from the reader; [`crate::resumable`] retries and resumes them.
    async fn open_read(&self, key: &str, start: u64) -> Result<ObjectReader, StorageError>;

    /// The object's length in bytes.
    async fn size(&self, key: &str) -> Result<u64, StorageError>;

    /// Writes the object whole (local: a temp file then a rename, so readers never see half).
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError>;

    /// Writes the object from a local file.
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), StorageError>;

    /// Every key that starts with `prefix` (recursively), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;

    /// Removes the object; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Whether the object exists.
    async fn exists(&self, key: &str) -> Result<bool, StorageError>;
}

/// How to reach remote stores. Every field is optional; the defaults read the standard AWS
/// environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, profiles, ...).
#[derive(Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// S3 endpoint override (an S3-compatible server: `http://127.0.0.1:9000`). Falls back to
    /// `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`. With an endpoint, path-style addressing is used.
    pub s3_endpoint: Option<String>,
    /// S3 region; falls back to `AWS_REGION` / `AWS_DEFAULT_REGION`, then `us-east-1`.
    pub s3_region: Option<String>,
    /// Force path-style addressing (`endpoint/bucket/key`) even without an endpoint override.
    pub s3_force_path_style: bool,
    /// Explicit access key id (with `s3_secret_access_key`); else the AWS environment is used.
    pub s3_access_key_id: Option<String>,
    /// Explicit secret key; never printed (see [`StorageConfig::redacted`]).
    pub s3_secret_access_key: Option<String>,
    /// Never sign requests (public buckets such as `s3://commoncrawl`). Also the behaviour when
    /// no credentials are configured anywhere.
    pub s3_anonymous: bool,
    /// Per-request timeout for HTTP(S) and S3 operations, in seconds (connect + first byte for
    /// streamed reads). `None`: 60 s.
    pub request_timeout_secs: Option<u64>,
    /// The most bytes [`ObjectStore::get`] reads into memory for one object; a bigger object
    /// is an error, never a partial read. `None`: [`DEFAULT_MAX_GET_BYTES`] (1 GiB); see [`Self::get_cap`].
    pub max_get_bytes: Option<u64>,
}

/// The default cap on whole-object reads ([`ObjectStore::get`]): 1 GiB.
pub const DEFAULT_MAX_GET_BYTES: u64 = 1 << 30;

/// The error of a `get` over the cap: `Unsupported`, naming the object, its size and the cap.
pub(crate) fn too_big(object: &str, size: u64, cap: u64) -> StorageError {
    StorageError::unsupported(format!(
        "get {object}: the object is {size} bytes, over the {cap}-byte cap on whole-object reads \
         (max_get_bytes); read it streamed"
    ))
}

/// The error of a `get` whose body ran past the cap (no length announced): as [`too_big`], the
/// size a lower bound.
pub(crate) fn too_big_at_least(object: &str, read: u64, cap: u64) -> StorageError {
    StorageError::unsupported(format!(
        "get {object}: the object is over {read} bytes, past the {cap}-byte cap on whole-object \
         reads (max_get_bytes); read it streamed"
    ))
}

impl StorageConfig {
    /// A copy with the secret replaced by `***`, for printing.
    pub fn redacted(&self) -> Self {
        let mut c = self.clone();
        if c.s3_secret_access_key.is_some() {
            c.s3_secret_access_key = Some("***".into());
        }
        c
    }

    pub(crate) fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.unwrap_or(60))
    }

    /// The cap on whole-object reads in bytes: [`Self::max_get_bytes`] or the default.
    pub fn get_cap(&self) -> u64 {
        self.max_get_bytes.unwrap_or(DEFAULT_MAX_GET_BYTES)
    }
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.redacted();
        f.debug_struct("StorageConfig")
            .field("s3_endpoint", &c.s3_endpoint)
            .field("s3_region", &c.s3_region)
            .field("s3_force_path_style", &c.s3_force_path_style)
            .field("s3_access_key_id", &c.s3_access_key_id)
            .field("s3_secret_access_key", &c.s3_secret_access_key)
            .field("s3_anonymous", &c.s3_anonymous)
            .field("request_timeout_secs", &c.request_timeout_secs)
            .field("max_get_bytes", &c.max_get_bytes)
            .finish()
    }
}

/// Maps a URI to the store that holds it and the key inside that store.
///
/// - a plain path (absolute or relative to the current directory) or `file:///abs/path`: a
///   [`LocalStore`] rooted at `/`, key = the absolute path without its leading `/`;
/// - `s3://bucket/key`: an [`S3Store`] for `bucket`, key = `key`;
/// - `https://host/path?q` / `http://...`: a read-only [`HttpStore`] for the origin, key = `path?q`.
///
/// A trailing `/` is kept in the key (a prefix for `list`, or a folder to append names to).
/// Errors: `Unsupported` for an unknown scheme or a malformed URI.
pub fn resolve(
    uri: &str,
    cfg: &StorageConfig,
) -> Result<(Arc<dyn ObjectStore>, String), StorageError> {
    if let Some(rest) = uri.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::unsupported(format!(
                "no bucket in s3 uri {uri}"
            )));
        }
        return Ok((Arc::new(S3Store::new(bucket, cfg.clone())), key.to_string()));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let url = url::Url::parse(uri)
            .map_err(|e| StorageError::unsupported(format!("bad url {uri}")).with_source(e))?;
        let origin = url.origin().ascii_serialization();
        let mut key = url.path().trim_start_matches('/').to_string();
        if let Some(q) = url.query() {
            key.push('?');
            key.push_str(q);
        }
        return Ok((Arc::new(HttpStore::new(&origin, cfg)?), key));
    }
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(StorageError::unsupported(format!(
                "file uri needs an absolute path (file:///...): {uri}"
            )));
        }
        std::path::PathBuf::from(rest)
    } else if uri.contains("://") {
        let scheme = uri.split("://").next().unwrap_or_default();
        return Err(StorageError::unsupported(format!(
            "unknown scheme {scheme:?} in {uri}"
        )));
    } else {
        let p = Path::new(uri);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| StorageError::from_io("current directory", e))?
                .join(p)
        }
    };
    let mut key = lexically_normal(&path).to_string_lossy().trim_start_matches('/').to_string();
    if uri.ends_with('/') && !key.ends_with('/') && !key.is_empty() {
        key.push('/');
    }
    Ok((Arc::new(LocalStore::new("/").with_max_get_bytes(cfg.get_cap())), key))
}

/// The store of a folder or prefix (`out`, `/data/out`, `s3://bucket/runs/a`), with keys
/// relative to it: a local folder is a [`LocalStore`] rooted there, anything else a
/// [`RootedStore`] over [`resolve`]'s store. Errors: those of [`resolve`].
pub fn resolve_root(uri: &str, cfg: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let (store, key) = resolve(uri, cfg)?;
    if uri.contains("://") && !uri.starts_with("file://") {
        return Ok(Arc::new(RootedStore::new(store, &key)));
    }
    Ok(Arc::new(LocalStore::new(Path::new("/").join(key.trim_end_matches('/')))))
}

/// `path` with `.` segments dropped and `..` applied lexically (`/a/b/../c` -> `/a/c`), so a
/// relative path like `../shared/data/x` names a valid key. Symlinks are not resolved, as a shell's
/// `cd -L` would not.
fn lexically_normal(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Checks a key: not empty, no `.`/`..` segments, no NUL, no leading `/`. `Unsupported` otherwise.
pub(crate) fn check_key(key: &str) -> Result<(), StorageError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\0')
        || key.split('/').any(|seg| seg == ".." || seg == ".");
    if bad {
        Err(StorageError::unsupported(format!("invalid key {key:?}")))
    } else {
        Ok(())
    }
}

/// Reads a whole `AsyncRead` into memory (helper for tests and small objects).
pub async fn read_all(mut reader: impl AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_local_paths_with_dot_dot_resolve_to_valid_keys() {
        let cwd = std::env::current_dir().unwrap();
        let (_, key) = resolve("../shared/./data/x.jsonl", &StorageConfig::default()).unwrap();
        let expected = cwd.parent().unwrap().join("shared/data/x.jsonl");
        assert_eq!(key, expected.to_string_lossy().trim_start_matches('/'));
        check_key(&key).unwrap();
        let (_, key) = resolve("/a/b/../c/", &StorageConfig::default()).unwrap();
        assert_eq!(key, "a/c/");
    }
}
