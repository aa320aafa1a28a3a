//! The per-shard files a worker leaves in the object store, and their row types.
//!
//! - **scored-page file** (`scored/<shard>.jsonl.zst`): one [`ScoredPage`] per HTML page of the
//!   shard. Later steps (selection, host statistics, seed growth) read these, never the crawl.
//! - **text file** (`texts/<shard>.jsonl.zst`): one [`PageText`] per page whose score reached the
//!   run's text floor; the corpus writer reads the kept pages' text from it.
//!
//! Both are JSON Lines compressed with zstd, the format of the dolma toolkit's files.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};

/// One scored HTML page: where it is, what it scored, how long it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPage {
    /// Document id: the WARC-Record-ID's UUID (stable across copies of the shard).
    pub id: String,
    /// WARC-Target-URI.
    pub url: String,
    /// Host (the domain of the 10% rule), see [`crate::domain`].
    pub host: String,
    /// Registrable domain of the host.
    pub domain: String,
    /// Classifier score, P(math) in [0, 1].
    pub score: f32,
    /// Token count of the extracted text.
    pub tokens: u64,
    /// Hex SHA-256 (first 16 bytes) of the extracted text: exact-duplicate key.
    pub content_hash: String,
    /// Offset in bytes of the record's gzip member (or record, for plain WARC) in the stored shard.
    pub warc_offset: u64,
    /// Compressed length in bytes of the record's gzip member(s).
    pub warc_length: u64,
    /// WARC-Date of the capture, when present.
    pub date: Option<String>,
    /// Language of the extracted text, ISO 639-1 ([`crate::lang::identify`]); `und` when it
    /// could not be told, and in files written before languages were identified.
    #[serde(default = "undetermined")]
    pub lang: String,
}

fn undetermined() -> String {
    crate::lang::UNDETERMINED.to_string()
}

/// The extracted text of one page, keyed by [`ScoredPage::id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageText {
    /// Document id, as in [`ScoredPage::id`].
    pub id: String,
    /// Main text with mathematics as LaTeX.
    pub text: String,
}

/// Errors reading a JSONL.zst file.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    /// The bytes are not a zstd stream, or reading failed.
    #[error("reading rows: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a valid row.
    #[error("bad row on line {line}: {source}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// Writes `rows` as zstd-compressed JSON Lines into `out` (level 3).
pub fn write_rows<T: Serialize, W: Write>(rows: &[T], out: W) -> std::io::Result<W> {
    let mut enc = zstd::Encoder::new(out, 3)?;
    for row in rows {
        serde_json::to_writer(&mut enc, row)?;
        enc.write_all(b"\n")?;
    }
    enc.finish()
}

/// Encodes `rows` as zstd-compressed JSON Lines in memory.
pub fn encode_rows<T: Serialize>(rows: &[T]) -> Vec<u8> {
    write_rows(rows, Vec::new()).expect("writing to memory cannot fail")
}

/// Reads zstd-compressed JSON Lines rows.
pub fn read_rows<T: DeserializeOwned, R: Read>(input: R) -> Result<Vec<T>, RowsError> {
    rows(input)?.collect()
}

/// Streams zstd-compressed JSON Lines rows one at a time (memory: one line), skipping blank
/// lines. Errors: [`RowsError::Io`] when `input` is not a zstd stream (here, or from the
/// iterator when it breaks later), [`RowsError::Json`] for a line that is not a row.
pub fn rows<T: DeserializeOwned, R: Read>(input: R) -> Result<Rows<T, R>, RowsError> {
    Ok(Rows { lines: BufReader::new(zstd::Decoder::new(input)?).lines(), line: 0, row: std::marker::PhantomData })
}

/// The iterator of [`rows`]: one `Result` per non-blank line.
pub struct Rows<T, R: Read> {
    lines: std::io::Lines<BufReader<zstd::Decoder<'static, BufReader<R>>>>,
    line: usize,
    row: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned, R: Read> Iterator for Rows<T, R> {
    type Item = Result<T, RowsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(e.into())),
            };
            self.line += 1;
            if !line.trim().is_empty() {
                return Some(serde_json::from_str(&line).map_err(|source| RowsError::Json { line: self.line, source }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_bad_rows_name_their_line() {
        let rows = vec![
            PageText { id: "a".into(), text: "x^2 + 1\n\nsecond paragraph".into() },
            PageText { id: "b".into(), text: "é ≠ 0".into() },
        ];
        let bytes = encode_rows(&rows);
        let back: Vec<PageText> = read_rows(&bytes[..]).unwrap();
        assert_eq!(back, rows);

        let bad = encode_rows(&[serde_json::json!({"id": "a"})]);
        match read_rows::<PageText, _>(&bad[..]) {
            Err(RowsError::Json { line, .. }) => assert_eq!(line, 1),
            other => panic!("expected a json error, got {other:?}"),
        }
        assert!(read_rows::<PageText, _>(&b"not zstd"[..]).is_err());
    }
}
