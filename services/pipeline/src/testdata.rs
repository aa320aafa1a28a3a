//! Locating `../shared/data`, the real crawl data and labelled pages that tests and benches read.
//!
//! Tests never copy that data into the repository: they read it by path and skip, with a printed
//! reason, when it is absent; under CI (`CI` set to anything but `false`/`0`) a missing fixture
//! fails the test instead, so CI never passes by skipping.

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

/// What `dir` lacks to be the shared data folder that needs `needs` (paths relative to it):
/// `"does not exist"`, `"is not a folder"`, `"lacks PROVENANCE.md, minicrawl"`; `None` when
/// it holds all of them.
pub fn data_dir_lacks(dir: &Path, needs: &[&str]) -> Option<String> {
    if !dir.exists() {
        return Some("does not exist".into());
    }
    if !dir.is_dir() {
        return Some("is not a folder".into());
    }
    let missing: Vec<&str> = needs.iter().copied().filter(|n| !dir.join(n).exists()).collect();
    (!missing.is_empty()).then(|| format!("lacks {}", missing.join(", ")))
}

/// Whether this process runs under CI: `CI` is set and is not `false` or `0` (`.ci/run` sets
/// `CI=true`). Under CI a test whose fixture or service is missing fails; it never skips.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "false" | "0"))
}

/// A test fixture or service `what` is missing: panics under CI ([`under_ci`]), else prints
/// why the test is skipped and returns `None`.
pub fn missing<T>(what: &str) -> Option<T> {
    if under_ci() {
        panic!("CI is set, so this test may not skip, but {what}");
    }
    eprintln!("skipped: {what}");
    None
}

/// [`shared_data_dir_from`] starting at this crate's manifest directory. When absent: `None`
/// with the reason printed, or a panic under CI ([`missing`]).
pub fn shared_data_dir() -> Option<PathBuf> {
    match shared_data_dir_from(Path::new(env!("CARGO_MANIFEST_DIR"))) {
        Some(dir) => Some(dir),
        None => missing(&match std::env::var_os("CORPUSMINER_SHARED_DATA") {
            Some(v) => format!(
                "CORPUSMINER_SHARED_DATA={} {} (point it at the shared `data` folder, the one holding PROVENANCE.md)",
                PathBuf::from(&v).display(),
                data_dir_lacks(Path::new(&v), &["PROVENANCE.md"]).unwrap_or_default()
            ),
            None => "../shared/data was not found beside the checkout (set CORPUSMINER_SHARED_DATA to the shared `data` folder)".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_fixture_fails_under_ci_and_skips_elsewhere() {
        // Only the decision is tested here (the environment is the process's, shared by threads).
        let skip = std::panic::catch_unwind(|| missing::<()>("fixture x is absent"));
        if under_ci() {
            let msg = skip.expect_err("must panic under CI");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("fixture x is absent"), "{msg}");
        } else {
            assert_eq!(skip.ok(), Some(None));
        }
    }
}
