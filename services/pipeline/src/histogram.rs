//! Score histogram: tokens and pages per score bucket, and threshold selection.
//!
//! Buckets are spaced evenly in log-odds (`ln(p / (1 - p))`) over `[-LOGIT_RANGE, LOGIT_RANGE]`,
//! so that the dense top of the score range (p close to 1, where a token budget usually cuts) is
//! as finely resolved as the middle. With [`BUCKETS`] = 2,400 a bucket is 0.015 logits wide.
//!
//! A page is **kept** at a selection when `bucket_of(score) >= selection.bucket`: thresholds act
//! at bucket resolution, so the merged histogram, the per-host counts and the corpus always agree
//! on what was kept.

use serde::{Deserialize, Serialize};

/// Number of score buckets.
pub const BUCKETS: usize = 2400;
/// Half-width of the log-odds range covered; scores beyond it fall in the first or last bucket.
pub const LOGIT_RANGE: f64 = 18.0;

/// The bucket of a score `p` in [0, 1] (values outside are clamped; NaN goes to bucket 0).
pub fn bucket_of(score: f32) -> usize {
    bucket_of_f64(score as f64)
}

/// [`bucket_of`] for an `f64` score. A bucket's own lower edge ([`bucket_lower_edge`]) maps back
/// to that bucket: positions are nudged up by 1e-9 of a bucket so rounding never drops a level.
pub fn bucket_of_f64(p: f64) -> usize {
    if p.is_nan() {
        return 0;
    }
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let logit = (p / (1.0 - p)).ln().clamp(-LOGIT_RANGE, LOGIT_RANGE);
    let width = 2.0 * LOGIT_RANGE / BUCKETS as f64;
    (((logit + LOGIT_RANGE) / width + 1e-9) as usize).min(BUCKETS - 1)
}

/// The lowest score that falls in bucket `b`, as a probability (0 for bucket 0).
pub fn bucket_lower_edge(b: usize) -> f64 {
    if b == 0 {
        return 0.0;
    }
    let width = 2.0 * LOGIT_RANGE / BUCKETS as f64;
    let logit = -LOGIT_RANGE + b as f64 * width;
    1.0 / (1.0 + (-logit).exp())
}

/// Pages and tokens per score bucket. Mergeable: shards add up into the iteration's histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Pages per bucket, `BUCKETS` long.
    pub pages: Vec<u64>,
    /// Tokens per bucket, `BUCKETS` long.
    pub tokens: Vec<u64>,
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        Self { pages: vec![0; BUCKETS], tokens: vec![0; BUCKETS] }
    }
}

/// What a threshold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Lowest kept bucket.
    pub bucket: usize,
    /// The score threshold: the lower edge of `bucket`, as a probability.
    pub threshold: f64,
    /// Pages at or above the threshold.
    pub kept_pages: u64,
    /// Tokens at or above the threshold.
    pub kept_tokens: u64,
}

impl ScoreHistogram {
    /// Counts one page of `tokens` tokens with score `score`.
    pub fn add(&mut self, score: f32, tokens: u64) {
        let b = bucket_of(score);
        self.pages[b] += 1;
        self.tokens[b] += tokens;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ScoreHistogram) {
        for b in 0..BUCKETS {
            self.pages[b] += other.pages[b];
            self.tokens[b] += other.tokens[b];
        }
    }

    /// Non-empty buckets as `(bucket, pages, tokens)` rows, the metastore's shape.
    pub fn rows(&self) -> Vec<(i64, i64, i64)> {
        (0..BUCKETS)
            .filter(|&b| self.pages[b] > 0)
            .map(|b| (b as i64, self.pages[b] as i64, self.tokens[b] as i64))
            .collect()
    }

    /// Builds a histogram back from `(bucket, pages, tokens)` rows; rows outside the range are
    /// ignored.
    pub fn from_rows(rows: &[(i64, i64, i64)]) -> Self {
        let mut h = Self::default();
        for &(b, p, t) in rows {
            if (0..BUCKETS as i64).contains(&b) {
                h.pages[b as usize] += p.max(0) as u64;
                h.tokens[b as usize] += t.max(0) as u64;
            }
        }
        h
    }

    /// Total pages.
    pub fn total_pages(&self) -> u64 {
        self.pages.iter().sum()
    }

    /// Total tokens.
    pub fn total_tokens(&self) -> u64 {
        self.tokens.iter().sum()
    }

    /// The selection that keeps every bucket from `bucket` up.
    pub fn select_bucket(&self, bucket: usize) -> Selection {
        let bucket = bucket.min(BUCKETS - 1);
        Selection {
            bucket,
            threshold: bucket_lower_edge(bucket),
            kept_pages: self.pages[bucket..].iter().sum(),
            kept_tokens: self.tokens[bucket..].iter().sum(),
        }
    }

    /// Selection by absolute score: keeps the bucket holding `score` and all above it.
    pub fn select_score(&self, score: f64) -> Selection {
        self.select_bucket(bucket_of_f64(score))
    }

    /// Selection by token budget: the lowest threshold whose kept tokens fit in `budget`.
    /// When even the top bucket exceeds the budget, the top bucket alone is returned (its
    /// `kept_tokens` then exceeds the budget, which the caller reports).
    pub fn select_token_budget(&self, budget: u64) -> Selection {
        let mut kept = 0u64;
        let mut lowest = BUCKETS - 1;
        for b in (0..BUCKETS).rev() {
            if kept + self.tokens[b] > budget {
                break;
            }
            kept += self.tokens[b];
            lowest = b;
        }
        self.select_bucket(lowest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_edges_invert_them() {
        let mut last = 0;
        for i in 1..1000 {
            let p = i as f32 / 1000.0;
            let b = bucket_of(p);
            assert!(b >= last, "bucket must not decrease with the score");
            last = b;
            assert!(bucket_lower_edge(b) <= p as f64 + 1e-6);
            assert!(bucket_lower_edge(b + 1) > p as f64 - 1e-6);
        }
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(1.0), BUCKETS - 1);
        assert_eq!(bucket_of(f32::NAN), 0);
        assert_eq!(bucket_of(0.5), BUCKETS / 2);
        for b in [1, 7, 1000, 1200, 2399] {
            assert_eq!(bucket_of_f64(bucket_lower_edge(b)), b, "an edge belongs to its own bucket");
            let text = bucket_lower_edge(b).to_string();
            assert_eq!(bucket_of_f64(text.parse().unwrap()), b, "and survives printing");
        }
    }

    #[test]
    fn token_budget_is_met_within_one_percent_on_a_spread_of_scores() {
        // 10,000 pages with scores spread over (0, 1) and 100..1100 tokens each.
        let mut h = ScoreHistogram::default();
        let mut state = 12345u64;
        for _ in 0..10_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = ((state >> 11) as f64 / (1u64 << 53) as f64) as f32;
            h.add(u.clamp(0.0001, 0.9999), 100 + (state % 1000));
        }
        let total = h.total_tokens();
        for share in [0.05, 0.2, 0.5] {
            let budget = (total as f64 * share) as u64;
            let s = h.select_token_budget(budget);
            assert!(s.kept_tokens <= budget);
            assert!(s.kept_tokens as f64 >= 0.99 * budget as f64, "{} of {}", s.kept_tokens, budget);
        }
    }

    #[test]
    fn rows_round_trip_and_merge_adds() {
        let mut a = ScoreHistogram::default();
        a.add(0.9, 10);
        a.add(0.1, 5);
        let mut b = ScoreHistogram::from_rows(&a.rows());
        assert_eq!(a, b);
        b.merge(&a);
        assert_eq!(b.total_pages(), 4);
        assert_eq!(b.total_tokens(), 30);
        let s = b.select_score(0.5);
        assert_eq!((s.kept_pages, s.kept_tokens), (2, 20));
    }
}
