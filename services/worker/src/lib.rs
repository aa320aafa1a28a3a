//! The worker: leases a shard from its control plane, streams it through the pipeline, writes the
//! shard's scored-page and text files to the object store, and commits the shard's aggregates
//! together with its `done` mark (so a shard is never counted twice).
//!
//! - [`shard`]: the CPU part, pure and synchronous: WARC bytes in, scored pages and aggregates out.
//! - [`runner`]: the async lease loop around it, with heartbeats.
//! - [`queue`]: what the loop needs from the control plane ([`ShardQueue`]), implemented by the
//!   metastore.

pub mod queue;
pub mod runner;
pub mod shard;

pub use queue::{Heartbeat, QueueError, ShardQueue};
pub use runner::{run_worker, WorkerConfig, WorkerError, WorkerSummary};
pub use shard::{grouped, process_shard, process_shard_caught, Progress, ShardContext, ShardFailure, ShardOutput, Step};
