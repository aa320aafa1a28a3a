//! An S3 bucket (or an S3-compatible server: MinIO, s3s-fs, Ceph) as an object store, with
//! `aws-sdk-s3`. The client is built lazily on first use so that [`super::resolve`] stays sync.

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{check_key, too_big, too_big_at_least, ObjectReader, ObjectStore, StorageConfig};
use crate::error::{StorageError, StorageErrorKind};

/// One bucket: key `a/b` is `s3://{bucket}/a/b`.
#[derive(Debug)]
pub struct S3Store {
    bucket: String,
    cfg: StorageConfig,
    client: OnceCell<Client>,
}

/// Whether the environment names AWS credentials anywhere the default chain looks.
fn env_has_credentials() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("AWS_ACCESS_KEY_ID")
        || set("AWS_PROFILE")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    {
        return true;
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let shared = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    shared.is_some_and(|p| p.is_file()) || config.is_some_and(|p| p.is_file())
}

impl S3Store {
    /// A store for `bucket`; nothing is contacted until the first operation.
    pub fn new(bucket: &str, cfg: StorageConfig) -> Self {
        Self {
            bucket: bucket.to_string(),
            cfg,
            client: OnceCell::new(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client (built on first call): endpoint override and path-style addressing for
    /// S3-compatible servers, explicit keys, the AWS default chain, or no signing at all.
    pub async fn client(&self) -> &Client {
        self.client.get_or_init(|| build_client(&self.cfg)).await
    }
}

async fn build_client(cfg: &StorageConfig) -> Client {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let endpoint = cfg
        .s3_endpoint
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    let region = cfg
        .s3_region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(cfg.request_timeout())
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new(region))
        .timeout_config(timeouts);
    if let (Some(id), Some(secret)) = (&cfg.s3_access_key_id, &cfg.s3_secret_access_key) {
        loader = loader.credentials_provider(Credentials::new(
            id,
            secret,
            None,
            None,
            "corpusminer-config",
        ));
    } else if cfg.s3_anonymous || !env_has_credentials() {
        loader = loader.no_credentials();
    }
    let shared = loader.load().await;
    let mut b = aws_sdk_s3::config::Builder::from(&shared)
        // S3-compatible servers vary in support for the newer default checksums.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        // Retries of whole requests are the SDK's; resumption of cut streams is `resumable`'s.
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(3));
    if let Some(ep) = &endpoint {
        b = b.endpoint_url(ep);
    }
    if endpoint.is_some() || cfg.s3_force_path_style {
        b = b.force_path_style(true);
    }
    Client::from_conf(b.build())
}

/// Maps an SDK error to a kind: service errors by HTTP status and code, timeouts, the rest `Io`.
fn map_sdk<E>(
    what: String,
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::TimeoutError(_) => StorageErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => StorageErrorKind::Timeout,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => StorageErrorKind::Io,
        SdkError::ServiceError(s) => match s.err().code() {
            Some("NoSuchKey" | "NoSuchBucket" | "NotFound") => StorageErrorKind::NotFound,
            Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                StorageErrorKind::Unauthorized
            }
            Some("SlowDown" | "Throttling" | "RequestTimeout") => StorageErrorKind::Service,
            _ => StorageError::kind_for_status(s.raw().status().as_u16()),
        },
        _ => StorageErrorKind::Service,
    };
    let detail = match &err {
        SdkError::ServiceError(s) => {
            format!(
                " ({} {})",
                s.raw().status().as_u16(),
                s.err().code().unwrap_or("no code")
            )
        }
        _ => String::new(),
    };
    StorageError::new(kind, format!("{what}{detail}")).with_source(err)
}

fn is_416<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.raw().status().as_u16() == 416)
}

#[async_trait]
impl ObjectStore for S3Store {
    fn uri(&self) -> String {
        format!("s3://{}/", self.bucket)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        check_key(key)?;
        let what = format!("get s3://{}/{key}", self.bucket);
        let out = self
            .client()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_sdk(what.clone(), e))?;
        let cap = self.cfg.get_cap();
        let object = format!("s3://{}/{key}", self.bucket);
        let announced = out.content_length.unwrap_or(0).max(0) as u64;
        if announced > cap {
            return Err(too_big(&object, announced, cap));
        }
        let mut body = out.body;
        let mut data = bytes::BytesMut::with_capacity(announced as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| StorageError::new(StorageErrorKind::Io, what.clone()).with_source(e))?;
            if (data.len() + chunk.len()) as u64 > cap {
                return Err(too_big_at_least(&object, cap, cap));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data.freeze())
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        check_key(key)?;
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let what = format!(
            "get s3://{}/{key} bytes {}..{}",
            self.bucket, range.start, range.end
        );
        let out = self
            .client()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // 416: the range starts at or past the end; clipped as HTTP would, that is no bytes.
            Err(e) if is_416(&e) && self.size(key).await? <= range.start => return Ok(Bytes::new()),
            Err(e) => return Err(map_sdk(what, e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StorageError::new(StorageErrorKind::Io, what).with_source(e))?;
        Ok(body.into_bytes())
    }

    async fn open_read(&self, key: &str, start: u64) -> Result<ObjectReader, StorageError> {
        check_key(key)?;
        let what = format!("open s3://{}/{key} at {start}", self.bucket);
        let mut req = self
            .client()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key);
        if start > 0 {
            req = req.range(format!("bytes={start}-"));
        }
        match req.send().await {
            Ok(out) => Ok(Box::new(out.body.into_async_read())),
            // 416: `start` is at (or past) the end; at the end that is an empty read, not an error.
            Err(e) if start > 0 && is_416(&e) && self.size(key).await? <= start => {
                Ok(Box::new(tokio::io::empty()))
            }
            Err(e) => Err(map_sdk(what, e)),
        }
    }

    async fn size(&self, key: &str) -> Result<u64, StorageError> {
        check_key(key)?;
        let what = format!("head s3://{}/{key}", self.bucket);
        let out = self
            .client()
            .await
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_sdk(what.clone(), e))?;
        out.content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                StorageError::new(
                    StorageErrorKind::Service,
                    format!("{what}: no content-length"),
                )
            })
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        check_key(key)?;
        let what = format!("put s3://{}/{key}", self.bucket);
        self.client()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| map_sdk(what, e))?;
        Ok(())
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<(), StorageError> {
        check_key(key)?;
        let what = format!("put {} to s3://{}/{key}", path.display(), self.bucket);
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StorageError::new(StorageErrorKind::Io, what.clone()).with_source(e))?;
        self.client()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(|e| map_sdk(what, e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let what = format!("list s3://{}/{prefix}", self.bucket);
        let client = self.client().await;
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = client.list_objects_v2().bucket(&self.bucket).prefix(prefix);
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let out = req.send().await.map_err(|e| map_sdk(what.clone(), e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        let what = format!("delete s3://{}/{key}", self.bucket);
        match self
            .client()
            .await
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = map_sdk(what, e);
                if e.kind() == StorageErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.size(key).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}
