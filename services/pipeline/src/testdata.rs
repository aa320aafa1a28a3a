//! Locating `../shared/data`, the real crawl data and labelled pages that tests and benches read.
//!
//! Tests never copy that data into the repository: they read it by path and skip, with a printed
//! reason, when it is absent.

use std::path::{Path, PathBuf};

/// The shared data folder: `$CORPUSMINER_SHARED_DATA` when set, else the first `shared/data`
/// (holding `PROVENANCE.md`) found beside `start` or any of its ancestors. `None` when absent.
pub fn shared_data_dir_from(start: &Path) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CORPUSMINER_SHARED_DATA") {
        let dir = PathBuf::from(dir);
        return dir.join("PROVENANCE.md").is_file().then_some(dir);
    }
    start
        .ancestors()
        .map(|a| a.join("shared").join("data"))
        .find(|d| d.join("PROVENANCE.md").is_file())
}

/// [`shared_data_dir_from`] starting at this crate's manifest directory, printing why when absent
/// so a skipped test says so.
pub fn shared_data_dir() -> Option<PathBuf> {
    let found = shared_data_dir_from(Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!("skipped: ../shared/data not found (set CORPUSMINER_SHARED_DATA to point at it)");
    }
    found
}
