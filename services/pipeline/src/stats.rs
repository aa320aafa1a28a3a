//! Mergeable counters: items seen, kept, and skipped by named reason.
//!
//! Every stage counts what it drops under a short, stable, snake_case reason
//! (`truncated_gzip_member`, `not_html`, ...). Counters from shards add up into
//! the iteration's totals, so a skip is never silent.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A map from a counter name to a count. Ordered so reports and JSON are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// Adds `n` to counter `name`.
    pub fn add(&mut self, name: &str, n: u64) {
        if let Some(v) = self.0.get_mut(name) {
            *v += n;
        } else {
            self.0.insert(name.to_string(), n);
        }
    }

    /// Adds one to counter `name`.
    pub fn incr(&mut self, name: &str) {
        self.add(name, 1);
    }

    /// The count of `name`, 0 when never counted.
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds every counter of `other` into `self`.
    pub fn merge(&mut self, other: &Counters) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }

    /// Sum of all counters.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_per_name() {
        let mut a = Counters::default();
        a.incr("not_html");
        a.add("truncated_gzip_member", 2);
        let mut b = Counters::default();
        b.add("not_html", 3);
        a.merge(&b);
        assert_eq!(a.get("not_html"), 4);
        assert_eq!(a.get("truncated_gzip_member"), 2);
        assert_eq!(a.get("absent"), 0);
        assert_eq!(a.total(), 6);
    }
}
