//! Steps 3 and 4 of the paper's loop: a threshold from the merged score histogram, then each
//! host's kept ratio at that threshold; hosts above the ratio (10% in the paper) are proposed
//! for annotation.

use corpusminer_pipeline::histogram::{ScoreHistogram, Selection};
use corpusminer_storage::metastore::HostCount;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// Keep the top pages whose tokens fit this many tokens.
    TokenBudget(u64),
    /// Keep pages scoring at least this.
    Threshold(f64),
    /// No flag given: the threshold the classifier's validation split chose (never page labels).
    Default(f64),
}

/// Applies `selector` to `histogram`.
pub fn select(histogram: &ScoreHistogram, selector: Selector) -> Selection {
    match selector {
        Selector::TokenBudget(n) => histogram.select_token_budget(n),
        Selector::Threshold(s) | Selector::Default(s) => histogram.select_score(s),
    }
}

/// One host's pages at the iteration's threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStat {
    /// Host (the domain of the 10% rule).
    pub host: String,
    /// Its registrable domain.
    pub domain: String,
    /// Pages scored.
    pub pages: u64,
    /// Pages kept.
    pub kept_pages: u64,
    /// Tokens scored.
    pub tokens: u64,
    /// Tokens kept.
    pub kept_tokens: u64,
    /// kept_pages / pages.
    pub ratio: f64,
    /// The languages of the host's pages, most pages first: (ISO 639-1 code, pages). Empty in
    /// reports written before languages were identified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<(String, u64)>,
}

impl HostStat {
    /// The language most of the host's pages are in (`und` when none is known).
    pub fn main_language(&self) -> &str {
        self.languages.first().map_or(corpusminer_pipeline::lang::UNDETERMINED, |(l, _)| l.as_str())
    }
}

/// Fills each host's [`HostStat::languages`] from the metastore's per-host language counts.
pub fn add_languages(stats: &mut [HostStat], by_host: &BTreeMap<String, Vec<(String, i64)>>) {
    for h in stats {
        if let Some(langs) = by_host.get(&h.host) {
            h.languages = langs.iter().map(|(l, n)| (l.clone(), (*n).max(0) as u64)).collect();
        }
    }
}

impl From<&HostCount> for HostStat {
    fn from(h: &HostCount) -> Self {
        let pages = h.pages.max(0) as u64;
        let kept = h.kept_pages.max(0) as u64;
        HostStat {
            host: h.host.clone(),
            domain: h.domain.clone(),
            pages,
            kept_pages: kept,
            tokens: h.tokens.max(0) as u64,
            kept_tokens: h.kept_tokens.max(0) as u64,
            ratio: if pages == 0 { 0.0 } else { kept as f64 / pages as f64 },
            languages: Vec::new(),
        }
    }
}

/// Host statistics sorted by kept pages, then ratio, then name (stable for reports and tests).
pub fn host_stats(counts: &[HostCount]) -> Vec<HostStat> {
    let mut stats: Vec<HostStat> = counts.iter().map(HostStat::from).collect();
    stats.sort_by(|a, b| {
        b.kept_pages
            .cmp(&a.kept_pages)
            .then(b.ratio.total_cmp(&a.ratio))
            .then(a.host.cmp(&b.host))
    });
    stats
}

/// Hosts whose kept ratio is above `min_ratio` (strictly, as the paper's "more than 10%").
pub fn proposals(stats: &[HostStat], min_ratio: f64) -> Vec<HostStat> {
    stats.iter().filter(|h| h.ratio > min_ratio).cloned().collect()
}

/// The registrable-domain roll-up of host statistics, sorted like [`host_stats`].
pub fn domain_rollup(stats: &[HostStat]) -> Vec<HostStat> {
    let mut by: BTreeMap<&str, HostStat> = BTreeMap::new();
    for h in stats {
        let d = by.entry(&h.domain).or_insert_with(|| HostStat {
            host: h.domain.clone(),
            domain: h.domain.clone(),
            pages: 0,
            kept_pages: 0,
            tokens: 0,
            kept_tokens: 0,
            ratio: 0.0,
            languages: Vec::new(),
        });
        d.pages += h.pages;
        for (lang, n) in &h.languages {
            match d.languages.iter_mut().find(|(l, _)| l == lang) {
                Some(e) => e.1 += n,
                None => d.languages.push((lang.clone(), *n)),
            }
        }
        d.kept_pages += h.kept_pages;
        d.tokens += h.tokens;
        d.kept_tokens += h.kept_tokens;
    }
    let mut out: Vec<HostStat> = by.into_values().collect();
    for d in &mut out {
        d.languages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    for d in &mut out {
        d.ratio = if d.pages == 0 { 0.0 } else { d.kept_pages as f64 / d.pages as f64 };
    }
    out.sort_by(|a, b| b.kept_pages.cmp(&a.kept_pages).then(b.ratio.total_cmp(&a.ratio)).then(a.host.cmp(&b.host)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(host: &str, domain: &str, pages: i64, kept: i64) -> HostCount {
        HostCount { host: host.into(), domain: domain.into(), pages, tokens: pages * 100, kept_pages: kept, kept_tokens: kept * 100 }
    }

    #[test]
    fn proposals_use_a_strict_ratio_and_roll_up_by_domain() {
        let counts = vec![
            hc("math.stackexchange.com", "stackexchange.com", 100, 60),
            hc("cooking.stackexchange.com", "stackexchange.com", 100, 10),
            hc("news.example.com", "example.com", 50, 0),
        ];
        let stats = host_stats(&counts);
        assert_eq!(stats[0].host, "math.stackexchange.com");
        assert!((stats[0].ratio - 0.6).abs() < 1e-12);
        let p = proposals(&stats, 0.10);
        assert_eq!(p.len(), 1, "exactly 10% is not more than 10%");
        let domains = domain_rollup(&stats);
        assert_eq!(domains[0].host, "stackexchange.com");
        assert_eq!((domains[0].pages, domains[0].kept_pages), (200, 70));
    }

    #[test]
    fn selectors_map_to_histogram_selections() {
        let mut h = ScoreHistogram::default();
        h.add(0.99, 100);
        h.add(0.6, 100);
        h.add(0.01, 100);
        assert_eq!(select(&h, Selector::TokenBudget(150)).kept_pages, 1);
        assert_eq!(select(&h, Selector::TokenBudget(200)).kept_pages, 2);
        assert_eq!(select(&h, Selector::Threshold(0.5)).kept_pages, 2);
        assert_eq!(select(&h, Selector::Default(0.995)).kept_pages, 0);
    }
}
