//! Resumable streaming reads: the hot path for shards. A shard of Common Crawl is ~1 GB read over
//! a network that resets connections and throttles (HTTP 503 / S3 `SlowDown`); restarting from
//! byte 0 on each failure would waste the work done. [`ResumableReader`] streams the object and,
//! when a read fails midway, waits (exponential backoff with jitter) and reopens it with a range
//! request *from the byte where it broke*.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::{StorageError, StorageErrorKind};
use crate::object_store::{ObjectReader, ObjectStore};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Failures in a row (without a byte of progress in between) before giving up. A failure
    /// after progress starts the count again, so a long read survives many spread-out resets.
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of one wait.
    pub max_backoff: Duration,
    /// Growth of the wait per consecutive failure (2.0 doubles it).
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    /// 8 attempts, 200 ms doubling up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `failures` (1-based): `initial * multiplier^(failures-1)`,
    /// capped at `max_backoff`, times a uniform jitter in [0.5, 1.0) so that many workers
    /// throttled together do not come back together.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(failures.saturating_sub(1).min(64) as i32);
        let base = (self.initial_backoff.as_secs_f64() * exp).min(self.max_backoff.as_secs_f64());
        let jitter = 0.5 + rand::random::<f64>() * 0.5;
        Duration::from_secs_f64(base * jitter)
    }
}

/// Counters of one resumable read, shared with the reader (clone it before boxing the reader).
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    retries: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl ReadStats {
    /// Reopens after a failure so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Bytes delivered to the caller so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

enum State {
    Reading(ObjectReader),
    Sleeping(Pin<Box<tokio::time::Sleep>>),
    Opening(BoxFuture<'static, Result<ObjectReader, StorageError>>),
    Failed,
}

/// An `AsyncRead` over an object that survives mid-stream failures by resuming at the current
/// offset. Built by [`open_resumable`]. Yields exactly the object's bytes or, once the retry
/// policy is exhausted or the error is final (`NotFound`, `Unauthorized`, `Unsupported`), an
/// `std::io::Error` wrapping the last [`StorageError`].
pub struct ResumableReader {
    store: Arc<dyn ObjectStore>,
    key: Arc<str>,
    policy: RetryPolicy,
    size: u64,
    offset: u64,
    failures: u32,
    stats: ReadStats,
    state: State,
}

impl std::fmt::Debug for ResumableReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumableReader")
            .field("store", &self.store.uri())
            .field("key", &self.key)
            .field("size", &self.size)
            .field("offset", &self.offset)
            .field("retries", &self.stats.retries())
            .finish()
    }
}

/// Opens `key` for a resumable streamed read: asks its size (so that a connection closed early
/// without an error is still noticed) and opens the stream, both with retries.
///
/// Errors: the last [`StorageError`] once `policy` is exhausted, or at once for a final one.
pub async fn open_resumable(
    store: Arc<dyn ObjectStore>,
    key: &str,
    policy: RetryPolicy,
) -> Result<ResumableReader, StorageError> {
    let stats = ReadStats::default();
    let mut failures = 0u32;
    let size = loop {
        match store.size(key).await {
            Ok(n) => break n,
            Err(e) => {
                failures += 1;
                if !e.is_retryable() || failures >= policy.max_attempts {
                    return Err(e);
                }
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(key = %crate::redact::redact_uri(key), error = %crate::error::error_chain(&e), failures, "size failed, retrying");
                tokio::time::sleep(policy.backoff(failures)).await;
            }
        }
    };
    let key: Arc<str> = Arc::from(key);
    let open = reopen(store.clone(), key.clone(), 0);
    Ok(ResumableReader {
        store,
        key,
        policy,
        size,
        offset: 0,
        failures,
        stats,
        state: State::Opening(open),
    })
}

fn reopen(
    store: Arc<dyn ObjectStore>,
    key: Arc<str>,
    offset: u64,
) -> BoxFuture<'static, Result<ObjectReader, StorageError>> {
    Box::pin(async move { store.open_read(&key, offset).await })
}

impl ResumableReader {
    /// The object's size in bytes (from the `size` call at open).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes delivered so far: the offset the next reopen would start at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// A handle on the counters (retries, bytes) that stays valid after the reader is boxed.
    pub fn stats(&self) -> ReadStats {
        self.stats.clone()
    }

    /// Records a failure: schedules a backoff, or gives up with `err`.
    fn fail(&mut self, err: StorageError) -> Result<(), std::io::Error> {
        self.failures += 1;
        if !err.is_retryable() || self.failures >= self.policy.max_attempts {
            self.state = State::Failed;
            tracing::error!(key = %crate::redact::redact_uri(&self.key), offset = self.offset, failures = self.failures, error = %crate::error::error_chain(&err), "giving up");
            return Err(err.into_io());
        }
        let wait = self.policy.backoff(self.failures);
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(key = %crate::redact::redact_uri(&self.key), offset = self.offset, failures = self.failures, wait_ms = wait.as_millis() as u64, error = %crate::error::error_chain(&err), "read failed, resuming");
        self.state = State::Sleeping(Box::pin(tokio::time::sleep(wait)));
        Ok(())
    }
}

impl AsyncRead for ResumableReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Failed => {
                    return Poll::Ready(Err(std::io::Error::other(
                        "resumable read already failed",
                    )));
                }
                State::Sleeping(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    this.state =
                        State::Opening(reopen(this.store.clone(), this.key.clone(), this.offset));
                }
                State::Opening(fut) => match ready!(fut.as_mut().poll(cx)) {
                    Ok(reader) => this.state = State::Reading(reader),
                    Err(e) => this.fail(e)?,
                },
                State::Reading(reader) => {
                    if this.offset >= this.size || buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let before = buf.filled().len();
                    match ready!(Pin::new(reader).poll_read(cx, buf)) {
                        Ok(()) => {
                            let mut n = (buf.filled().len() - before) as u64;
                            if n == 0 {
                                let err = StorageError::new(
                                    StorageErrorKind::Io,
                                    format!(
                                        "{}: stream ended at byte {} of {}",
                                        this.key, this.offset, this.size
                                    ),
                                );
                                this.fail(err)?;
                                continue;
                            }
                            if this.offset + n > this.size {
                                // The object grew under us: deliver only what `size` promised.
                                let keep = (this.size - this.offset) as usize;
                                buf.set_filled(before + keep);
                                n = keep as u64;
                            }
                            this.offset += n;
                            this.failures = 0;
                            this.stats.bytes.fetch_add(n, Ordering::Relaxed);
                            return Poll::Ready(Ok(()));
                        }
                        Err(e) => {
                            let err = StorageError::from_io(
                                format!(
                                    "{}: read failed at byte {} of {}",
                                    this.key, this.offset, this.size
                                ),
                                e,
                            );
                            // A mid-stream NotFound/PermissionDenied from a transport is still a transport error.
                            let err = if err.is_retryable() {
                                err
                            } else {
                                StorageError::new(StorageErrorKind::Io, err.message().to_string())
                                    .with_source(err)
                            };
                            this.fail(err)?;
                        }
                    }
                }
            }
        }
    }
}
