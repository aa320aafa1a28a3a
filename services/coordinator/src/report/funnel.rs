//! The record funnel of a run: WARC records read → responses → HTML pages → pages scored,
//! each difference named by reason, so the summary's numbers add up to the records read.
//!
//! The names are the workers' counters (see `corpusminer_pipeline::page` and the worker's
//! shard loop); this module only sorts them into the funnel's stages and says each in words.

use corpusminer_pipeline::{http, warc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Skips between a response record and an HTML page (in this order in the pipeline).
const RESPONSE_SKIPS: &[&str] = &["not_http_response", "bad_http_header", "http_status_non_200", "not_html"];
/// Skips between an HTML page and a scored page.
const PAGE_SKIPS: &[&str] = &["bad_url", "url_duplicate", "empty_body", "not_text", "empty_text", "language_not_selected"];
/// Damage the WARC reader skipped: bytes or records that never became a record.
const DAMAGE: &[&str] = &[
    warc::skip::TRUNCATED_GZIP_MEMBER,
    warc::skip::CORRUPT_GZIP_MEMBER,
    warc::skip::GZIP_GARBAGE,
    warc::skip::TRUNCATED_RECORD,
    warc::skip::READ_ERROR,
    warc::skip::RECORD_CUT_BY_GZIP_ERROR,
    warc::skip::BAD_RECORD_TERMINATOR,
    warc::skip::INVALID_VERSION_LINE,
    warc::skip::GARBAGE_BEFORE_RECORD,
    warc::skip::BAD_CONTENT_LENGTH,
    warc::skip::HEADER_TOO_LONG,
    warc::skip::RECORD_TOO_LARGE,
];
/// Repairs of an HTTP body: the page was kept.
const NOTES: &[&str] = &[
    http::note::BAD_CHUNKED_ENCODING,
    http::note::CHUNKED_ENCODING_NOT_APPLIED,
    http::note::TRUNCATED_CHUNKED_BODY,
    http::note::CONTENT_ENCODING_NOT_APPLIED,
    http::note::TRUNCATED_CONTENT_ENCODING,
    http::note::UNSUPPORTED_CONTENT_ENCODING,
    http::note::DECODED_BODY_CAPPED,
];

/// A counter, its reason in words, and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The counter's name (`http_status_non_200`).
    pub reason: String,
    /// What it counts, in words.
    pub meaning: String,
    /// How many.
    pub count: u64,
}

/// Records read down to pages scored: `records - not_responses = responses`,
/// `responses - sum(response_skips) = html_pages`, `html_pages - sum(page_skips) =
/// pages_scored`. `unaccounted` holds any difference the counters do not explain (0 for every
/// run of this version).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Funnel {
    /// WARC records read (all types).
    pub records: u64,
    /// Records by WARC-Type, most first.
    pub by_type: Vec<Step>,
    /// Records that are not `response` records (requests, metadata, warcinfo, …).
    pub not_responses: u64,
    /// `response` records.
    pub responses: u64,
    /// Responses that are no HTML page with status 200, by reason.
    pub response_skips: Vec<Step>,
    /// HTML pages with status 200.
    pub html_pages: u64,
    /// HTML pages not scored, by reason.
    pub page_skips: Vec<Step>,
    /// Pages scored.
    pub pages_scored: u64,
    /// Damaged input the reader skipped; none of it is in `records`.
    pub damaged: Vec<Step>,
    /// HTTP bodies repaired or cut; those pages went on.
    pub repaired: Vec<Step>,
    /// Other counters (none in this version).
    pub other: Vec<Step>,
    /// `records` minus everything the steps explain (0 when the counters add up).
    pub unaccounted: i64,
}

/// What `reason` counts, in words.
pub fn meaning(reason: &str) -> String {
    let s = match reason {
        "not_http_response" => "response records holding no HTTP response (DNS lookups, other protocols)",
        "bad_http_header" => "unreadable HTTP status line",
        "http_status_non_200" => "HTTP status other than 200 (redirects, not found, errors)",
        "not_html" => "not HTML (PDF, images, JSON, feeds, …)",
        "bad_url" => "URL without a usable host",
        "url_duplicate" => "URL seen earlier in the same shard",
        "empty_body" => "empty body",
        "not_text" => "body is not text (binary, or an undecodable charset)",
        "empty_text" => "no main text left after boilerplate removal",
        "language_not_selected" => "main text in a language --languages left out (counted per language in the report)",
        "truncated_gzip_member" => "gzip member cut short (file truncated)",
        "corrupt_gzip_member" => "corrupt gzip member (skipped to the next one)",
        "gzip_garbage" => "bytes between gzip members that are no gzip member",
        "truncated_record" => "record cut short by the end of the file",
        "read_error" => "read error (the rest of the stream was lost)",
        "record_cut_by_gzip_error" => "record spanning a corrupt gzip member",
        "bad_record_terminator" => "record not ended by CRLF CRLF (kept by its Content-Length)",
        "invalid_version_line" => "record with an invalid WARC/ version line",
        "garbage_before_record" => "bytes where a record should start",
        "bad_content_length" => "record header without a valid Content-Length",
        "header_too_long" => "record header over 1 MiB",
        "record_too_large" => "record larger than the block limit",
        "bad_chunked_encoding" => "broken chunked encoding (raw body used)",
        "chunked_encoding_not_applied" => "declared chunked but stored de-chunked",
        "truncated_chunked_body" => "chunked body cut short (the part read is used)",
        "content_encoding_not_applied" => "declared compressed but stored decoded",
        "truncated_content_encoding" => "compressed body cut short (the decoded part is used)",
        "unsupported_content_encoding" => "compression not decoded (br, zstd, …; body used raw)",
        "decoded_body_capped" => "decoded body cut at the size limit",
        other => return other.replace('_', " "),
    };
    s.to_string()
}

fn step(reason: &str, count: u64) -> Step {
    Step { reason: reason.to_string(), meaning: meaning(reason), count }
}

fn steps(counters: &BTreeMap<String, u64>, names: &[&str]) -> Vec<Step> {
    let mut v: Vec<Step> = names.iter().filter_map(|&n| counters.get(n).filter(|&&c| c > 0).map(|&c| step(n, c))).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    v
}

fn total(steps: &[Step]) -> u64 {
    steps.iter().map(|s| s.count).sum()
}

impl Funnel {
    /// The funnel of a run's merged worker counters (`record_<type>` per WARC-Type, the skip
    /// reasons, `page`, `pages_scored`).
    pub fn from_counters(counters: &BTreeMap<String, u64>) -> Funnel {
        let mut by_type: Vec<Step> = counters
            .iter()
            .filter_map(|(k, &v)| k.strip_prefix("record_").map(|t| Step { reason: k.clone(), meaning: t.to_string(), count: v }))
            .collect();
        by_type.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        let records = total(&by_type);
        let get = |k: &str| counters.get(k).copied().unwrap_or(0);
        let responses = get("record_response");
        let known: Vec<&str> = RESPONSE_SKIPS.iter().chain(PAGE_SKIPS).chain(DAMAGE).chain(NOTES).copied().chain(["page", "pages_scored"]).collect();
        let other: Vec<Step> = counters.iter().filter(|(k, &v)| v > 0 && !k.starts_with("record_") && !known.contains(&k.as_str())).map(|(k, &v)| step(k, v)).collect();
        let response_skips = steps(counters, RESPONSE_SKIPS);
        let page_skips = steps(counters, PAGE_SKIPS);
        let pages_scored = get("pages_scored");
        let explained = (records - responses) + total(&response_skips) + total(&page_skips) + pages_scored;
        Funnel {
            records,
            by_type,
            not_responses: records - responses,
            responses,
            html_pages: get("page"),
            response_skips,
            page_skips,
            pages_scored,
            damaged: steps(counters, DAMAGE),
            repaired: steps(counters, NOTES),
            other,
            unaccounted: records as i64 - explained as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funnel_names_every_difference_and_adds_up() {
        let counters: BTreeMap<String, u64> = [
            ("record_response", 100),
            ("record_request", 100),
            ("record_metadata", 100),
            ("record_warcinfo", 1),
            ("not_http_response", 2),
            ("http_status_non_200", 20),
            ("not_html", 8),
            ("page", 70),
            ("url_duplicate", 3),
            ("empty_text", 5),
            ("pages_scored", 62),
            ("truncated_record", 1),
            ("bad_chunked_encoding", 4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let f = Funnel::from_counters(&counters);
        assert_eq!((f.records, f.not_responses, f.responses, f.html_pages, f.pages_scored), (301, 201, 100, 70, 62));
        assert_eq!(f.responses - total(&f.response_skips), f.html_pages);
        assert_eq!(f.html_pages - total(&f.page_skips), f.pages_scored);
        assert_eq!(f.unaccounted, 0);
        assert_eq!(f.response_skips[0], step("http_status_non_200", 20), "largest first");
        assert_eq!(f.damaged, [step("truncated_record", 1)], "damage is not a record");
        assert_eq!(f.repaired, [step("bad_chunked_encoding", 4)], "repaired pages went on");
        assert!(f.other.is_empty());
        assert!(f.response_skips.iter().chain(&f.page_skips).all(|s| !s.meaning.contains('_')), "every reason is said in words");
    }

    #[test]
    fn counters_that_do_not_add_up_are_shown_as_unaccounted() {
        let counters: BTreeMap<String, u64> = [("record_response", 10), ("page", 10), ("pages_scored", 7)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(Funnel::from_counters(&counters).unaccounted, 3);
    }
}
