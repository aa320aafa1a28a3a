//! HTML page -> main text with mathematics kept as LaTeX.
//!
//! The stage of DeepSeekMath's corpus pipeline (arXiv 2402.03300 §2.1) that turns a crawled HTML
//! page into the text the classifier scores and the corpus keeps. Steps:
//!
//! 1. [`charset`]: the encoding from the HTTP header, a BOM, a `<meta>` declaration, or detection;
//!    decoded to UTF-8 with `encoding_rs` (WHATWG Encoding Standard labels).
//! 2. [`dom`]: our own single-pass HTML tokenizer (character references in [`entities`]) feeding
//!    a light arena tree that borrows from the decoded page.
//! 3. Boilerplate removal ([`boilerplate`]): non-content elements (navigation, header/footer,
//!    forms, ads, share widgets, comment sections, cookie banners, related-link lists) are
//!    dropped by tag, ARIA role, class/id and link density (a block holding a paragraph of
//!    running text is never navigation); the main container is chosen from
//!    `[itemprop=articleBody]` / `<article>` / `<main>` when they hold the text, else by a
//!    Readability-style score of paragraphs (text length, commas, link density), and widened
//!    while its ancestors add formulas (math is content).
//! 4. Rendering: paragraphs separated by blank lines, headings and list items on their own lines,
//!    inline elements joined without added spaces, whitespace collapsed (kept in `<pre>`).
//!    Mathematics ([`math`]) is emitted as LaTeX: MathJax `<script type="math/tex">` as `$..$`
//!    (`mode=display` as `$$..$$` on its own line), MathML by its `alttext` / TeX annotation or
//!    converted from presentation markup, KaTeX by its annotation (its HTML rendering dropped),
//!    MathJax's own rendered output skipped, TeX in formula images' `alt` (or, without TeX
//!    there, in the renderer URL: WordPress `latex.php`, CodeCogs, mimeTeX, Google Chart) as `$..$`, and TeX
//!    delimiters already in the text kept as they are. A formula repeated by its fallback image
//!    right after it (Wikipedia) is emitted once.
//!
//! The JSON-LD `articleBody` and similar metadata are never read: text comes from the DOM.
//! [`eval`] measures token F1 and formula recall on the shared labelled pages.

pub mod boilerplate;
pub mod charset;
pub mod dom;
pub mod entities;
pub mod eval;
pub mod math;
mod render;

pub use charset::CharsetSource;

/// Text extracted from one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Main text, UTF-8: paragraphs separated by `\n\n`, list items / headings / display
    /// formulas on their own lines, formulas as LaTeX between `$`/`$$` (or the page's own
    /// delimiters). No leading or trailing whitespace.
    pub text: String,
    /// The `<title>`, whitespace-collapsed, when present and non-empty.
    pub title: Option<String>,
    /// WHATWG name of the encoding used to decode the page (`"UTF-8"`, `"windows-1251"`, ...).
    pub charset: &'static str,
    /// Where [`Extracted::charset`] came from.
    pub charset_source: CharsetSource,
    /// Number of formulas in `text`: structured ones emitted (MathJax scripts, MathML, KaTeX,
    /// formula images, `data-tex`) plus TeX-delimited ones already in the page text.
    pub formulas: usize,
}

/// Why a page yields no usable text. Each variant has a stable snake_case [`reason`](Self::reason)
/// used as a skip counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The body has no bytes.
    #[error("empty body")]
    EmptyBody,
    /// The body is binary (NUL bytes or a known binary signature), or the declared
    /// `Content-Type` is not a text type.
    #[error("not a text page: {0}")]
    NotText(String),
    /// Parsing and boilerplate removal left no text.
    #[error("no main text extracted")]
    EmptyText,
}

impl ExtractError {
    /// Stable snake_case reason for skip counters: `empty_body`, `not_text`, `empty_text`.
    pub fn reason(&self) -> &'static str {
        match self {
            ExtractError::EmptyBody => "empty_body",
            ExtractError::NotText(_) => "not_text",
            ExtractError::EmptyText => "empty_text",
        }
    }
}

/// Extracts the main text of an HTML page, mathematics kept as LaTeX.
///
/// `body` is the HTTP response body (transfer and content encodings already undone);
/// `http_content_type` the response's `Content-Type` header value, if any (its `charset` wins).
/// Pure and thread-safe: no I/O, no global state. Never panics on malformed HTML.
///
/// Errors: [`ExtractError::EmptyBody`], [`ExtractError::NotText`] (binary bytes, or a declared
/// non-text type such as `image/png`), [`ExtractError::EmptyText`].
pub fn extract(body: &[u8], http_content_type: Option<&str>) -> Result<Extracted, ExtractError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ExtractError::EmptyBody);
    }
    if let Some(ct) = http_content_type {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let texty = mime.is_empty()
            || mime.starts_with("text/")
            || mime.contains("html")
            || mime.contains("xml")
            || mime == "application/octet-stream";
        if !texty {
            return Err(ExtractError::NotText(format!("content type {mime}")));
        }
    }
    if let Some(why) = binary_signature(body) {
        return Err(ExtractError::NotText(why.to_string()));
    }
    let (enc, source) = charset::sniff(body, http_content_type);
    let html = charset::decode(body, enc);
    let dom = dom::Dom::parse(&html);
    let page = render::render_page(&dom);
    if page.text.is_empty() {
        return Err(ExtractError::EmptyText);
    }
    Ok(Extracted { text: page.text, title: page.title, charset: enc.name(), charset_source: source, formulas: page.formulas })
}

/// A reason when the bytes are clearly not text: a binary magic number, or NUL bytes in the
/// first KiB (UTF-16 pages with a BOM excepted).
fn binary_signature(body: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "pdf signature"),
        (b"\x89PNG", "png signature"),
        (b"\xFF\xD8\xFF", "jpeg signature"),
        (b"GIF8", "gif signature"),
        (b"PK\x03\x04", "zip signature"),
        (b"\x1F\x8B", "gzip signature"),
        (b"RIFF", "riff signature"),
        (b"\x00\x00\x01\x00", "ico signature"),
        (b"wOF", "font signature"),
    ];
    for (m, why) in MAGIC {
        if body.starts_with(m) {
            return Some(why);
        }
    }
    let is_utf16 = body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF");
    let head = &body[..body.len().min(1024)];
    if !is_utf16 && head.iter().filter(|&&b| b == 0).count() > 1 {
        return Some("nul bytes");
    }
    None
}

#[cfg(test)]
mod tests;
