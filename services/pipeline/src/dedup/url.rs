//! URL normalisation and exact URL dedup, the first dedup step of the pool (arXiv 2402.03300
//! §2.1: "Common Crawl after URL dedup and near-dedup").
//!
//! Two URLs that differ only in ways a server ignores (scheme/host case, a default port, the
//! fragment, parameter order, tracking parameters, a trailing slash) name the same page and get
//! the same [`normalize_url`] key. The host is kept as it is (a leading `www.` is *not* dropped:
//! `www.example.com` and `example.com` may serve different sites), and so is the scheme.

use super::DedupError;
use crate::stats::Counters;
use std::collections::HashMap;

/// Query parameters dropped by [`normalize_url`] (matched case-insensitively): click and
/// campaign trackers and session ids, which change per visit and never select content.
/// Any parameter starting with `utm_` is dropped as well.
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gclsrc",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wickedid",
    "ref_src",
    "sessionid",
    "session_id",
    "sid",
    "phpsessid",
    "jsessionid",
    "aspsessionid",
    "cfid",
    "cftoken",
];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The dedup key of a page URL (WHATWG URL parsing via the `url` crate, then these rules):
///
/// - surrounding whitespace and wget-style `<...>` wrapping are removed;
/// - scheme and host are lowercased, IDNA hosts become punycode, a trailing dot of the host is
///   dropped, the scheme's default port is dropped (all by the URL Standard's parser, plus the dot);
/// - `.`/`..` path segments are resolved, `;jsessionid=...`-style path parameters removed;
/// - a trailing `/` is dropped from any path but the root (`/a/` == `/a`; `/` stays);
/// - the fragment is dropped;
/// - query parameters named in [`TRACKING_PARAMS`] or starting with `utm_` are dropped, the rest
///   sorted by name then value (stable form-urlencoded); an empty query leaves no `?`.
///
/// Idempotent: `normalize_url(&normalize_url(u)?) == normalize_url(u)`.
///
/// Errors: [`DedupError::BadUrl`] (reason `bad_url`) when the URL does not parse as an
/// absolute URL with a host.
pub fn normalize_url(url: &str) -> Result<String, DedupError> {
    let trimmed = url.trim();
    let trimmed = trimmed.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(trimmed).trim();
    let bad = || DedupError::BadUrl(url.chars().take(200).collect());
    let mut parsed = url::Url::parse(trimmed).map_err(|_| bad())?;
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => return Err(bad()),
    };
    if let Some(stripped) = host.strip_suffix('.') {
        if !stripped.is_empty() {
            parsed.set_host(Some(stripped)).map_err(|_| bad())?;
        }
    }
    parsed.set_fragment(None);

    let mut path = String::with_capacity(parsed.path().len());
    for (i, seg) in parsed.path().split('/').enumerate() {
        if i > 0 {
            path.push('/');
        }
        // `;jsessionid=...` and friends: session state in a path parameter.
        let seg = match seg.find(';') {
            Some(p) if is_tracking(seg[p + 1..].split('=').next().unwrap_or("")) => &seg[..p],
            _ => seg,
        };
        path.push_str(seg);
    }
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    if path.is_empty() {
        path.push('/');
    }
    parsed.set_path(&path);

    if parsed.query().is_some() {
        let mut pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| !k.is_empty() && !is_tracking(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.sort();
        if pairs.is_empty() {
            parsed.set_query(None);
        } else {
            let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            parsed.set_query(Some(&q));
        }
    }
    Ok(parsed.into())
}

/// The exact-URL dedup key of a page: its [`normalize_url`] form, or, when the URL does not
/// parse, its trimmed raw form prefixed `raw:` (so identical raw strings still collide and can
/// never collide with a parsed URL). Never fails.
pub fn url_key(url: &str) -> String {
    normalize_url(url).unwrap_or_else(|_| format!("raw:{}", url.trim()))
}

/// Outcome of [`dedup_urls`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlDedupReport {
    /// Ids kept, ascending: the smallest id of each normalised URL.
    pub kept: Vec<u64>,
    /// `(removed id, kept id)` pairs, ascending by removed id.
    pub removed: Vec<(u64, u64)>,
    /// `pages`, `url_duplicate_removed`, and `bad_url` (URLs that did not parse: such a page is
    /// keyed by its trimmed raw URL, so it is still deduplicated against identical raw strings).
    pub counters: Counters,
}

/// Exact URL dedup: pages whose [`normalize_url`] keys are equal are one page; the one with the
/// smallest id is kept (deterministic whatever the input order). Memory is one entry per
/// distinct key; at crawl scale the caller first partitions pages by [`url_partition`] of the
/// key and calls this once per partition.
pub fn dedup_urls<'a, I>(pages: I) -> UrlDedupReport
where
    I: IntoIterator<Item = (u64, &'a str)>,
{
    let mut report = UrlDedupReport::default();
    let mut first: HashMap<String, u64> = HashMap::new();
    let mut all: Vec<(u64, String)> = Vec::new();
    for (id, url) in pages {
        report.counters.incr("pages");
        let key = match normalize_url(url) {
            Ok(k) => k,
            Err(_) => {
                report.counters.incr("bad_url");
                url_key(url)
            }
        };
        let e = first.entry(key.clone()).or_insert(id);
        *e = (*e).min(id);
        all.push((id, key));
    }
    for (id, key) in all {
        let keep = first[&key];
        if keep == id {
            report.kept.push(id);
        } else {
            report.removed.push((id, keep));
        }
    }
    report.kept.sort_unstable();
    report.kept.dedup();
    report.removed.sort_unstable();
    report.counters.add("url_duplicate_removed", report.removed.len() as u64);
    report
}

/// The partition (`0..n`) of a normalised URL key, for splitting exact URL dedup across
/// machines or files: equal keys always land in the same partition. `n` must be at least 1.
pub fn url_partition(key: &str, n: usize) -> usize {
    (super::minhash::hash_bytes(key.as_bytes(), 0x5EED_0F0E_11AA) % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(u: &str) -> String {
        normalize_url(u).unwrap()
    }

    #[test]
    fn case_port_fragment_and_trailing_slash() {
        assert_eq!(n("HTTP://Example.COM:80/a/b/#frag"), "http://example.com/a/b");
        assert_eq!(n("https://example.com:443"), "https://example.com/");
        assert_eq!(n("https://example.com:8443/x/"), "https://example.com:8443/x");
        assert_eq!(n("https://example.com./a/./c/../b"), "https://example.com/a/b");
        assert_eq!(n("  <https://www.example.com/>  "), "https://www.example.com/");
        // Path case is meaningful on most servers.
        assert_ne!(n("https://example.com/A"), n("https://example.com/a"));
        // www. is kept: a different host.
        assert_ne!(n("https://www.example.com/a"), n("https://example.com/a"));
    }

    #[test]
    fn query_sorted_and_trackers_dropped() {
        assert_eq!(
            n("https://example.com/p?b=2&utm_source=x&a=1&UTM_Medium=y&fbclid=z&gclid=q#top"),
            "https://example.com/p?a=1&b=2"
        );
        assert_eq!(n("https://example.com/p?utm_campaign=spring"), "https://example.com/p");
        assert_eq!(n("https://example.com/p?"), "https://example.com/p");
        assert_eq!(n("https://example.com/p;jsessionid=ABC123?id=7"), "https://example.com/p?id=7");
        assert_eq!(n("https://example.com/p?sessionid=9&id=7"), "https://example.com/p?id=7");
        // Content-selecting parameters stay, and their values matter.
        assert_ne!(n("https://example.com/p?id=7"), n("https://example.com/p?id=8"));
        assert_eq!(n("https://example.com/p?q=a+b"), n("https://example.com/p?q=a%20b"));
    }

    #[test]
    fn bad_urls_are_errors_with_a_reason() {
        for u in ["not a url", "", "mailto:x@y.z", "/relative/path"] {
            let e = normalize_url(u).unwrap_err();
            assert_eq!(e.reason(), "bad_url", "{u}");
        }
    }

    #[test]
    fn exact_dedup_keeps_smallest_id() {
        let pages = [
            (7, "https://example.com/a?utm_source=tw"),
            (3, "https://EXAMPLE.com/a#c"),
            (5, "https://example.com/a/"),
            (9, "https://example.com/b"),
            (4, "garbage url"),
            (2, "garbage url"),
        ];
        let r = dedup_urls(pages.iter().map(|(i, u)| (*i as u64, *u)));
        assert_eq!(r.kept, vec![2, 3, 9]);
        assert_eq!(r.removed, vec![(4, 2), (5, 3), (7, 3)]);
        assert_eq!(r.counters.get("bad_url"), 2);
        assert_eq!(r.counters.get("url_duplicate_removed"), 3);
        assert_eq!(r.counters.get("pages"), 6);
        assert_eq!(url_partition(&n("https://example.com/a"), 16), url_partition(&n("https://example.com/a/"), 16));
    }
}
