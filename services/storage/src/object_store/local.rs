//! A local directory as an object store. Writes go to a hidden temp file beside the target and
//! are renamed into place, so a reader sees the old object or the new one, never half of one.

use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{check_key, too_big, too_big_at_least, ObjectReader, ObjectStore, DEFAULT_MAX_GET_BYTES};
use crate::error::StorageError;

/// Marks in-flight temp files; `list` hides them.
const TMP_MARK: &str = ".cm-tmp-";

/// An object store over a directory: key `a/b.txt` is the file `root/a/b.txt`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    max_get: u64,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write if missing), whole-object reads capped
    /// at [`DEFAULT_MAX_GET_BYTES`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), max_get: DEFAULT_MAX_GET_BYTES }
    }

    /// The same store with whole-object reads ([`ObjectStore::get`]) capped at `bytes`.
    pub fn with_max_get_bytes(mut self, bytes: u64) -> Self {
        self.max_get = bytes;
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn tmp_path(target: &Path) -> PathBuf {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        target.with_file_name(format!(
            "{TMP_MARK}{}-{name}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    async fn ensure_parent(path: &Path) -> Result<(), StorageError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StorageError::from_io(format!("create dir {}", parent.display()), e)
            })?;
        }
        Ok(())
    }

    /// Renames `tmp` onto `target`, removing `tmp` if that fails.
    async fn commit(tmp: &Path, target: &Path) -> Result<(), StorageError> {
        if let Err(e) = tokio::fs::rename(tmp, target).await {
            let _ = tokio::fs::remove_file(tmp).await;
            return Err(StorageError::from_io(
                format!("rename into {}", target.display()),
                e,
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn uri(&self) -> String {
        let s = self.root.to_string_lossy();
        if s.ends_with('/') {
            s.into_owned()
        } else {
            format!("{s}/")
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = self.path(key)?;
        let ctx = || format!("read {}", path.display());
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?
            .len();
        if size > self.max_get {
            return Err(too_big(&path.display().to_string(), size, self.max_get));
        }
        let mut data = Vec::with_capacity(size as usize);
        // A file that grew since its metadata was read is still cut at the cap.
        file.take(self.max_get + 1)
            .read_to_end(&mut data)
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        if data.len() as u64 > self.max_get {
            return Err(too_big_at_least(&path.display().to_string(), self.max_get, self.max_get));
        }
        Ok(Bytes::from(data))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        let path = self.path(key)?;
        let ctx = || {
            format!(
                "read {} bytes {}..{}",
                path.display(),
                range.start,
                range.end
            )
        };
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        let mut buf = Vec::with_capacity((range.end - range.start).min(64 << 20) as usize);
        file.take(range.end - range.start)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        Ok(Bytes::from(buf))
    }

    async fn open_read(&self, key: &str, start: u64) -> Result<ObjectReader, StorageError> {
        let path = self.path(key)?;
        let ctx = || format!("open {} at {start}", path.display());
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StorageError::from_io(ctx(), e))?;
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| StorageError::from_io(ctx(), e))?;
        }
        Ok(Box::new(tokio::io::BufReader::with_capacity(
            256 << 10,
            file,
        )))
    }

    async fn size(&self, key: &str) -> Result<u64, StorageError> {
        let path = self.path(key)?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| StorageError::from_io(format!("stat {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(StorageError::not_found(format!(
                "{} is not a file",
                path.display()
            )));
        }
        Ok(meta.len())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = self.path(key)?;
        Self::ensure_parent(&path).await?;
        let tmp = Self::tmp_path(&path);
        let write = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(&bytes).await?;
            f.sync_all().await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StorageError::from_io(format!("write {}", tmp.display()), e));
        }
        Self::commit(&tmp, &path).await
    }

    async fn put_file(&self, key: &str, src: &Path) -> Result<(), StorageError> {
        let path = self.path(key)?;
        Self::ensure_parent(&path).await?;
        let tmp = Self::tmp_path(&path);
        if let Err(e) = tokio::fs::copy(src, &tmp).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StorageError::from_io(
                format!("copy {} to {}", src.display(), tmp.display()),
                e,
            ));
        }
        Self::commit(&tmp, &path).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        if prefix.starts_with('/') || prefix.split('/').any(|s| s == "..") {
            return Err(StorageError::unsupported(format!(
                "invalid prefix {prefix:?}"
            )));
        }
        // Walk the deepest directory the prefix names, then filter by the full prefix.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i + 1],
            None => "",
        };
        let mut out = Vec::new();
        let mut stack = vec![(self.root.join(dir_part), dir_part.to_string())];
        while let Some((dir, rel)) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StorageError::from_io(format!("list {}", dir.display()), e)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| StorageError::from_io(format!("list {}", dir.display()), e))?
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = format!("{rel}{name}");
                let ft = entry.file_type().await.map_err(|e| {
                    StorageError::from_io(format!("stat {}", entry.path().display()), e)
                })?;
                if ft.is_dir() {
                    let sub = format!("{key}/");
                    // Only descend where the prefix can still match.
                    if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                        stack.push((entry.path(), sub));
                    }
                } else if !name.starts_with(TMP_MARK) && key.starts_with(prefix) {
                    out.push(key);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::from_io(
                format!("delete {}", path.display()),
                e,
            )),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::from_io(format!("stat {}", path.display()), e)),
        }
    }
}
