//! Character references (WHATWG HTML §13.2.5.72–80): `&amp;`, `&#8800;`, `&#x2260;`, and the
//! legacy names that may omit their `;` (`&copy`, `&lt`).
//!
//! The table of the 2,231 names is the one html5ever ships (`html5ever::data::NAMED_ENTITIES`,
//! generated from the spec's `entities.json`); the matching here is ours and allocation-free
//! unless a reference is present.

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};
use std::borrow::Cow;

/// Longest name in the table, `;` included (`&CounterClockwiseContourIntegral;`).
const MAX_NAME: usize = 32;

/// Longest legacy name that may appear without `;` (`&middot`, `&plusmn`, ...).
const MAX_LEGACY: usize = 6;

/// Decodes character references in `s` and normalises newlines (`\r\n` and `\r` become `\n`,
/// as the input stream preprocessing of §13.2.3.5 does). `in_attr` applies the attribute-value
/// rule: a legacy name without `;` followed by `=` or an alphanumeric is left as written.
/// Borrows `s` when there is nothing to change.
pub fn decode(s: &str, in_attr: bool) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = memchr::memchr2(b'&', b'\r', b) else { return Cow::Borrowed(s) };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    let mut run = first; // start of the pending verbatim run
    while i < b.len() {
        match b[i] {
            b'\r' => {
                out.push_str(&s[run..i]);
                out.push('\n');
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                run = i;
            }
            b'&' => {
                if let Some((c1, c2, used)) = char_ref(&b[i + 1..], in_attr) {
                    out.push_str(&s[run..i]);
                    out.push(c1);
                    if let Some(c2) = c2 {
                        out.push(c2);
                    }
                    i += 1 + used;
                    run = i;
                } else {
                    i += 1;
                }
            }
            _ => {}
        }
        match memchr::memchr2(b'&', b'\r', &b[i..]) {
            Some(p) => i += p,
            None => break,
        }
    }
    out.push_str(&s[run..]);
    Cow::Owned(out)
}

/// The character(s) of the reference at the start of `b` (the bytes after `&`) and how many
/// bytes it used; `None` when `&` stands for itself.
pub fn char_ref(b: &[u8], in_attr: bool) -> Option<(char, Option<char>, usize)> {
    if b.first() == Some(&b'#') {
        return numeric(b);
    }
    let run = b.iter().take(MAX_NAME).take_while(|c| c.is_ascii_alphanumeric()).count();
    if run == 0 {
        return None;
    }
    let mut key = [0u8; MAX_NAME + 1];
    if b.get(run) == Some(&b';') {
        key[..=run].copy_from_slice(&b[..=run]);
        // ASCII by construction.
        let k = std::str::from_utf8(&key[..=run]).ok()?;
        if let Some(&(c1, c2)) = NAMED_ENTITIES.get(k) {
            if c1 != 0 {
                return Some((char::from_u32(c1)?, char::from_u32(c2).filter(|_| c2 != 0), run + 1));
            }
        }
    }
    for l in (2..=run.min(MAX_LEGACY)).rev() {
        key[..l].copy_from_slice(&b[..l]);
        let k = std::str::from_utf8(&key[..l]).ok()?;
        if let Some(&(c1, c2)) = NAMED_ENTITIES.get(k) {
            if c1 == 0 {
                continue;
            }
            if in_attr && b.get(l).is_some_and(|&c| c == b'=' || c.is_ascii_alphanumeric()) {
                return None;
            }
            return Some((char::from_u32(c1)?, char::from_u32(c2).filter(|_| c2 != 0), l));
        }
    }
    None
}

/// `#123;` / `#x7B;` (the `;` optional), with §13.2.5.80's replacements: 0, surrogates and
/// values past U+10FFFF become U+FFFD, 0x80–0x9F map through windows-1252.
fn numeric(b: &[u8]) -> Option<(char, Option<char>, usize)> {
    let (hex, start) = match b.get(1) {
        Some(b'x' | b'X') => (true, 2),
        _ => (false, 1),
    };
    let mut v: u32 = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        let d = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'a'..=b'f' if hex => (c - b'a' + 10) as u32,
            b'A'..=b'F' if hex => (c - b'A' + 10) as u32,
            _ => break,
        };
        v = v.saturating_mul(if hex { 16 } else { 10 }).saturating_add(d);
        i += 1;
    }
    if i == start {
        return None;
    }
    if b.get(i) == Some(&b';') {
        i += 1;
    }
    let c = match v {
        0 => '\u{FFFD}',
        0x80..=0x9F => C1_REPLACEMENTS[(v - 0x80) as usize].unwrap_or_else(|| char::from_u32(v).unwrap_or('\u{FFFD}')),
        _ => char::from_u32(v).unwrap_or('\u{FFFD}'),
    };
    Some((c, None, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_numeric_legacy_and_attribute_rule() {
        assert_eq!(decode("a &lt; b &amp;&amp c", false), "a < b && c");
        assert_eq!(decode("&#8800;&#x2260;&#X2260&#128;&#0;&#xD800;&#99999999;", false), "≠≠≠€\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(decode("&notin; &notit; &NotEqualTilde;", false), "∉ ¬it; ≂\u{338}");
        assert_eq!(decode("?a=1&copy=2&lt", true), "?a=1&copy=2<");
        assert_eq!(decode("&copy2 &nosuch; & &# &#x;", false), "©2 &nosuch; & &# &#x;");
        assert_eq!(decode("x\r\ny\rz", false), "x\ny\nz");
        assert!(matches!(decode("plain text", false), Cow::Borrowed(_)));
        // Truncated at the end of input: never panics.
        for s in ["&", "&#", "&#x", "&am", "&amp", "&CounterClockwiseContourIntegra"] {
            let _ = decode(s, false);
            let _ = decode(s, true);
        }
    }
}
