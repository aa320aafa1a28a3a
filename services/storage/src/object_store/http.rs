//! A read-only object store over HTTP(S) (e.g. `https://data.commoncrawl.org/`): `GET`, ranged
//! `GET` with a `Range: bytes=a-b` header (RFC 9110 §14), streamed reads, size from `HEAD`'s
//! `Content-Length`. Writes answer `Unsupported`. A server that ignores `Range` (200 with the
//! whole body) costs only the bytes up to the range's end: the connection is dropped there.

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::header::{CONTENT_LENGTH, RANGE};
use reqwest::StatusCode;

use super::{too_big, too_big_at_least, ObjectReader, ObjectStore, StorageConfig};
use crate::error::{StorageError, StorageErrorKind};

/// An HTTP(S) origin as a read-only store: key `a/b?c` is `{origin}/a/b?c`.
#[derive(Debug, Clone)]
pub struct HttpStore {
    base: String,
    client: reqwest::Client,
    max_get: u64,
}

impl HttpStore {
    /// A store for `base` (`https://host[:port]`, with or without a trailing `/`).
    /// Errors: `Unsupported` when the HTTP client cannot be built.
    pub fn new(base: &str, cfg: &StorageConfig) -> Result<Self, StorageError> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(cfg.request_timeout())
            .user_agent(concat!("corpusminer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StorageError::unsupported("build http client").with_source(e))?;
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(Self { base, client, max_get: cfg.get_cap() })
    }

    fn url(&self, key: &str) -> String {
        format!("{}{}", self.base, key.trim_start_matches('/'))
    }

    fn read_only(&self, op: &str, key: &str) -> StorageError {
        StorageError::unsupported(format!("{op} {}: http stores are read-only", self.url(key)))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, StorageError> {
        let resp = req.send().await.map_err(|e| map_reqwest(what, e))?;
        let status = resp.status();
        if status.is_success() {
            Ok(resp)
        } else {
            Err(StorageError::new(
                StorageError::kind_for_status(status.as_u16()),
                format!("{what}: the server answered http {status}"),
            ))
        }
    }
}

/// Maps a transport error: timeouts to `Timeout`, the rest (connect, reset, cut body) to `Io`.
/// The client's error becomes the source without its URL (`what` names it already), so the
/// causes below it (connect, name resolution) read once, after the operation and URL.
fn map_reqwest(what: &str, e: reqwest::Error) -> StorageError {
    let kind = if e.is_timeout() {
        StorageErrorKind::Timeout
    } else if let Some(s) = e.status() {
        StorageError::kind_for_status(s.as_u16())
    } else {
        StorageErrorKind::Io
    };
    StorageError::new(kind, what.to_string()).with_source(e.without_url())
}

/// The object's total size from a `Content-Range: bytes a-b/TOTAL` header (RFC 9110 §14.4).
fn content_range_total(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    v.rsplit_once('/')?.1.trim().parse().ok()
}

#[async_trait]
impl ObjectStore for HttpStore {
    fn uri(&self) -> String {
        self.base.clone()
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let url = self.url(key);
        let what = format!("get {url}");
        let mut resp = self.send(self.client.get(&url), &what).await?;
        let cap = self.max_get;
        let announced = resp.content_length().unwrap_or(0);
        if announced > cap {
            return Err(too_big(&url, announced, cap));
        }
        let mut data = bytes::BytesMut::with_capacity(announced as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| map_reqwest(&what, e))? {
            if (data.len() + chunk.len()) as u64 > cap {
                return Err(too_big_at_least(&url, cap, cap));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data.freeze())
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let url = self.url(key);
        let what = format!("get {} bytes {}..{}", crate::redact::redact_uri(&url), range.start, range.end);
        let req = self
            .client
            .get(&url)
            .header(RANGE, format!("bytes={}-{}", range.start, range.end - 1));
        let mut resp = self.send(req, &what).await?;
        if resp.status() == StatusCode::PARTIAL_CONTENT {
            return resp.bytes().await.map_err(|e| map_reqwest(&what, e));
        }
        // 200: the server ignored Range and sends the whole object. Skip to the range, keep
        // it, and drop the response once it is read (closing the connection), so memory and
        // transfer stop at `range.end` whatever the object's size.
        let want = (range.end - range.start).min(64 << 20) as usize;
        let mut out = bytes::BytesMut::with_capacity(want);
        let mut at = 0u64;
        while at < range.end {
            let Some(chunk) = resp.chunk().await.map_err(|e| map_reqwest(&what, e))? else {
                break;
            };
            let end = at + chunk.len() as u64;
            let (from, to) = (range.start.max(at), range.end.min(end));
            if from < to {
                out.extend_from_slice(&chunk[(from - at) as usize..(to - at) as usize]);
            }
            at = end;
        }
        drop(resp);
        Ok(out.freeze())
    }

    async fn open_read(&self, key: &str, start: u64) -> Result<ObjectReader, StorageError> {
        let url = self.url(key);
        let what = format!("open {} at {start}", crate::redact::redact_uri(&url));
        let mut req = self.client.get(&url);
        if start > 0 {
            req = req.header(RANGE, format!("bytes={start}-"));
        }
        let resp = match self.send(req, &what).await {
            Ok(resp) => resp,
            // 416: `start` is at (or past) the end; at the end that is an empty read.
            Err(e)
                if start > 0
                    && e.message().ends_with("416 Range Not Satisfiable")
                    && self.size(key).await? <= start =>
            {
                return Ok(Box::new(tokio::io::empty()));
            }
            Err(e) => return Err(e),
        };
        if start > 0 && resp.status() != StatusCode::PARTIAL_CONTENT {
            return Err(StorageError::unsupported(format!(
                "{what}: server ignored the range request"
            )));
        }
        let stream = resp.bytes_stream().map_err(move |e| {
            let kind = if e.is_timeout() {
                std::io::ErrorKind::TimedOut
            } else {
                std::io::ErrorKind::Other
            };
            std::io::Error::new(kind, e)
        });
        Ok(Box::new(tokio_util::io::StreamReader::new(stream)))
    }

    async fn size(&self, key: &str) -> Result<u64, StorageError> {
        let url = self.url(key);
        let what = format!("head {}", crate::redact::redact_uri(&url));
        let resp = self.send(self.client.head(&url), &what).await?;
        let length = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        if let Some(n) = length {
            return Ok(n);
        }
        // No Content-Length on HEAD (a chunked or dynamic answer): the total of a one-byte
        // range request's Content-Range. Without either the size is unknown, which a retry
        // does not change: `Unsupported`, final.
        let what = format!("get {} bytes 0..1", crate::redact::redact_uri(&url));
        let resp = self.send(self.client.get(&url).header(RANGE, "bytes=0-0"), &what).await?;
        let total = match resp.status() {
            StatusCode::PARTIAL_CONTENT => content_range_total(&resp),
            _ => resp.content_length(),
        };
        drop(resp);
        total.ok_or_else(|| {
            StorageError::unsupported(format!(
                "head {}: the server sends no Content-Length (nor a Content-Range total for a \
                 range request), and a shard's size is needed to resume a broken read",
                crate::redact::redact_uri(&url)
            ))
        })
    }

    async fn put(&self, key: &str, _bytes: Bytes) -> Result<(), StorageError> {
        Err(self.read_only("put", key))
    }

    async fn put_file(&self, key: &str, _path: &Path) -> Result<(), StorageError> {
        Err(self.read_only("put", key))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        Err(self.read_only("list", prefix))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        Err(self.read_only("delete", key))
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.size(key).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}
