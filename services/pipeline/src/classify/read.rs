//! Reading seed (positive) and negative documents out of JSONL or plain-text files.

use std::io::{BufRead, BufReader, Read};

use crate::stats::Counters;

use super::ClassifyError;

/// Where a document's text comes from, and how plain text splits into documents.
///
/// JSONL: each line is one JSON object; the first group of `field_groups` whose fields are all
/// present as text ([`crate::fields::field_text`]: strings, numbers, lists of them; a field may be
/// a path such as `messages.0.content`) supplies the text, its fields joined with a blank line
/// (`"\n\n"`). Plain text: one document per line when `doc_per_line`, else one document per block
/// of lines separated by whitespace-only lines; a file with no blank line at all is read one
/// document per line (a headline list, or one paragraph per line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFields {
    /// Candidate field groups, tried in order.
    pub field_groups: Vec<Vec<String>>,
    /// Plain text only: one document per non-blank line instead of per blank-line-separated block.
    pub doc_per_line: bool,
}

impl Default for TextFields {
    /// `text`, else `raw_content` (CCNet's output), `question`+`answer` (GSM8K), `Q`+`A` (StackMathQA), `problem`+`solution`
    /// (MATH), `problem`+`answer_analysis` (TAL-SCQ5K), `original_text`+`equation` (Ape210K),
    /// `question` alone (CMATH, Gaokao); plain text split into blank-line-separated blocks.
    fn default() -> Self {
        let g = |fs: &[&str]| fs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        TextFields {
            field_groups: vec![
                g(&["text"]),
                g(&["raw_content"]),
                g(&["question", "answer"]),
                g(&["Q", "A"]),
                g(&["problem", "solution"]),
                g(&["problem", "answer_analysis"]),
                g(&["original_text", "equation"]),
                g(&["question"]),
            ],
            doc_per_line: false,
        }
    }
}

impl TextFields {
    /// Only the given fields, joined with a blank line (e.g. `&["title", "body"]`).
    pub fn only(fields: &[&str]) -> Self {
        TextFields {
            field_groups: vec![fields.iter().map(|s| s.to_string()).collect()],
            doc_per_line: false,
        }
    }
}

/// The documents read from one file and what was skipped, by reason.
///
/// Skip reasons: `bad_json` (a line that is not a JSON object), `no_text_field` (no field group
/// fully present), `empty_text` (the text is whitespace only), `invalid_utf8` (a line that is not
/// UTF-8), `truncated_stream` (the compressed stream or the reader failed mid-file: the documents
/// before it are kept, the rest of the file is lost, counted once).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadDocuments {
    /// Document texts, raw (not normalised), in file order.
    pub documents: Vec<String>,
    /// Skipped lines or blocks by snake_case reason.
    pub skipped: Counters,
}

/// Compression of a document file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Reads documents from `reader`, a JSONL or plain-text file named `name`, plain or compressed.
///
/// Compression is detected from the magic bytes (gzip `1f 8b`, zstd `28 b5 2f fd`), so a
/// misnamed file still reads; the name's compression suffix (`.gz`, `.zst`) is stripped before
/// the format is judged. Format: JSONL when the name (less its compression suffix) ends
/// in `.jsonl`, `.ndjson` or `.json`, plain text when it ends in `.txt`, else JSONL when the first
/// non-whitespace byte is `{`. Multi-member gzip is read to its end.
///
/// Errors: [`ClassifyError::Io`] only when the stream cannot be opened at all (e.g. a zstd frame
/// header that does not parse). Bad lines and a stream that breaks mid-file are counted in
/// [`ReadDocuments::skipped`], never fatal.
pub fn read_documents(
    name: &str,
    reader: impl Read,
    fields: &TextFields,
) -> Result<ReadDocuments, ClassifyError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(ClassifyError::Io)?;
    let lower = name.to_ascii_lowercase();
    let compression = if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    };
    let decoded: Box<dyn BufRead + '_> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 16,
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(ClassifyError::Io)?,
        )),
    };
    let stem = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".zst"))
        .or_else(|| lower.strip_suffix(".zstd"))
        .unwrap_or(&lower);
    let mut decoded = decoded;
    let jsonl = if [".jsonl", ".ndjson", ".json"]
        .iter()
        .any(|s| stem.ends_with(s))
    {
        true
    } else if stem.ends_with(".txt") {
        false
    } else {
        match decoded.fill_buf() {
            Ok(b) => b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'),
            Err(_) => false,
        }
    };
    let mut out = ReadDocuments::default();
    if jsonl {
        read_jsonl(decoded, fields, &mut out);
    } else {
        read_text(decoded, fields.doc_per_line, &mut out);
    }
    Ok(out)
}

/// Calls `f` with each line (without its `\n` / `\r\n`), counting a mid-stream failure as
/// `truncated_stream`.
fn for_each_line(
    mut r: impl BufRead,
    out: &mut ReadDocuments,
    mut f: impl FnMut(Result<&str, ()>, &mut ReadDocuments),
) {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "document stream ended early");
                out.skipped.incr("truncated_stream");
                return;
            }
        }
        let mut line: &[u8] = &buf;
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        f(std::str::from_utf8(line).map_err(|_| ()), out);
    }
}

fn read_jsonl(r: impl BufRead, fields: &TextFields, out: &mut ReadDocuments) {
    for_each_line(r, out, |line, out| {
        let Ok(line) = line else {
            out.skipped.incr("invalid_utf8");
            return;
        };
        if line.trim().is_empty() {
            return; // blank lines separate nothing in JSONL; not a document, not a fault
        }
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(line)
        else {
            out.skipped.incr("bad_json");
            return;
        };
        let text = fields.field_groups.iter().find_map(|group| {
            let parts: Option<Vec<String>> = group
                .iter()
                .map(|f| match crate::fields::field_text(&obj, f) {
                    crate::fields::FieldText::Text(t) => Some(t.into_owned()),
                    _ => None,
                })
                .collect();
            parts.filter(|p| !p.is_empty()).map(|p| p.join("\n\n"))
        });
        match text {
            None => out.skipped.incr("no_text_field"),
            Some(t) if t.trim().is_empty() => out.skipped.incr("empty_text"),
            Some(t) => out.documents.push(t),
        }
    });
}

fn read_text(r: impl BufRead, doc_per_line: bool, out: &mut ReadDocuments) {
    let mut block = String::new();
    for_each_line(r, out, |line, out| {
        let Ok(line) = line else {
            out.skipped.incr("invalid_utf8");
            return;
        };
        let blank = line.trim().is_empty();
        if doc_per_line {
            if !blank {
                out.documents.push(line.to_string());
            }
        } else if blank {
            if !block.is_empty() {
                out.documents.push(std::mem::take(&mut block));
            }
        } else {
            if !block.is_empty() {
                block.push('\n');
            }
            block.push_str(line);
        }
    });
    if !block.is_empty() {
        out.documents.push(block);
    }
    if !doc_per_line && out.documents.len() == 1 && out.documents[0].contains('\n') {
        // Not one blank line between two lines of the file: a list of lines (headlines, one
        // paragraph per line), not one document the size of the file.
        let whole = out.documents.pop().unwrap_or_default();
        out.documents.extend(whole.lines().map(str::to_string));
    }
}
