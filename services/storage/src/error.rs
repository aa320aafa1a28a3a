//! The object store's error: a small `Copy` kind that code branches on, plus a message and an
//! optional source that people read.

use std::fmt;

/// What went wrong, coarsely: callers branch on this (retry, skip, give up), never on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageErrorKind {
    /// The object (or bucket) does not exist: HTTP 404, S3 `NoSuchKey`/`NoSuchBucket`, ENOENT.
    NotFound,
    /// Credentials missing, wrong, or not allowed: HTTP 401/403, EACCES.
    Unauthorized,
    /// The operation makes no sense for this backend or input: `put` on `https://`, an unknown
    /// URI scheme, a key that escapes its root, a server that ignores `Range:`.
    Unsupported,
    /// The request or a read timed out.
    Timeout,
    /// Transport or disk failure: connection reset, a body cut short, a local write error.
    Io,
    /// The service answered with an error of its own: HTTP 5xx, 429, S3 `SlowDown`.
    Service,
}

impl StorageErrorKind {
    /// snake_case name, for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthorized => "unauthorized",
            Self::Unsupported => "unsupported",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::Service => "service",
        }
    }
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cause whose text had a credential masked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MaskedCause(String);

/// An object-store failure: its [`StorageErrorKind`], a short lowercase message naming the
/// operation and object, and the underlying cause when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StorageError {
    kind: StorageErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StorageError {
    /// An error of `kind` with `message` and no source. Credentials of any URI in the message
    /// are masked ([`crate::redact::redact_text`]): messages are logged, stored and shown.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: crate::redact::redact_text(&message.into()),
            source: None,
        }
    }

    /// Attaches the underlying cause. A cause whose text carries a URI credential (an HTTP
    /// client's error names the URL it requested) is kept as its masked text instead.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        let text = source.to_string();
        let masked = crate::redact::redact_text(&text);
        self.source = Some(if masked == text { Box::new(source) } else { Box::new(MaskedCause(masked)) });
        self
    }

    /// The kind, to branch on.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// The message (without the kind prefix).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying again may succeed: `Timeout`, `Service` (5xx, throttling) and `Io`
    /// (connection resets and cut bodies; retrying a local disk error is harmless). `NotFound`,
    /// `Unauthorized` and `Unsupported` are final.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            StorageErrorKind::Timeout | StorageErrorKind::Service | StorageErrorKind::Io
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StorageErrorKind::NotFound, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::new(StorageErrorKind::Unsupported, message)
    }

    /// Maps a `std::io::Error` from a local file or a stream, keeping it as the source.
    pub(crate) fn from_io(context: impl Into<String>, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::NotFound => StorageErrorKind::NotFound,
            K::PermissionDenied => StorageErrorKind::Unauthorized,
            K::TimedOut => StorageErrorKind::Timeout,
            _ => StorageErrorKind::Io,
        };
        Self::new(kind, context).with_source(err)
    }

    /// Maps an HTTP status (of an HTTP or S3 response) to a kind.
    pub(crate) fn kind_for_status(status: u16) -> StorageErrorKind {
        match status {
            404 | 410 => StorageErrorKind::NotFound,
            401 | 403 => StorageErrorKind::Unauthorized,
            408 => StorageErrorKind::Timeout,
            416 | 405 | 501 => StorageErrorKind::Unsupported,
            429 | 500..=599 => StorageErrorKind::Service,
            _ => StorageErrorKind::Service,
        }
    }

    /// This error as a `std::io::Error`, for `AsyncRead` adapters.
    pub(crate) fn into_io(self) -> std::io::Error {
        use std::io::ErrorKind as K;
        let kind = match self.kind {
            StorageErrorKind::NotFound => K::NotFound,
            StorageErrorKind::Unauthorized => K::PermissionDenied,
            StorageErrorKind::Timeout => K::TimedOut,
            StorageErrorKind::Unsupported => K::Unsupported,
            StorageErrorKind::Io | StorageErrorKind::Service => K::Other,
        };
        std::io::Error::new(kind, self)
    }
}

/// Joins an error's message and its causes with `": "`, each cause once: a cause whose text
/// the line already holds (an error that prints its source and also returns it from
/// [`std::error::Error::source`], an `anyhow` context that repeats it) is left out, and so is
/// an empty one. `causes` go from the outermost message to the root cause.
///
/// `join_causes(["open out/x.db", "unable to open database file", "unable to open database file"])`
/// is `"open out/x.db: unable to open database file"`.
pub fn join_causes<I, S>(causes: I) -> String
where
    I: IntoIterator<Item = S>,
    S: std::fmt::Display,
{
    let mut line = String::new();
    for cause in causes {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// `err` and every error in its [`std::error::Error::source`] chain, as one line with each
/// cause once ([`join_causes`]): what a person reads where only a `String` can be kept (a
/// shard's failure, a log field), so the root cause (name resolution, a read-only file system)
/// is never lost to a `to_string()` of the outermost error.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    join_causes(std::iter::successors(Some(err), |e| e.source()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_joined_once_each() {
        assert_eq!(join_causes(["a", "b", "b", "", "a: b"]), "a: b");
        let io = std::io::Error::new(std::io::ErrorKind::Other, "Temporary failure in name resolution");
        let e = StorageError::new(StorageErrorKind::Io, "get https://h/x").with_source(io);
        assert_eq!(error_chain(&e), "io: get https://h/x: Temporary failure in name resolution");
    }
}
