//! corpusminer storage: where bytes and rows live.
//!
//! - [`object_store`]: one async [`ObjectStore`] trait over a local directory, `s3://` buckets
//!   (AWS or S3-compatible) and read-only `https://`, with [`resolve`] mapping a URI to a store.
//! - [`resumable`]: streamed reads of shards that resume at the byte where a connection broke.
//! - [`metastore`]: iterations, shard leases and per-shard aggregates in SQLite (embedded
//!   default) or PostgreSQL, via sqlx with embedded migrations (`/migrations`).
//! - [`redact`]: credentials (userinfo passwords, signed-URL query parameters) out of URIs
//!   before they are logged, stored or shown.
//! - [`fault`]: `CORPUSMINER_FAULT`, the abort points of the kill-and-resume tests.
//! - [`testing`]: real-service test harness (an `s3s-fs` server, a fresh Postgres database).

pub mod error;
pub mod fault;
pub mod metastore;
pub mod object_store;
pub mod redact;
pub mod resumable;
pub mod testing;

pub use error::{error_chain, join_causes, StorageError, StorageErrorKind};
pub use metastore::{
    ApiToken, Backend, HostBucket, HostCount, Iteration, IterationLease, IterationState, Lease, Metastore, MetastoreError, Role,
    ShardCounts, ShardResult, ShardRow,
};
pub use object_store::{resolve, resolve_root, HttpStore, LocalStore, ObjectStore, RootedStore, S3Store, StorageConfig, DEFAULT_MAX_GET_BYTES};
pub use redact::{redact_json, redact_text, redact_uri};
pub use resumable::{open_resumable, ReadStats, ResumableReader, RetryPolicy};
