//! The HTTP response inside a WARC `response` record block (RFC 9112 message syntax, as the
//! WARC 1.1 specification stores it for `application/http;msgtype=response`).
//!
//! [`parse_response`] returns the status code, the header fields (lossy UTF-8) and the body with
//! `Transfer-Encoding: chunked` undone (RFC 9112 §7.1) and `Content-Encoding: gzip / x-gzip /
//! deflate` undone (RFC 9110 §8.4). Crawlers that already removed an encoding say so: Common
//! Crawl renames the headers to `X-Crawler-Transfer-Encoding` / `X-Crawler-Content-Encoding`,
//! so only the plain `Transfer-Encoding` / `Content-Encoding` headers are acted on, and never
//! when the matching `X-Crawler-` header is present. Anomalies that were worked around are listed
//! in [`HttpResponse::notes`] under stable snake_case names (see [`note`]) for counting.

use flate2::{Decompress, FlushDecompress, Status};

/// Anomaly names put in [`HttpResponse::notes`] (stable counter names).
pub mod note {
    /// Chunk framing was broken; the body is the raw (still framed) bytes.
    pub const BAD_CHUNKED_ENCODING: &str = "bad_chunked_encoding";
    /// The header said chunked but the body has no chunk framing at all (the recorder stored it
    /// de-chunked, as pywb's and wget's older files do); the body is kept as is.
    pub const CHUNKED_ENCODING_NOT_APPLIED: &str = "chunked_encoding_not_applied";
    /// The chunked body ended inside a chunk or before the last (zero) chunk; what was read is
    /// kept (typical of records the crawler truncated at its size limit).
    pub const TRUNCATED_CHUNKED_BODY: &str = "truncated_chunked_body";
    /// The header named a content-encoding but the body was not encoded (e.g. ClueWeb09, whose
    /// bodies are stored decoded under `Content-Encoding: gzip`); the body is kept as is.
    pub const CONTENT_ENCODING_NOT_APPLIED: &str = "content_encoding_not_applied";
    /// The encoded body was cut short or corrupt after some output; the decoded prefix is kept.
    pub const TRUNCATED_CONTENT_ENCODING: &str = "truncated_content_encoding";
    /// A content-encoding this crate does not decode (br, zstd, compress, ...); body kept raw.
    pub const UNSUPPORTED_CONTENT_ENCODING: &str = "unsupported_content_encoding";
    /// The decoded body exceeded [`super::HttpLimits::max_body`] and was cut there.
    pub const DECODED_BODY_CAPPED: &str = "decoded_body_capped";
}

/// Errors of [`parse_response`]: the block is not an HTTP response at all.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The first line is not `HTTP/<version> <3-digit status> [reason]`.
    #[error("bad http status line: {0:?}")]
    BadStatusLine(String),
}

impl HttpError {
    /// The counter name for this error (`bad_http_header`).
    pub fn reason(&self) -> &'static str {
        match self {
            HttpError::BadStatusLine(_) => "bad_http_header",
        }
    }
}

/// Size limits for decoding a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest decoded (content-decoded) body kept, in bytes; the rest is dropped and noted as
    /// `decoded_body_capped`. Guards against decompression bombs.
    pub max_body: usize,
}

impl Default for HttpLimits {
    /// 16 MiB: Common Crawl truncates payloads at 1 MiB, so this allows ~16x expansion.
    fn default() -> Self {
        HttpLimits { max_body: 16 << 20 }
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Header fields as `(name, value)` in message order, lossy UTF-8, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body with transfer- and content-encodings undone where possible.
    pub body: Vec<u8>,
    /// Anomalies worked around while decoding (names from [`note`]); empty for a clean message.
    pub notes: Vec<&'static str>,
}

impl HttpResponse {
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an HTTP response message (a WARC `response` block) with [`HttpLimits::default`].
///
/// Errors: [`HttpError::BadStatusLine`] when the block does not start with an HTTP status line.
/// Everything else is tolerated: an empty reason phrase, HTTP/1.0 or 1.1 (or 0.9/2 spellings),
/// bare LF line ends, non-UTF-8 header bytes (decoded lossily), a block that ends inside the
/// headers (empty body), and bodies whose encodings are broken (see [`note`]).
pub fn parse_response(block: &[u8]) -> Result<HttpResponse, HttpError> {
    parse_response_with(block, HttpLimits::default())
}

/// [`parse_response`] with explicit limits.
pub fn parse_response_with(block: &[u8], limits: HttpLimits) -> Result<HttpResponse, HttpError> {
    let block = trim_leading_blank_lines(block);
    let (status_line, mut rest) = split_line(block);
    let status = parse_status_line(status_line)
        .ok_or_else(|| HttpError::BadStatusLine(lossy_prefix(status_line, 80)))?;

    let mut headers: Vec<(String, String)> = Vec::with_capacity(24);
    loop {
        if rest.is_empty() {
            break;
        }
        let (line, after) = split_line(rest);
        rest = after;
        if line.iter().all(|&c| c == b'\r') {
            break; // the empty line (CR CR LF tolerated)
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(&String::from_utf8_lossy(line.trim_ascii()));
            }
            continue;
        }
        if let Some(colon) = memchr::memchr(b':', line) {
            headers.push((
                String::from_utf8_lossy(line[..colon].trim_ascii()).into_owned(),
                String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned(),
            ));
        }
    }
    let mut resp = HttpResponse {
        status,
        headers,
        body: Vec::new(),
        notes: Vec::new(),
    };
    let raw_body = rest;

    let chunked = !has(&resp, "X-Crawler-Transfer-Encoding")
        && resp
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body: Vec<u8> = if chunked {
        match dechunk(raw_body) {
            Dechunked::Ok(b) => b,
            Dechunked::Truncated(b) => {
                resp.notes.push(note::TRUNCATED_CHUNKED_BODY);
                b
            }
            Dechunked::Bad => {
                resp.notes.push(note::BAD_CHUNKED_ENCODING);
                raw_body.to_vec()
            }
            Dechunked::NotChunked => {
                resp.notes.push(note::CHUNKED_ENCODING_NOT_APPLIED);
                raw_body.to_vec()
            }
        }
    } else {
        raw_body.to_vec()
    };

    let encoding = if has(&resp, "X-Crawler-Content-Encoding") {
        None
    } else {
        resp.header("Content-Encoding")
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if let Some(enc) = encoding {
        // Only the last coding applied matters for the common single-coding case.
        let enc = enc.rsplit(',').next().unwrap_or("").trim().to_string();
        match enc.as_str() {
            "" | "identity" | "none" => {}
            "gzip" | "x-gzip" | "deflate" => {
                let gz = enc != "deflate";
                match decode(&body, gz, limits.max_body) {
                    Decoded::Ok(b, capped) => {
                        if capped {
                            resp.notes.push(note::DECODED_BODY_CAPPED);
                        }
                        body = b;
                    }
                    Decoded::Partial(b) => {
                        resp.notes.push(note::TRUNCATED_CONTENT_ENCODING);
                        body = b;
                    }
                    Decoded::NotEncoded => resp.notes.push(note::CONTENT_ENCODING_NOT_APPLIED),
                }
            }
            _ => resp.notes.push(note::UNSUPPORTED_CONTENT_ENCODING),
        }
    }
    if body.len() > limits.max_body {
        body.truncate(limits.max_body);
        if !resp.notes.contains(&note::DECODED_BODY_CAPPED) {
            resp.notes.push(note::DECODED_BODY_CAPPED);
        }
    }
    resp.body = body;
    Ok(resp)
}

fn has(resp: &HttpResponse, name: &str) -> bool {
    resp.header(name).is_some()
}

fn lossy_prefix(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

fn trim_leading_blank_lines(mut b: &[u8]) -> &[u8] {
    while let Some((&c, rest)) = b.split_first() {
        if matches!(c, b'\r' | b'\n' | b' ' | b'\t') {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Splits off one line (without its CRLF or LF); the rest starts after the line end.
fn split_line(b: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', b) {
        Some(i) => {
            let line = &b[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &b[i + 1..])
        }
        None => (b.strip_suffix(b"\r").unwrap_or(b), &[]),
    }
}

/// `HTTP/x[.y] SP ddd [SP reason]` -> status.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    line.get(..5).filter(|p| p.eq_ignore_ascii_case(b"HTTP/"))?;
    let after = &line[5..];
    let sp = memchr::memchr(b' ', after)?;
    let version = &after[..sp];
    if version.is_empty() || !version.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    let code = after[sp..].trim_ascii_start();
    let digits = code.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if code.len() > 3 && !matches!(code[3], b' ' | b'\t') {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

enum Dechunked {
    Ok(Vec<u8>),
    /// The body does not start with a chunk-size line at all (already de-chunked).
    NotChunked,
    Truncated(Vec<u8>),
    Bad,
}

/// Undoes chunked transfer coding. Broken framing (a size line that is not hex, or chunk data
/// not followed by CRLF) gives `Bad`; running out of bytes gives `Truncated` with what was
/// read.
fn dechunk(mut b: &[u8]) -> Dechunked {
    let mut out = Vec::with_capacity(b.len());
    loop {
        if b.is_empty() {
            return if out.is_empty() {
                Dechunked::Bad
            } else {
                Dechunked::Truncated(out)
            };
        }
        let Some(nl) = memchr::memchr(b'\n', b) else {
            return if out.is_empty() {
                Dechunked::Bad
            } else {
                Dechunked::Truncated(out)
            };
        };
        let line = &b[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let size_part = line
            .split(|&c| c == b';')
            .next()
            .unwrap_or(b"")
            .trim_ascii();
        if size_part.is_empty()
            || size_part.len() > 15
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return if out.is_empty() {
                Dechunked::NotChunked
            } else {
                Dechunked::Bad
            };
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap_or("x"), 16);
        let Ok(size) = size else {
            return Dechunked::Bad;
        };
        b = &b[nl + 1..];
        if size == 0 {
            return Dechunked::Ok(out); // trailer fields, if any, are ignored
        }
        if b.len() < size {
            out.extend_from_slice(b);
            return Dechunked::Truncated(out);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size..];
        if b.starts_with(b"\r\n") {
            b = &b[2..];
        } else if b.is_empty() || b == b"\r" {
            return Dechunked::Truncated(out);
        } else {
            return Dechunked::Bad;
        }
    }
}

enum Decoded {
    /// Decoded body, and whether it was capped.
    Ok(Vec<u8>, bool),
    /// Some output, then an error or the end of input.
    Partial(Vec<u8>),
    /// The input is not in the named encoding at all.
    NotEncoded,
}

/// Decodes gzip (`gz`) or deflate (zlib-wrapped, or raw as some servers send) bodies.
fn decode(body: &[u8], gz: bool, max: usize) -> Decoded {
    if gz {
        if !body.starts_with(&[0x1f, 0x8b]) {
            // Some servers label zlib/deflate data as gzip.
            if looks_zlib(body) {
                return inflate(body, true, max);
            }
            return Decoded::NotEncoded;
        }
        let Some(h) = gzip_header_len(body) else {
            return Decoded::NotEncoded;
        };
        return inflate(&body[h..], false, max);
    }
    if body.starts_with(&[0x1f, 0x8b]) {
        if let Some(h) = gzip_header_len(body) {
            return inflate(&body[h..], false, max);
        }
    }
    if looks_zlib(body) {
        return inflate(body, true, max);
    }
    match inflate(body, false, max) {
        Decoded::Ok(b, c) if !b.is_empty() => Decoded::Ok(b, c),
        Decoded::Partial(b) if b.len() >= 64 => Decoded::Partial(b),
        _ => Decoded::NotEncoded,
    }
}

fn looks_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

/// Length of an RFC 1952 header at the start of `b`.
fn gzip_header_len(b: &[u8]) -> Option<usize> {
    if b.len() < 10 || b[2] != 8 {
        return None;
    }
    let flags = b[3];
    let mut i = 10;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize;
        i += 2 + xlen;
    }
    for f in [0x08u8, 0x10] {
        if flags & f != 0 {
            i += memchr::memchr(0, b.get(i..)?)? + 1;
        }
    }
    if flags & 0x02 != 0 {
        i += 2;
    }
    (i <= b.len()).then_some(i)
}

fn inflate(input: &[u8], zlib: bool, max: usize) -> Decoded {
    let mut d = Decompress::new(zlib);
    let mut out: Vec<u8> = Vec::with_capacity((input.len() * 4).clamp(4096, max.max(4096)));
    loop {
        if out.len() >= max {
            out.truncate(max);
            return Decoded::Ok(out, true);
        }
        if out.capacity() == out.len() {
            // Double, at least 4 KiB, never past the cap (max > out.len() here).
            out.reserve(out.len().max(4096).min(max - out.len()));
        }
        let consumed = d.total_in() as usize;
        let before = out.len();
        // Writes into spare capacity only, so output grows by at most what was reserved.
        let res = d.decompress_vec(&input[consumed..], &mut out, FlushDecompress::None);
        let produced = out.len() - before;
        match res {
            Ok(Status::StreamEnd) => return Decoded::Ok(out, false),
            Ok(_) => {
                let used = d.total_in() as usize - consumed;
                if produced == 0 && used == 0 {
                    return if out.is_empty() {
                        Decoded::NotEncoded
                    } else {
                        Decoded::Partial(out)
                    };
                }
            }
            Err(_) => {
                return if out.is_empty() {
                    Decoded::NotEncoded
                } else {
                    Decoded::Partial(out)
                };
            }
        }
    }
}
