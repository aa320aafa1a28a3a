//! Integration tests of corpusminer-storage against real services: the local filesystem, an
//! `s3s-fs` server, an axum HTTP server with injected faults, SQLite and PostgreSQL.

mod metastore;
mod object_store;
mod limits;
mod resumable;

use std::path::PathBuf;

/// The dev minicrawl shard (real WARC bytes), or `None` (printed) when the shared data is absent.
pub fn minicrawl_shard() -> Option<(PathBuf, Vec<u8>)> {
    let dir = corpusminer_pipeline::testdata::shared_data_dir()?;
    let path = dir.join("minicrawl").join("MINICRAWL-dev-00000.warc.gz");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Some((path, data))
}
