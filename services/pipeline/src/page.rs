//! Pages: the HTML responses of a WARC stream, everything else counted.
//!
//! [`Pages`] wraps a [`RecordReader`] and yields a [`Page`] for each `response` record whose
//! HTTP status is 200 and whose payload is HTML (`text/html` or `application/xhtml+xml`; when
//! the Content-Type is missing or generic, the first bytes are sniffed for `<html` or
//! `<!doctype html`, in the spirit of the WHATWG MIME Sniffing standard). This is the "HTML
//! pages" pool of DeepSeekMath §2.1. Every record and skip is counted in [`Counters`]:
//! `record_<warc-type>` for each record seen (`record_other` for unknown types,
//! `record_untyped` without one), the reader's skip reasons, `not_http_response`,
//! `bad_http_header`, `http_status_non_200`, `not_html`, the HTTP decoding notes of
//! [`crate::http::note`], and `page` for each page yielded.

use crate::http::{parse_response_with, HttpLimits};
use crate::stats::Counters;
use crate::warc::{ReadEvent, Record, RecordReader};

/// An HTML page out of a WARC `response` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `WARC-Target-URI`, `<>` stripped and whitespace trimmed.
    pub url: String,
    /// `WARC-Record-ID` (e.g. `<urn:uuid:...>`), empty when absent.
    pub record_id: String,
    /// `WARC-Date` as written (not validated: ClueWeb09 has invalid dates), empty when absent.
    pub date: String,
    /// Offset of the record's gzip member in the shard file (see [`Record::offset`]).
    pub warc_offset: u64,
    /// Compressed length of the record's members (see [`Record::length`]).
    pub warc_length: u64,
    /// HTTP status code (always 200 for pages yielded by [`Pages`]).
    pub status: u16,
    /// The HTTP `Content-Type` header value, if any (charset parameter included).
    pub content_type: Option<String>,
    /// The HTTP body, transfer- and content-encodings undone; bytes in the page's own charset.
    pub body: Vec<u8>,
}

/// Known WARC-Type values, counted as `record_<type>`.
const KNOWN_TYPES: &[&str] = &[
    "warcinfo",
    "response",
    "resource",
    "request",
    "metadata",
    "revisit",
    "conversion",
    "continuation",
];

/// Iterator adapter: records in, HTML pages out, with counters of everything seen and dropped.
/// `Send` whenever `R` is.
pub struct Pages<R> {
    reader: R,
    counters: Counters,
    limits: HttpLimits,
}

impl<R: RecordReader> Pages<R> {
    /// Pages of `reader`, with fresh counters and [`HttpLimits::default`].
    pub fn new(reader: R) -> Self {
        Pages {
            reader,
            counters: Counters::default(),
            limits: HttpLimits::default(),
        }
    }

    /// Sets the limits used to decode HTTP bodies.
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters, consuming the adapter.
    pub fn into_counters(self) -> Counters {
        self.counters
    }

    fn page_of(&mut self, rec: Record) -> Option<Page> {
        let ty = rec.warc_type().map(|t| t.trim().to_ascii_lowercase());
        match ty.as_deref() {
            Some(t) if KNOWN_TYPES.contains(&t) => {
                let name = format!("record_{t}");
                self.counters.incr(&name);
            }
            Some(_) => self.counters.incr("record_other"),
            None => self.counters.incr("record_untyped"),
        }
        if ty.as_deref() != Some("response") {
            return None;
        }
        let block = rec.block();
        let start = block
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(block.len());
        if !block[start..]
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"))
        {
            self.counters.incr("not_http_response");
            return None;
        }
        let resp = match parse_response_with(block, self.limits) {
            Ok(r) => r,
            Err(e) => {
                self.counters.incr(e.reason());
                return None;
            }
        };
        if resp.status != 200 {
            self.counters.incr("http_status_non_200");
            return None;
        }
        let content_type = resp.header("Content-Type").map(str::to_string);
        // Common Crawl's detected type (WARC-Identified-Payload-Type) decides when the server's
        // type is missing or generic.
        let identified = rec
            .header("WARC-Identified-Payload-Type")
            .filter(|t| !t.trim().is_empty());
        let html = match (is_generic(content_type.as_deref()), identified) {
            (true, Some(t)) => is_html(Some(t), &resp.body),
            _ => is_html(content_type.as_deref(), &resp.body),
        };
        if !html {
            self.counters.incr("not_html");
            return None;
        }
        for n in &resp.notes {
            self.counters.incr(n);
        }
        self.counters.incr("page");
        Some(Page {
            url: rec.target_uri().unwrap_or_default(),
            record_id: rec.header("WARC-Record-ID").unwrap_or("").to_string(),
            date: rec.header("WARC-Date").unwrap_or("").to_string(),
            warc_offset: rec.offset,
            warc_length: rec.length,
            status: resp.status,
            content_type,
            body: resp.body,
        })
    }
}

impl<R: RecordReader> Iterator for Pages<R> {
    type Item = Page;

    fn next(&mut self) -> Option<Page> {
        loop {
            match self.reader.next()? {
                ReadEvent::Skip { reason, .. } => self.counters.incr(reason),
                ReadEvent::Record(rec) => {
                    if let Some(p) = self.page_of(rec) {
                        return Some(p);
                    }
                }
            }
        }
    }
}

/// Pages of a WARC byte stream (plain or gzip), with fresh counters.
pub fn pages<R: std::io::Read>(reader: R) -> Pages<crate::warc::WarcReader<R>> {
    Pages::new(crate::warc::WarcReader::new(reader))
}

/// True when the payload is HTML: the MIME type (before `;`, case-insensitive) is `text/html` or
/// `application/xhtml+xml`; or it is missing or generic (`application/octet-stream`,
/// `text/plain`, `unknown/unknown`, ...) and the body's first 1024 bytes, after a BOM and
/// whitespace, start with `<!doctype html` or `<html`, or contain `<html` near the start.
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    match mime_of(content_type).as_str() {
        "text/html" | "application/xhtml+xml" => true,
        m if GENERIC_TYPES.contains(&m) => sniff_html(body),
        _ => false,
    }
}

/// MIME types that say nothing about the payload: the body is sniffed instead.
const GENERIC_TYPES: &[&str] = &[
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "application/unknown",
    "unknown/unknown",
    "*/*",
    "text/plain",
    "application/x-unknown-content-type",
    "none",
    "text",
];

/// The lowercased MIME type of a Content-Type value (before `;`), empty when absent.
fn mime_of(content_type: Option<&str>) -> String {
    content_type
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn is_generic(content_type: Option<&str>) -> bool {
    GENERIC_TYPES.contains(&mime_of(content_type).as_str())
}

fn sniff_html(body: &[u8]) -> bool {
    let b = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let head = &b[..b.len().min(1024)];
    let trimmed = head.trim_ascii_start();
    let starts = |p: &[u8]| {
        trimmed
            .get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    if starts(b"<!doctype html") || starts(b"<html") {
        return true;
    }
    // A leading comment or XML declaration before the html element.
    if starts(b"<!--") || starts(b"<?xml") {
        let lower = head.to_ascii_lowercase();
        return memchr::memmem::find(&lower, b"<html").is_some();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn pages_is_send() {
        assert_send::<Pages<crate::warc::WarcReader<std::fs::File>>>();
    }

    #[test]
    fn html_detection_by_type_and_sniffing() {
        assert!(is_html(Some("text/html; charset=utf-8"), b""));
        assert!(is_html(Some("Application/XHTML+XML"), b""));
        assert!(!is_html(Some("image/png"), b"<html>"));
        assert!(is_html(None, b"\xef\xbb\xbf  <!DOCTYPE html><html>"));
        assert!(is_html(Some("application/octet-stream"), b"<html lang=en>"));
        assert!(is_html(None, b"<!-- x --><html>"));
        assert!(!is_html(None, b"3\r\naa\r\n0\r\n\r\n"));
        assert!(!is_html(Some("text/plain"), b"hello <html"));
    }
}
