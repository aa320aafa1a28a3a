//! Character encoding of a page: which source decides it, and decoding to UTF-8.
//!
//! Order (as the corpusminer brief fixes it, close to WHATWG HTML §13.2.3.1 "determining the
//! character encoding"): the HTTP `Content-Type` charset parameter, else a byte-order mark, else
//! a `<meta charset>` / `<meta http-equiv="Content-Type" content="...; charset=...">` in the
//! first [`META_PRESCAN_BYTES`] bytes, else detection with `chardetng`. Labels are resolved with
//! the WHATWG Encoding Standard (`encoding_rs`), so `iso-8859-1` means windows-1252, `gb2312`
//! means GBK (decoded as GB18030, a superset), `big5` means Big5 with the HKSCS extensions, and a
//! meta-declared UTF-16 means UTF-8 (§13.2.3.2).
//!
//! One exception to the order, by content: when the header or the `<meta>` names a legacy
//! encoding (anything but UTF-8/UTF-16) and the bytes are valid UTF-8 holding non-ASCII, the page
//! is decoded as UTF-8 ([`CharsetSource::Content`]). Pages re-saved as UTF-8 keep their old
//! `<meta charset=gb2312>`, and servers send a default `charset=iso-8859-1`; text in a legacy
//! multi-byte or 8-bit encoding is almost never valid UTF-8 once it holds a few non-ASCII
//! characters (each byte >= 0x80 would have to form a well-formed UTF-8 sequence), so the bytes
//! are the better witness.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, X_USER_DEFINED, WINDOWS_1252};
use std::borrow::Cow;

/// How many leading bytes are scanned for a `<meta>` charset declaration. The spec says 1024;
/// real pages put long `<head>` material first, so more is scanned.
pub const META_PRESCAN_BYTES: usize = 16 * 1024;

/// How many leading bytes `chardetng` sees when nothing declares the encoding.
pub const DETECT_BYTES: usize = 64 * 1024;

/// Which source decided the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetSource {
    /// The HTTP `Content-Type` header's `charset` parameter.
    Header,
    /// A UTF-8 / UTF-16 byte-order mark.
    Bom,
    /// A `<meta>` declaration in the page.
    Meta,
    /// Guessed from the bytes by `chardetng`.
    Detected,
    /// The header or `<meta>` named a legacy encoding, but the bytes are valid UTF-8 holding
    /// non-ASCII, so UTF-8 was used (see the module doc).
    Content,
}

impl CharsetSource {
    /// Stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            CharsetSource::Header => "header",
            CharsetSource::Bom => "bom",
            CharsetSource::Meta => "meta",
            CharsetSource::Detected => "detected",
            CharsetSource::Content => "content",
        }
    }
}

/// The encoding of `body` and where it came from (see the module doc for the order).
pub fn sniff(body: &[u8], http_content_type: Option<&str>) -> (&'static Encoding, CharsetSource) {
    // A legacy declaration yields to bytes that are UTF-8 (module doc).
    let declared = |enc: &'static Encoding, source| {
        let legacy = enc != UTF_8 && enc != UTF_16LE && enc != UTF_16BE;
        if legacy && is_utf8_with_non_ascii(body) {
            (UTF_8, CharsetSource::Content)
        } else {
            (enc, source)
        }
    };
    if let Some(enc) = http_content_type.and_then(charset_param).and_then(|l| Encoding::for_label(l.as_bytes())) {
        return declared(enc, CharsetSource::Header);
    }
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return (enc, CharsetSource::Bom);
    }
    if let Some(enc) = meta_charset(&body[..body.len().min(META_PRESCAN_BYTES)]) {
        return declared(enc, CharsetSource::Meta);
    }
    // Valid UTF-8 (checked at memory speed) is what chardetng would answer for it anyway, when
    // it holds any non-ASCII byte; pure ASCII decodes the same under either answer.
    if std::str::from_utf8(body).is_ok() {
        return (UTF_8, CharsetSource::Detected);
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let head = &body[..body.len().min(DETECT_BYTES)];
    det.feed(head, head.len() == body.len());
    (det.guess(None, chardetng::Utf8Detection::Allow), CharsetSource::Detected)
}

/// Whether `body` is valid UTF-8 (a sequence cut off at the very end, as in a truncated record,
/// allowed) and holds at least one non-ASCII character.
pub fn is_utf8_with_non_ascii(body: &[u8]) -> bool {
    let valid = match std::str::from_utf8(body) {
        Ok(_) => body.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    !body[..valid].is_ascii()
}

/// Decodes `body` as `enc`, dropping a leading BOM of that encoding; malformed sequences become
/// U+FFFD (never an error).
pub fn decode<'a>(body: &'a [u8], enc: &'static Encoding) -> Cow<'a, str> {
    let (text, _had_errors) = enc.decode_with_bom_removal(body);
    text
}

/// The `charset` parameter of a `Content-Type` value (`text/html; charset="utf-8"`), unquoted.
pub fn charset_param(content_type: &str) -> Option<&str> {
    let lower_pos = find_ci(content_type.as_bytes(), b"charset")?;
    let rest = content_type[lower_pos + 7..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest.find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_whitespace()).unwrap_or(rest.len());
    let label = &rest[..end];
    (!label.is_empty()).then_some(label)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// The encoding named by the first `<meta>` charset declaration in `head`, per the prescan's
/// rules: UTF-16 labels become UTF-8, `x-user-defined` becomes windows-1252.
pub fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &head[i..]) {
        let start = i + off;
        i = start + 1;
        let rest = &head[start..];
        if rest.starts_with(b"<!--") {
            match memchr::memmem::find(&rest[4..], b"-->") {
                Some(e) => i = start + 4 + e + 3,
                None => return None,
            }
            continue;
        }
        if rest.len() < 6 || !rest[1..5].eq_ignore_ascii_case(b"meta") || !(rest[5].is_ascii_whitespace() || rest[5] == b'/') {
            continue;
        }
        let end = memchr::memchr(b'>', rest).unwrap_or(rest.len());
        let tag = &rest[5..end];
        let Ok(tag) = std::str::from_utf8(tag).or_else(|e| std::str::from_utf8(&tag[..e.valid_up_to()])) else {
            continue;
        };
        let attrs = parse_attrs(tag);
        let get = |k: &str| attrs.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| *v);
        let label = if let Some(cs) = get("charset") {
            Some(cs.trim())
        } else if get("http-equiv").is_some_and(|v| v.trim().eq_ignore_ascii_case("content-type")) {
            get("content").and_then(charset_param)
        } else {
            None
        };
        if let Some(enc) = label.and_then(|l| Encoding::for_label(l.as_bytes())) {
            return Some(if enc == UTF_16LE || enc == UTF_16BE {
                UTF_8
            } else if enc == X_USER_DEFINED {
                WINDOWS_1252
            } else {
                enc
            });
        }
        i = start + end;
    }
    None
}

/// Attribute name/value pairs of the inside of a tag (after its name); lenient.
fn parse_attrs(s: &str) -> Vec<(&str, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        let name = &s[ns..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = b[vs..].iter().position(|&c| c == q).map_or(b.len(), |p| vs + p);
                value = &s[vs..ve];
                i = (ve + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &s[vs..i];
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        } else if ns == i {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_charset_param() {
        assert_eq!(charset_param("text/html; charset=\"UTF-8\""), Some("UTF-8"));
        assert_eq!(charset_param("text/html;Charset=windows-1251"), Some("windows-1251"));
        assert_eq!(charset_param("text/html"), None);
    }

    #[test]
    fn meta_forms() {
        assert_eq!(meta_charset(b"<html><head><meta charset=gb2312>").map(|e| e.name()), Some("GBK"));
        let h = b"<!-- <meta charset=koi8-r> --><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=Shift_JIS\">";
        assert_eq!(meta_charset(h).map(|e| e.name()), Some("Shift_JIS"));
        assert_eq!(meta_charset(b"<meta charset='utf-16le'>"), Some(UTF_8));
        assert_eq!(meta_charset(b"<metadata charset=koi8-r>"), None);
    }

    #[test]
    fn a_legacy_declaration_yields_to_utf8_bytes_with_non_ascii() {
        let utf8 = "<meta charset=gb2312><p>数学题</p>".as_bytes();
        assert_eq!(sniff(utf8, None), (UTF_8, CharsetSource::Content));
        assert_eq!(sniff(utf8, Some("text/html; charset=iso-8859-1")), (UTF_8, CharsetSource::Content));
        // A sequence cut at the very end (a truncated record) is still UTF-8.
        assert_eq!(sniff(&utf8[..utf8.len() - 6], None), (UTF_8, CharsetSource::Content));
        // Pure ASCII and real GBK bytes keep the declaration.
        assert_eq!(sniff(b"<meta charset=gb2312><p>x</p>", None), (encoding_rs::GBK, CharsetSource::Meta));
        let (gbk, _, _) = encoding_rs::GBK.encode("<meta charset=gb2312><p>数学题</p>");
        assert_eq!(sniff(&gbk, None), (encoding_rs::GBK, CharsetSource::Meta));
        assert_eq!(sniff(&gbk, Some("text/html; charset=GBK")), (encoding_rs::GBK, CharsetSource::Header));
        // An invalid byte in the middle is not UTF-8.
        assert!(!is_utf8_with_non_ascii(b"caf\xC3\xA9 \xFF ok"));
        assert!(is_utf8_with_non_ascii("café".as_bytes()));
        assert!(!is_utf8_with_non_ascii(b"plain"));
    }
}
