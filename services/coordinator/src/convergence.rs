//! Convergence of the loop, as the paper measured it (arXiv 2402.03300 §2.1): after iteration
//! n+1, the share of its kept data that iteration n had already kept. DeepSeekMath stopped when
//! nearly 98% of the data had been collected in the previous iteration.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Iteration n+1 against iteration n, in pages and in tokens (kept = score bucket at or above
/// the iteration's threshold bucket, before corpus deduplication).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Iteration n.
    pub parent: i64,
    /// Pages iteration n kept.
    pub parent_kept_pages: u64,
    /// Pages this iteration kept.
    pub kept_pages: u64,
    /// Tokens this iteration kept.
    pub kept_tokens: u64,
    /// Kept pages iteration n had also kept / kept pages (1 when nothing is kept).
    pub retention_pages: f64,
    /// Kept tokens of pages iteration n had also kept / kept tokens (1 when nothing is kept).
    pub retention_tokens: f64,
    /// Kept pages iteration n had not kept.
    pub new_pages: u64,
    /// Their tokens.
    pub new_tokens: u64,
    /// Pages iteration n kept that this one no longer keeps.
    pub dropped_pages: u64,
}

impl Convergence {
    /// Compares `kept` (this iteration's kept pages: id → tokens) with `parent_kept`.
    pub fn measure(parent: i64, parent_kept: &BTreeMap<String, u64>, kept: &BTreeMap<String, u64>) -> Self {
        let (mut old_pages, mut old_tokens, mut new_pages, mut new_tokens) = (0u64, 0u64, 0u64, 0u64);
        for (id, &tokens) in kept {
            if parent_kept.contains_key(id) {
                old_pages += 1;
                old_tokens += tokens;
            } else {
                new_pages += 1;
                new_tokens += tokens;
            }
        }
        let kept_pages = kept.len() as u64;
        let kept_tokens = old_tokens + new_tokens;
        let share = |part: u64, whole: u64| if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
        Convergence {
            parent,
            parent_kept_pages: parent_kept.len() as u64,
            kept_pages,
            kept_tokens,
            retention_pages: share(old_pages, kept_pages),
            retention_tokens: share(old_tokens, kept_tokens),
            new_pages,
            new_tokens,
            dropped_pages: parent_kept.len() as u64 - old_pages,
        }
    }

    /// Whether both retentions reach `target` (the paper's 0.98).
    pub fn converged(&self, target: f64) -> bool {
        self.retention_pages >= target && self.retention_tokens >= target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: &[(&str, u64)]) -> BTreeMap<String, u64> {
        v.iter().map(|&(k, t)| (k.to_string(), t)).collect()
    }

    #[test]
    fn retention_counts_pages_and_tokens_of_the_new_kept_set() {
        let parent = map(&[("a", 10), ("b", 20), ("c", 30)]);
        let kept = map(&[("a", 10), ("b", 20), ("d", 70)]);
        let c = Convergence::measure(1, &parent, &kept);
        assert_eq!((c.kept_pages, c.kept_tokens, c.new_pages, c.new_tokens, c.dropped_pages), (3, 100, 1, 70, 1));
        assert!((c.retention_pages - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.retention_tokens - 0.30).abs() < 1e-12);
        assert!(!c.converged(0.98));
        assert!(Convergence::measure(1, &parent, &parent).converged(0.98));
        assert_eq!(Convergence::measure(1, &parent, &BTreeMap::new()).retention_pages, 1.0);
    }
}
