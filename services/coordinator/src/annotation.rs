//! Step 5 of the paper's loop (arXiv 2402.03300 §2.1): hosts whose kept ratio passed the rule are
//! proposed with sample kept pages, and people mark URL path prefixes in them
//! (`mathoverflow.net/questions`) as math or not math.
//!
//! - [`normalize_prefix`] / [`prefix_matches`]: the one spelling of a prefix, and which URLs it
//!   covers (whole path segments only).
//! - [`parse_annotations`]: an annotations file (CSV or JSON) into [`NewAnnotation`]s, all rows
//!   or an error naming the bad line.
//! - [`proposals_with_samples`]: the proposed hosts with their best kept pages, read from the
//!   iteration's scored-page files.
//! - [`proposals_csv`] / [`proposals_json`]: the export of `corpusminer domains export`.

use crate::selection::HostStat;
use chrono::{DateTime, Utc};
use corpusminer_pipeline::histogram::{bucket_of, Selection};
use corpusminer_pipeline::scored::ScoredPage;
use corpusminer_storage::metastore::{Annotation, Label, NewAnnotation, Proposal, ShardRow};
use corpusminer_storage::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Sample pages kept per proposed host when none is asked for.
pub const DEFAULT_SAMPLES: usize = 5;

/// Errors of prefixes, annotation files and proposal samples.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// The text is not a URL path prefix (no host, or a host with characters hosts do not have).
    #[error("{prefix:?} is not a URL path prefix: {reason}")]
    BadPrefix {
        /// The text given.
        prefix: String,
        /// Why it was refused.
        reason: String,
    },
    /// A row of an annotations file is invalid; nothing of the file is stored.
    #[error("line {line}: {message}")]
    Row {
        /// 1-based line of the file where the row starts (JSON: where the error was found).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file as a whole is unusable: no header, a missing or unknown column, no rows.
    #[error("{0}")]
    File(String),
    /// A scored-page file could not be read.
    #[error("{key}: {message}")]
    Scored {
        /// Object key.
        key: String,
        /// The cause.
        message: String,
    },
}

fn bad_prefix(prefix: &str, reason: &str) -> AnnotationError {
    AnnotationError::BadPrefix {
        prefix: prefix.to_string(),
        reason: reason.to_string(),
    }
}

/// Splits a URL or prefix into (host, path): scheme, user info, port, query and fragment
/// dropped; host lowercased without a trailing dot or a leading `www.` (as
/// `corpusminer_pipeline::domain` names hosts); path without trailing slashes ("" or `/a/b`).
fn host_and_path(s: &str) -> Result<(String, String), &'static str> {
    let mut rest = s.trim();
    if let Some(i) = rest.find("://") {
        let scheme = &rest[..i];
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            rest = &rest[i + 3..];
        }
    }
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = match authority.rfind(':') {
        Some(i)
            if !authority[i + 1..].is_empty()
                && authority[i + 1..].bytes().all(|b| b.is_ascii_digit())
                && !authority.ends_with(']') =>
        {
            &authority[..i]
        }
        Some(i) if i + 1 == authority.len() => &authority[..i],
        _ => authority,
    };
    let host = host.trim_end_matches('.').to_lowercase();
    if host.is_empty() {
        return Err("no host");
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "/\\<>\"'{}|^`,;".contains(c))
    {
        return Err("the host has characters hosts do not have");
    }
    let host = match host.strip_prefix("www.") {
        Some(h) if h.contains('.') => h.to_string(),
        _ => host,
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the path has spaces or control characters (percent-encode them)");
    }
    Ok((host, path.trim_end_matches('/').to_string()))
}

/// The one spelling of a URL path prefix: `https://www.MathOverflow.net/questions/` ->
/// `mathoverflow.net/questions`. Scheme, user info, port, query and fragment are dropped; the
/// host is lowercased without `www.`; the path keeps its case and loses trailing slashes. A host
/// alone (`mathoverflow.net`) is a prefix too. Errors: [`AnnotationError::BadPrefix`].
pub fn normalize_prefix(prefix: &str) -> Result<String, AnnotationError> {
    let (host, path) = host_and_path(prefix).map_err(|r| bad_prefix(prefix, r))?;
    Ok(format!("{host}{path}"))
}

/// Whether the normalised `prefix` is on `host` (as scored: lowercase, no `www.`): the host
/// itself or a path of it (`a.com`, `a.com/q`), not another host (`b.a.com`, `a.community`).
pub fn prefix_on_host(prefix: &str, host: &str) -> bool {
    prefix.strip_prefix(host).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether the normalised `prefix` covers `url`, on whole path segments: `a.com/q` matches
/// `https://a.com/q`, `a.com/q/`, `a.com/q/1?x=2`, not `a.com/qq`; `a.com` matches every page of
/// the host `a.com` (not of `b.a.com`). A URL that does not parse matches nothing.
pub fn prefix_matches(prefix: &str, url: &str) -> bool {
    let Ok((host, path)) = host_and_path(url) else {
        return false;
    };
    let Some(rest) = prefix.strip_prefix(host.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    if !rest.starts_with('/') {
        return false;
    }
    match path.strip_prefix(rest) {
        Some(tail) => tail.is_empty() || tail.starts_with('/'),
        None => false,
    }
}

/// The annotation that decides `url`: of the `annotations` (current ones, see
/// `Metastore::annotations(false)`) whose prefix matches, the longest (most specific).
pub fn label_of<'a>(url: &str, annotations: &'a [Annotation]) -> Option<&'a Annotation> {
    deciding_index(url, annotations).map(|i| &annotations[i])
}

/// The position in `annotations` of the one that decides `url` ([`label_of`]).
pub fn deciding_index(url: &str, annotations: &[Annotation]) -> Option<usize> {
    annotations
        .iter()
        .enumerate()
        .filter(|(_, a)| prefix_matches(&a.prefix, url))
        .max_by_key(|(_, a)| a.prefix.len())
        .map(|(i, _)| i)
}

/// The annotator of rows that name none when `--annotator` is not given: the OS user of this
/// process from the password database (`getpwuid_r`, so a shell without `$USER` still names
/// its user), else `$USER`, else `uid:<n>` (a uid without a passwd entry, as in containers).
pub fn default_annotator() -> String {
    let non_empty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(name) = whoami::fallible::username().ok().and_then(non_empty) {
        return name;
    }
    if let Some(name) = std::env::var("USER").ok().and_then(non_empty) {
        return name;
    }
    format!("uid:{}", current_uid())
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    u32::MAX
}

/// What an annotations file's rows get when they leave the optional fields empty.
#[derive(Debug, Clone)]
pub struct ImportDefaults {
    /// Annotator of rows without one (see [`default_annotator`]).
    pub annotator: String,
    /// Time of rows without `created_at` (one time for the whole file: ties keep file order).
    pub now: DateTime<Utc>,
}

impl Default for ImportDefaults {
    fn default() -> Self {
        ImportDefaults {
            annotator: default_annotator(),
            now: Utc::now(),
        }
    }
}

/// Format of an annotations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// A header row naming the columns `prefix`, `label` and optionally `annotator`, `note`,
    /// `created_at` (any order, any case), then one annotation per row (RFC 4180 quoting).
    Csv,
    /// An array of objects with those fields, or one object per line (JSON Lines).
    Json,
}

impl ImportFormat {
    /// By extension (`.csv`; `.json`, `.jsonl`, `.ndjson`), else by the first character
    /// (`[` or `{`: JSON).
    pub fn detect(path: &str, text: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            ImportFormat::Csv
        } else if [".json", ".jsonl", ".ndjson"]
            .iter()
            .any(|e| lower.ends_with(e))
            || text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with(['[', '{'])
        {
            ImportFormat::Json
        } else {
            ImportFormat::Csv
        }
    }
}

/// The fields of one row before defaults: validated but for the optional ones left empty.
#[derive(Debug, Clone)]
struct RowFields {
    prefix: String,
    label: Label,
    annotator: Option<String>,
    note: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn row_fields(
    prefix: Option<&str>,
    label: Option<&str>,
    annotator: Option<&str>,
    note: Option<&str>,
    created_at: Option<&str>,
) -> Result<RowFields, String> {
    let prefix = non_empty(prefix).ok_or("no prefix")?;
    let prefix = normalize_prefix(prefix).map_err(|e| e.to_string())?;
    let label = non_empty(label)
        .ok_or("no label (math or nonmath)")?
        .parse::<Label>()?;
    let created_at = match non_empty(created_at) {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("created_at {t:?} is not RFC 3339: {e}"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Ok(RowFields {
        prefix,
        label,
        annotator: non_empty(annotator).map(String::from),
        note: non_empty(note).map(String::from),
        created_at,
    })
}

fn with_defaults(f: RowFields, d: &ImportDefaults) -> NewAnnotation {
    NewAnnotation {
        prefix: f.prefix,
        label: f.label,
        annotator: f.annotator.unwrap_or_else(|| d.annotator.clone()),
        created_at: f.created_at.unwrap_or(d.now),
        note: f.note,
        settles: false,
    }
}

/// Splits CSV text into records with the 1-based line each starts on (RFC 4180: `,`
/// separators, `"` quoting with `""` for a quote, line breaks inside quotes). Blank lines are
/// skipped.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, AnnotationError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut start_line) = (1usize, 1usize);
    let (mut in_quotes, mut was_quoted, mut record_has_content) = (false, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                in_quotes = true;
                was_quoted = true;
                record_has_content = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
                record_has_content = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if record_has_content || !field.trim().is_empty() {
                    fields.push(std::mem::take(&mut field));
                    records.push((start_line, std::mem::take(&mut fields)));
                }
                field.clear();
                was_quoted = false;
                record_has_content = false;
                line += 1;
                start_line = line;
            }
            _ if was_quoted => {
                if !c.is_whitespace() {
                    return Err(AnnotationError::Row {
                        line,
                        message: format!("text {c:?} after a closing quote"),
                    });
                }
            }
            _ => {
                field.push(c);
                record_has_content = true;
            }
        }
    }
    if in_quotes {
        return Err(AnnotationError::Row {
            line: start_line,
            message: "a quoted field is not closed".into(),
        });
    }
    if record_has_content || !field.trim().is_empty() {
        fields.push(field);
        records.push((start_line, fields));
    }
    Ok(records)
}

/// The columns of an annotations file.
const COLUMNS: [&str; 5] = ["prefix", "label", "annotator", "note", "created_at"];

/// Parses a CSV annotations file (see [`ImportFormat::Csv`]). Errors: [`AnnotationError::File`]
/// for a missing or unknown column or no rows, [`AnnotationError::Row`] naming the first bad line.
pub fn parse_csv(
    text: &str,
    defaults: &ImportDefaults,
) -> Result<Vec<NewAnnotation>, AnnotationError> {
    let mut records = csv_records(text)?.into_iter();
    let (_, header) = records.next().ok_or_else(|| {
        AnnotationError::File("empty file: expected a header with prefix,label".into())
    })?;
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        let known = COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
            AnnotationError::File(format!(
                "unknown column {name:?}: expected {}",
                COLUMNS.join(", ")
            ))
        })?;
        if col.insert(known, i).is_some() {
            return Err(AnnotationError::File(format!(
                "column {name:?} given twice"
            )));
        }
    }
    for required in ["prefix", "label"] {
        if !col.contains_key(required) {
            return Err(AnnotationError::File(format!(
                "no {required:?} column (header: {})",
                header.join(",")
            )));
        }
    }
    let mut out = Vec::new();
    for (line, fields) in records {
        if fields.len() > header.len() {
            return Err(AnnotationError::Row {
                line,
                message: format!("{} fields, the header has {}", fields.len(), header.len()),
            });
        }
        let get = |name: &str| {
            col.get(name)
                .and_then(|&i| fields.get(i))
                .map(String::as_str)
        };
        let f = row_fields(
            get("prefix"),
            get("label"),
            get("annotator"),
            get("note"),
            get("created_at"),
        )
        .map_err(|message| AnnotationError::Row { line, message })?;
        out.push(with_defaults(f, defaults));
    }
    if out.is_empty() {
        return Err(AnnotationError::File(
            "no annotations: the file has a header only".into(),
        ));
    }
    Ok(out)
}

/// A JSON row, each field validated while it is parsed so that serde_json reports the line of
/// the object it is in (a check after parsing would only get the position of the array's end).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    #[serde(deserialize_with = "de_prefix")]
    prefix: String,
    #[serde(deserialize_with = "de_label")]
    label: Label,
    #[serde(default)]
    annotator: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default, deserialize_with = "de_time")]
    created_at: Option<DateTime<Utc>>,
}

fn de_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let s = non_empty(Some(&s)).ok_or_else(|| serde::de::Error::custom("no prefix"))?;
    normalize_prefix(s).map_err(serde::de::Error::custom)
}

fn de_label<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Label, D::Error> {
    String::deserialize(d)?
        .parse::<Label>()
        .map_err(serde::de::Error::custom)
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(t) if !t.trim().is_empty() => DateTime::parse_from_rfc3339(t.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| {
                serde::de::Error::custom(format!("created_at {t:?} is not RFC 3339: {e}"))
            }),
        _ => Ok(None),
    }
}

impl From<JsonRow> for RowFields {
    fn from(r: JsonRow) -> Self {
        RowFields {
            prefix: r.prefix,
            label: r.label,
            annotator: non_empty(r.annotator.as_deref()).map(String::from),
            note: non_empty(r.note.as_deref()).map(String::from),
            created_at: r.created_at,
        }
    }
}

fn json_error(e: serde_json::Error) -> AnnotationError {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    AnnotationError::Row {
        line: e.line().max(1),
        message,
    }
}

/// Parses a JSON annotations file (see [`ImportFormat::Json`]); fields as in
/// [`ImportFormat::Csv`], unknown fields refused. Errors: [`AnnotationError::Row`] with the line
/// where the bad row was found, [`AnnotationError::File`] when there is no row.
pub fn parse_json(
    text: &str,
    defaults: &ImportDefaults,
) -> Result<Vec<NewAnnotation>, AnnotationError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows: Vec<JsonRow> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(json_error)?
    } else {
        serde_json::Deserializer::from_str(text)
            .into_iter::<JsonRow>()
            .collect::<Result<_, _>>()
            .map_err(json_error)?
    };
    if rows.is_empty() {
        return Err(AnnotationError::File("no annotations in the file".into()));
    }
    Ok(rows
        .into_iter()
        .map(|r| with_defaults(r.into(), defaults))
        .collect())
}

/// Parses an annotations file of either format ([`ImportFormat::detect`] on `path` and `text`).
/// All rows or an error: the caller stores nothing unless this succeeds.
pub fn parse_annotations(
    path: &str,
    text: &str,
    defaults: &ImportDefaults,
) -> Result<Vec<NewAnnotation>, AnnotationError> {
    match ImportFormat::detect(path, text) {
        ImportFormat::Csv => parse_csv(text, defaults),
        ImportFormat::Json => parse_json(text, defaults),
    }
}

/// Keeps the best `n` distinct URLs of `pages` (score descending, then URL).
fn top_n(pages: &mut Vec<(String, f32)>, n: usize) {
    pages.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut seen = HashSet::new();
    pages.retain(|(url, _)| seen.insert(url.clone()));
    pages.truncate(n);
}

/// The `proposed` hosts as [`Proposal`]s with up to `n` sample pages each: the host's kept pages
/// (score in `selection`'s bucket or above) with the highest scores, distinct URLs, read from the
/// scored-page files of the done `shards` (`ShardRow::scored_key`, a key in `store`). Memory is
/// O(hosts x n) whatever the shard sizes. Errors: [`AnnotationError::Scored`] when a file cannot
/// be read.
pub async fn proposals_with_samples(
    store: &Arc<dyn ObjectStore>,
    shards: &[ShardRow],
    selection: &Selection,
    proposed: &[HostStat],
    n: usize,
) -> Result<Vec<Proposal>, AnnotationError> {
    let mut samples: HashMap<&str, Vec<(String, f32)>> = proposed
        .iter()
        .map(|h| (h.host.as_str(), Vec::new()))
        .collect();
    if n > 0 && !samples.is_empty() {
        for key in shards.iter().filter_map(|s| s.scored_key.as_deref()) {
            let err = |message: String| AnnotationError::Scored {
                key: key.to_string(),
                message,
            };
            let bytes = store.get(key).await.map_err(|e| err(e.to_string()))?;
            let pages: Vec<ScoredPage> = crate::cpu::decode_rows(bytes).await.map_err(|e| err(e.to_string()))?;
            for p in pages {
                if bucket_of(p.score) < selection.bucket {
                    continue;
                }
                if let Some(v) = samples.get_mut(p.host.as_str()) {
                    v.push((p.url, p.score));
                    if v.len() >= 4 * n + 16 {
                        top_n(v, n);
                    }
                }
            }
        }
    }
    Ok(proposed
        .iter()
        .map(|h| {
            let mut s = samples.remove(h.host.as_str()).unwrap_or_default();
            top_n(&mut s, n);
            Proposal {
                host: h.host.clone(),
                domain: h.domain.clone(),
                pages: h.pages,
                kept_pages: h.kept_pages,
                tokens: h.tokens,
                kept_tokens: h.kept_tokens,
                ratio: h.ratio,
                samples: s,
            }
        })
        .collect())
}

/// One sample page in the export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleOut {
    /// Page URL.
    pub url: String,
    /// Classifier score P(math).
    pub score: f32,
}

/// One proposal in the export (JSON objects; CSV rows with `samples` as JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalOut {
    /// Host.
    pub host: String,
    /// Registrable domain.
    pub domain: String,
    /// Pages scored.
    pub pages: u64,
    /// Pages kept.
    pub kept_pages: u64,
    /// Tokens scored.
    pub tokens: u64,
    /// Tokens kept.
    pub kept_tokens: u64,
    /// kept_pages / pages.
    pub ratio: f64,
    /// Best kept pages, best first.
    pub samples: Vec<SampleOut>,
}

/// `corpusminer domains export --format json`: `{"iteration": N, "proposals": [ProposalOut]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalsExport {
    /// The iteration that proposed them.
    pub iteration: i64,
    /// The proposed hosts, most kept pages first.
    pub proposals: Vec<ProposalOut>,
}

impl From<&Proposal> for ProposalOut {
    fn from(p: &Proposal) -> Self {
        ProposalOut {
            host: p.host.clone(),
            domain: p.domain.clone(),
            pages: p.pages,
            kept_pages: p.kept_pages,
            tokens: p.tokens,
            kept_tokens: p.kept_tokens,
            ratio: p.ratio,
            samples: p
                .samples
                .iter()
                .map(|(url, score)| SampleOut {
                    url: url.clone(),
                    score: *score,
                })
                .collect(),
        }
    }
}

/// The JSON export of an iteration's proposals (pretty-printed, see [`ProposalsExport`]).
pub fn proposals_json(iteration: i64, proposals: &[Proposal]) -> String {
    let export = ProposalsExport {
        iteration,
        proposals: proposals.iter().map(ProposalOut::from).collect(),
    };
    serde_json::to_string_pretty(&export).expect("proposals serialise")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV export (RFC 4180) of an iteration's proposals: header `iteration,host,domain,pages,
/// kept_pages,tokens,kept_tokens,ratio,samples`, one row per host; `samples` is the JSON array of
/// `{"url", "score"}` objects, best first.
pub fn proposals_csv(iteration: i64, proposals: &[Proposal]) -> String {
    let mut out =
        String::from("iteration,host,domain,pages,kept_pages,tokens,kept_tokens,ratio,samples\n");
    for p in proposals {
        let o = ProposalOut::from(p);
        let samples = serde_json::to_string(&o.samples).expect("samples serialise");
        out.push_str(&format!(
            "{iteration},{},{},{},{},{},{},{:.6},{}\n",
            csv_field(&o.host),
            csv_field(&o.domain),
            o.pages,
            o.kept_pages,
            o.tokens,
            o.kept_tokens,
            o.ratio,
            csv_field(&samples)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ImportDefaults {
        ImportDefaults {
            annotator: "tester".into(),
            now: DateTime::parse_from_rfc3339("2024-06-01T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn prefixes_normalise_to_host_and_path() {
        let n = |s: &str| normalize_prefix(s).unwrap();
        assert_eq!(
            n("https://www.MathOverflow.net/questions/"),
            "mathoverflow.net/questions"
        );
        assert_eq!(
            n("mathoverflow.net/questions"),
            "mathoverflow.net/questions"
        );
        assert_eq!(
            n("  http://user@Math.StackExchange.com:443/Questions//?tab=votes#x "),
            "math.stackexchange.com/Questions"
        );
        assert_eq!(n("www.example.org"), "example.org");
        assert_eq!(
            n("https://www.com/"),
            "www.com",
            "www. stays when nothing is left but a TLD"
        );
        assert_eq!(n("EXAMPLE.org./a/b/"), "example.org/a/b");
        assert_eq!(n("http://127.0.0.1:8080/wiki"), "127.0.0.1/wiki");
        for bad in [
            "",
            "   ",
            "https:///questions",
            "/questions",
            "a b.com/x",
            "a.com/x y",
        ] {
            assert!(
                matches!(
                    normalize_prefix(bad),
                    Err(AnnotationError::BadPrefix { .. })
                ),
                "{bad:?} refused"
            );
        }
    }

    #[test]
    fn prefixes_match_on_path_segment_boundaries() {
        assert!(prefix_matches("a.com/q", "https://a.com/q/1"));
        assert!(prefix_matches("a.com/q", "http://www.A.com/q"));
        assert!(prefix_matches("a.com/q", "https://a.com/q/"));
        assert!(prefix_matches("a.com/q", "https://a.com/q?page=2"));
        assert!(!prefix_matches("a.com/q", "https://a.com/qq"));
        assert!(!prefix_matches("a.com/q", "https://a.com/"));
        assert!(!prefix_matches("a.com/q", "https://b.com/q/1"));
        assert!(prefix_matches("a.com", "https://a.com/anything/at/all"));
        assert!(prefix_matches("a.com", "https://a.com"));
        assert!(
            !prefix_matches("a.com", "https://b.a.com/x"),
            "a host prefix does not cover subdomains"
        );
        assert!(!prefix_matches("a.com", "https://a.com.evil.net/x"));
        assert!(!prefix_matches("a.co", "https://a.com/x"));
        assert!(
            !prefix_matches(
                "mathoverflow.net/questions",
                "https://mathoverflow.net/Questions/1"
            ),
            "paths are case-sensitive"
        );
        assert!(!prefix_matches("a.com", "not a url"));
    }

    #[test]
    fn a_prefix_is_on_its_host_and_no_other() {
        assert!(prefix_on_host("a.com", "a.com") && prefix_on_host("a.com/q/1", "a.com"));
        assert!(!prefix_on_host("b.a.com", "a.com") && !prefix_on_host("a.community", "a.com") && !prefix_on_host("a.co", "a.com"));
    }

    #[test]
    fn the_longest_matching_prefix_decides() {
        let at = defaults().now;
        let a = |id, prefix: &str, label| Annotation {
            id,
            prefix: prefix.into(),
            label,
            annotator: "x".into(),
            created_at: at,
            note: None,
            settles: false,
        };
        let current = vec![
            a(1, "mathoverflow.net", Label::Math),
            a(2, "mathoverflow.net/users", Label::Nonmath),
        ];
        assert_eq!(
            label_of("https://mathoverflow.net/users/12/ada", &current).map(|a| a.id),
            Some(2)
        );
        assert_eq!(
            label_of("https://mathoverflow.net/questions/3", &current).map(|a| a.id),
            Some(1)
        );
        assert!(label_of("https://math.stackexchange.com/q/1", &current).is_none());
    }

    #[test]
    fn csv_import_reads_quoted_fields_and_applies_defaults() {
        let csv = "\u{feff}Prefix,label,note,annotator,created_at\r\n\
                   https://www.MathOverflow.net/questions/,math,\"research Q&A, \"\"MO\"\"\",ada,2024-05-01T10:00:00+02:00\r\n\
                   \r\n\
                   mathoverflow.net/users,nonmath,\"profiles\nonly\",,\r\n\
                   math.stackexchange.com,Math,,,\n";
        let rows = parse_csv(csv, &defaults()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].prefix, "mathoverflow.net/questions");
        assert_eq!(rows[0].note.as_deref(), Some("research Q&A, \"MO\""));
        assert_eq!(rows[0].annotator, "ada");
        assert_eq!(rows[0].created_at.to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert_eq!(
            (rows[1].label, rows[1].note.as_deref()),
            (Label::Nonmath, Some("profiles\nonly"))
        );
        assert_eq!(
            (rows[1].annotator.as_str(), rows[1].created_at),
            ("tester", defaults().now)
        );
        assert_eq!(
            (rows[2].label, rows[2].note.as_deref()),
            (Label::Math, None)
        );
        // The minimal file: two columns.
        assert_eq!(
            parse_csv("label,prefix\nnonmath,a.com/tags", &defaults()).unwrap()[0].prefix,
            "a.com/tags"
        );
    }

    #[test]
    fn bad_csv_files_name_the_line_and_yield_nothing() {
        let row_err = |csv: &str| match parse_csv(csv, &defaults()) {
            Err(AnnotationError::Row { line, message }) => (line, message),
            other => panic!("expected a row error for {csv:?}, got {other:?}"),
        };
        let (line, msg) = row_err("prefix,label\na.com/q,math\n\nb.com,maybe\n");
        assert_eq!(line, 4);
        assert!(msg.contains("maybe"), "{msg}");
        let (line, msg) = row_err("prefix,label\na.com/q,math\n,math\n");
        assert_eq!((line, msg.as_str()), (3, "no prefix"));
        let (line, msg) =
            row_err("prefix,label,note\na.com/q,math,\"two\nlines\"\nb.com,unsure,\n");
        assert_eq!(line, 4, "a quoted line break moves the line count");
        assert!(msg.contains("unsure"), "{msg}");
        let (line, msg) = row_err(
            "prefix,label,created_at\na.com,math,2024-05-01T00:00:00Z\nb.com,math,yesterday\n",
        );
        assert_eq!(line, 3);
        assert!(msg.contains("RFC 3339"), "{msg}");
        assert_eq!(
            row_err("prefix,label\n\"a.com,b\",math\n").0,
            2,
            "a comma is not part of a host"
        );
        assert_eq!(row_err("prefix,label\na.com,math,extra\n").0, 2);
        assert_eq!(
            row_err("prefix,label\na.com,math\n\"b.com,math\n").0,
            3,
            "unclosed quote"
        );
        assert_eq!(row_err("prefix,label\n\"a.com\"x,math\n").0, 2);
        assert_eq!(row_err("prefix,label\nhttps:///x,math\n").0, 2);
        for (csv, what) in [
            ("", "empty"),
            ("prefix,label\n", "header only"),
            ("prefix,note\na.com,x\n", "no label column"),
            ("prefix,label,anotator\na.com,math,x\n", "a misspelt column"),
            ("prefix,label,prefix\na,math,b\n", "a column twice"),
        ] {
            assert!(
                matches!(parse_csv(csv, &defaults()), Err(AnnotationError::File(_))),
                "{what}"
            );
        }
    }

    #[test]
    fn json_import_takes_arrays_and_lines_and_names_bad_lines() {
        let json = r#"[
  {"prefix": "https://www.mathoverflow.net/questions", "label": "math", "annotator": "ada", "note": "MO"},
  {"prefix": "mathoverflow.net/users", "label": "nonmath", "created_at": "2024-05-02T00:00:00Z"}
]"#;
        let rows = parse_json(json, &defaults()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].prefix.as_str(),
                rows[0].annotator.as_str(),
                rows[0].note.as_deref()
            ),
            ("mathoverflow.net/questions", "ada", Some("MO"))
        );
        assert_eq!(
            (rows[1].label, rows[1].annotator.as_str()),
            (Label::Nonmath, "tester")
        );
        assert_eq!(rows[1].created_at.to_rfc3339(), "2024-05-02T00:00:00+00:00");
        let lines = "{\"prefix\":\"a.com\",\"label\":\"math\"}\n{\"prefix\":\"b.com/x/\",\"label\":\"nonmath\",\"note\":null}\n";
        let rows = parse_json(lines, &defaults()).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.prefix.as_str()).collect::<Vec<_>>(),
            ["a.com", "b.com/x"]
        );

        let row_err = |json: &str| match parse_json(json, &defaults()) {
            Err(AnnotationError::Row { line, message }) => (line, message),
            other => panic!("expected a row error for {json:?}, got {other:?}"),
        };
        let (line, msg) = row_err("[\n {\"prefix\": \"a.com\", \"label\": \"math\"},\n {\"prefix\": \"b.com\", \"label\": \"perhaps\"}\n]");
        assert_eq!(line, 3);
        assert!(msg.contains("perhaps") && !msg.contains("at line"), "{msg}");
        assert_eq!(
            row_err("{\"prefix\":\"a.com\",\"label\":\"math\"}\n{\"prefix\":\"b.com\"}\n").0,
            2
        );
        assert_eq!(
            row_err("[{\"prefix\":\"a.com\",\"label\":\"math\",\"who\":\"x\"}]").0,
            1,
            "unknown field"
        );
        assert_eq!(
            row_err(
                "[{\"prefix\":\"a.com\",\n\"label\":\"math\",\n\"created_at\":\"2024-13-01\"}]"
            )
            .0,
            3
        );
        assert_eq!(
            row_err("[{\"prefix\":\"a.com\",\"label\":\"math\"},\n").0,
            2,
            "truncated"
        );
        assert!(matches!(
            parse_json("[]", &defaults()),
            Err(AnnotationError::File(_))
        ));
    }

    #[test]
    fn format_is_detected_by_extension_then_content() {
        assert_eq!(ImportFormat::detect("a.CSV", "[x"), ImportFormat::Csv);
        assert_eq!(
            ImportFormat::detect("a.jsonl", "prefix"),
            ImportFormat::Json
        );
        assert_eq!(ImportFormat::detect("-", "  [{}]"), ImportFormat::Json);
        assert_eq!(
            ImportFormat::detect("notes.txt", "prefix,label"),
            ImportFormat::Csv
        );
        let rows =
            parse_annotations("marks.txt", "prefix,label\na.com,math\n", &defaults()).unwrap();
        assert_eq!(rows[0].prefix, "a.com");
    }

    #[test]
    fn exports_round_trip_and_quote_csv() {
        let p = Proposal {
            host: "mathoverflow.net".into(),
            domain: "mathoverflow.net".into(),
            pages: 40,
            kept_pages: 31,
            tokens: 40_000,
            kept_tokens: 35_000,
            ratio: 0.775,
            samples: vec![
                ("https://mathoverflow.net/questions/1/a,b".into(), 0.998),
                ("https://mathoverflow.net/q/2".into(), 0.9),
            ],
        };
        let json: ProposalsExport =
            serde_json::from_str(&proposals_json(3, std::slice::from_ref(&p))).unwrap();
        assert_eq!(json.iteration, 3);
        assert_eq!(
            json.proposals[0].samples[0],
            SampleOut {
                url: "https://mathoverflow.net/questions/1/a,b".into(),
                score: 0.998
            }
        );
        let csv = proposals_csv(3, &[p]);
        let records = csv_records(&csv).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].1[8], "samples");
        assert_eq!(
            &records[1].1[..8],
            [
                "3",
                "mathoverflow.net",
                "mathoverflow.net",
                "40",
                "31",
                "40000",
                "35000",
                "0.775000"
            ]
        );
        let samples: Vec<SampleOut> = serde_json::from_str(&records[1].1[8]).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[1].url, "https://mathoverflow.net/q/2");
    }

    #[test]
    fn top_n_keeps_the_best_distinct_urls() {
        let mut v = vec![
            ("u/b".to_string(), 0.5f32),
            ("u/a".into(), 0.9),
            ("u/c".into(), 0.9),
            ("u/a".into(), 0.7),
            ("u/d".into(), 0.1),
        ];
        top_n(&mut v, 3);
        assert_eq!(
            v,
            [
                ("u/a".to_string(), 0.9),
                ("u/c".into(), 0.9),
                ("u/b".into(), 0.5)
            ]
        );
    }
}
