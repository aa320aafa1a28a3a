//! The worker: leases a shard from the metastore, streams it through the pipeline, writes the
//! shard's scored-page and text files to the object store, and commits the shard's aggregates
//! together with its `done` mark (so a shard is never counted twice).
//!
//! - [`shard`]: the CPU part, pure and synchronous: WARC bytes in, scored pages and aggregates out.
//! - [`runner`]: the async lease loop around it.

pub mod runner;
pub mod shard;

pub use runner::{run_worker, WorkerConfig, WorkerError, WorkerSummary};
pub use shard::{grouped, process_shard, process_shard_caught, Progress, ShardContext, ShardFailure, ShardOutput, Step};
