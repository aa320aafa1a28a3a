//! Credentials out of URIs before they are logged, stored or shown.
//!
//! A URI may carry a secret in two places: the password of its userinfo
//! (`postgres://user:secret@host/db`) and query parameters (`?password=…`, a presigned S3 URL's
//! `X-Amz-Signature` / `X-Amz-Credential` / `X-Amz-Security-Token`, an Azure SAS `sig=`,
//! `token=`). [`redact_uri`] replaces every such value with `***` and leaves the rest of the
//! text byte for byte as it was (no URL normalisation), so a redacted path still reads the same.

/// Query parameter names (compared case-insensitively) whose values are secrets.
pub const SECRET_QUERY_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "sig",
    "signature",
    "token",
    "access_token",
    "secret",
    "api_key",
    "apikey",
];

/// The mask written in place of a secret.
pub const MASK: &str = "***";

/// `uri` with the userinfo password and the values of [`SECRET_QUERY_PARAMS`] replaced by
/// [`MASK`]. Text that is not a URI (a local path) comes back unchanged; a URI inside a longer
/// text is not searched for (call it on the URI itself).
pub fn redact_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    // Userinfo: `scheme://user:password@host...`, the authority ends at `/`, `?` or `#`.
    let rest = match uri.find("://") {
        Some(s) => {
            let auth_start = s + 3;
            let auth_end = uri[auth_start..].find(['/', '?', '#']).map_or(uri.len(), |e| auth_start + e);
            let authority = &uri[auth_start..auth_end];
            out.push_str(&uri[..auth_start]);
            match authority.rfind('@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    match userinfo.find(':') {
                        Some(c) => {
                            out.push_str(&userinfo[..c + 1]);
                            out.push_str(MASK);
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push_str(&authority[at..]);
                }
                None => out.push_str(authority),
            }
            &uri[auth_end..]
        }
        None => uri,
    };
    // Query: `?k=v&k=v`, up to a fragment.
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=q]);
    let after = &rest[q + 1..];
    let (query, fragment) = match after.find('#') {
        Some(h) => (&after[..h], &after[h..]),
        None => (after, ""),
    };
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_param(k) => {
                out.push_str(k);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(pair),
        }
    }
    out.push_str(fragment);
    out
}

/// `text` (an error message, a log line) with every credential of a URI inside it masked: the
/// values of [`SECRET_QUERY_PARAMS`] after `?` or `&`, and userinfo passwords
/// (`scheme://user:password@`). The rest is left byte for byte.
pub fn redact_text(text: &str) -> String {
    if !text.contains('=') && !text.contains('@') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        // A query parameter: `?name=` or `&name=`.
        if matches!(bytes[i], b'?' | b'&') {
            let name_end = text[i + 1..].find(|c: char| c == '=' || !is_param_char(c)).map(|e| i + 1 + e);
            if let Some(eq) = name_end.filter(|&e| bytes.get(e) == Some(&b'=')) {
                let value_end = text[eq + 1..].find(|c: char| c == '&' || c == '#' || c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | ']' | ',' | ';')).map_or(text.len(), |e| eq + 1 + e);
                if value_end > eq + 1 && is_secret_param(&text[i + 1..eq]) {
                    out.push_str(&text[i..=eq]);
                    out.push_str(MASK);
                    i = value_end;
                    continue;
                }
            }
        }
        // Userinfo: `://user:password@`.
        if text[i..].starts_with("://") {
            let auth_start = i + 3;
            let auth_end = text[auth_start..].find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace()).map_or(text.len(), |e| auth_start + e);
            let authority = &text[auth_start..auth_end];
            if let Some(at) = authority.rfind('@') {
                if let Some(colon) = authority[..at].find(':') {
                    out.push_str(&text[i..auth_start + colon + 1]);
                    out.push_str(MASK);
                    i = auth_start + at;
                    continue;
                }
            }
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn is_param_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '%')
}

fn is_secret_param(name: &str) -> bool {
    // Names may arrive percent-encoded or in any case (`X-Amz-Signature`, `x-amz-signature`).
    let name = name.replace("%2D", "-").replace("%2d", "-");
    SECRET_QUERY_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// [`redact_uri`] of every string in a JSON value, recursively (a config or report about to be
/// logged, stored or shown). Strings without `://` or `?` are left as they are.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains("://") || s.contains('?') => *s = redact_uri(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_json),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_passwords_are_masked() {
        assert_eq!(redact_uri("postgres://u:s3cret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_uri("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_uri("https://a:b@host/p@q"), "https://a:***@host/p@q");
        assert_eq!(redact_uri("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(redact_uri("/data/a b?.warc"), "/data/a b?.warc");
    }

    #[test]
    fn query_credentials_are_masked_and_the_rest_kept() {
        let presigned = "https://b.s3.amazonaws.com/k.warc.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20260101%2Fus-east-1&X-Amz-Date=20260101T000000Z&X-Amz-Signature=abcdef0123&X-Amz-SignedHeaders=host";
        let r = redact_uri(presigned);
        assert_eq!(r, "https://b.s3.amazonaws.com/k.warc.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=20260101T000000Z&X-Amz-Signature=***&X-Amz-SignedHeaders=host");
        assert_eq!(redact_uri("postgres://u@h/db?sslmode=require&password=pw#x"), "postgres://u@h/db?sslmode=require&password=***#x");
        assert_eq!(redact_uri("https://x.blob.core.windows.net/c/f?sv=2020&sig=abc%3D&token=t"), "https://x.blob.core.windows.net/c/f?sv=2020&sig=***&token=***");
        assert_eq!(redact_uri("https://h/p?SIG=1&Token=2&x=3"), "https://h/p?SIG=***&Token=***&x=3");
    }

    #[test]
    fn uris_inside_messages_are_redacted() {
        let msg = "io: k.warc.gz?X-Amz-Credential=AKID&X-Amz-Signature=f00d&X-Amz-Expires=60: read failed; error sending request for url (https://u:pw@h/p?sig=abc)";
        assert_eq!(
            redact_text(msg),
            "io: k.warc.gz?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60: read failed; error sending request for url (https://u:***@h/p?sig=***)"
        );
        assert_eq!(redact_text("no uri here: a = b, x@y"), "no uri here: a = b, x@y");
        assert_eq!(redact_text("postgres://u:p@h/db?password=x é"), "postgres://u:***@h/db?password=*** é");
    }

    #[test]
    fn json_strings_are_redacted_recursively() {
        let mut v = serde_json::json!({"db": "postgres://u:pw@h/d", "inputs": ["https://h/a?sig=z", "/local/path"], "n": 3});
        redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"db": "postgres://u:***@h/d", "inputs": ["https://h/a?sig=***", "/local/path"], "n": 3}));
    }
}
