//! Fault injection for kill-and-resume tests: `CORPUSMINER_FAULT=<point>[:<n>]` makes the
//! process abort (no destructors, no cleanup: what a SIGKILL leaves) the `n`-th time (default
//! the first) it reaches the named point. Points are the iteration states as they start
//! (`training`, `scoring`, …) and a few places inside a step (`model_stored`,
//! `shard_leased`, `shard_completed`, `corpus_written`). Unset, a point costs one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the fault point.
pub const FAULT_ENV: &str = "CORPUSMINER_FAULT";

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> &'static Option<(String, u64)> {
    TARGET.get_or_init(|| {
        let spec = std::env::var(FAULT_ENV).ok()?;
        let (point, n) = match spec.split_once(':') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        };
        Some((point, n.max(1)))
    })
}

/// Panics (an ordinary panic, caught where the code catches panics) if `CORPUSMINER_FAULT`
/// names `point` and this is its `n`-th hit: how the tests make a shard's processing panic.
pub fn panic_point(point: &str) {
    if let Some((target, n)) = target() {
        if target == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            panic!("fault injected at {point} ({FAULT_ENV})");
        }
    }
}

/// Aborts the process if `CORPUSMINER_FAULT` names `point` and this is its `n`-th hit.
pub fn point(point: &str) {
    if let Some((target, n)) = target() {
        if target == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            eprintln!("corpusminer: fault injected at {point} ({FAULT_ENV}); aborting");
            std::process::abort();
        }
    }
}
