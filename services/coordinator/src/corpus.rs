//! The corpus: kept pages as dolma documents (`id`, `text`, `source`, `added`, `created`,
//! `metadata`) in zstd-compressed JSON Lines, one file per shard, plus `manifest.json`.

use bytes::Bytes;
use corpusminer_pipeline::histogram::{bucket_of, Selection};
use corpusminer_pipeline::scored::{encode_rows, read_rows, PageText, ScoredPage};
use corpusminer_storage::metastore::ShardRow;
use corpusminer_storage::ObjectStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Errors writing the corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A shard's scored-page or text file could not be read or written.
    #[error("{key}: {message}")]
    File {
        /// Object key.
        key: String,
        /// The cause.
        message: String,
    },
    /// A kept page has no stored text (its score was under the text floor).
    #[error("kept page {id} has no stored text: the threshold {threshold} is under the text floor; rerun with a lower --text-floor")]
    MissingText {
        /// The page.
        id: String,
        /// The threshold.
        threshold: f64,
    },
}

/// One corpus document in the dolma format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DolmaDocument {
    /// Document id (the WARC-Record-ID's UUID).
    pub id: String,
    /// Main text, mathematics as LaTeX.
    pub text: String,
    /// `corpusminer/<crawl>`.
    pub source: String,
    /// When corpusminer added it (RFC 3339).
    pub added: String,
    /// The capture's WARC-Date.
    pub created: Option<String>,
    /// Where it came from and how it scored.
    pub metadata: DocumentMetadata,
}

/// The `metadata` of a [`DolmaDocument`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMetadata {
    /// Page URL.
    pub url: String,
    /// Host (the domain of the 10% rule).
    pub host: String,
    /// Registrable domain.
    pub domain: String,
    /// Classifier score P(math).
    pub score: f32,
    /// Token count.
    pub tokens: u64,
    /// Crawl id.
    pub crawl: String,
    /// The shard's URI.
    pub shard: String,
    /// Offset of the record's gzip member in the shard, bytes.
    pub warc_offset: u64,
    /// Compressed length of the record, bytes.
    pub warc_length: u64,
}

/// One corpus file in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the corpus folder.
    pub path: String,
    /// Documents in it.
    pub documents: u64,
    /// Tokens in it.
    pub tokens: u64,
    /// Compressed size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// `corpus/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Crawl id.
    pub crawl: String,
    /// Iteration id in the metastore.
    pub iteration: i64,
    /// The selection: threshold, bucket and what the histogram says it keeps.
    pub selection: Selection,
    /// Model file and its SHA-256.
    pub model_uri: String,
    /// Hex SHA-256 of the model file.
    pub model_sha256: String,
    /// Documents written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// Kept pages dropped as exact duplicates of another kept page's text.
    pub exact_duplicates_removed: u64,
    /// The files.
    pub files: Vec<ManifestFile>,
}

/// What the corpus pass learned besides the files: used by the report.
#[derive(Debug, Default, Clone)]
pub struct CorpusSummary {
    /// Documents written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// Exact duplicates removed.
    pub duplicates: u64,
    /// For each page whose URL is in the label map: (label is math, page kept).
    pub labelled: Vec<(bool, bool)>,
}

struct ShardPages {
    shard_uri: String,
    scored_key: String,
    pages: Vec<ScoredPage>,
}

async fn read_scored(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Vec<ScoredPage>, CorpusError> {
    let err = |message: String| CorpusError::File { key: key.to_string(), message };
    let bytes = store.get(key).await.map_err(|e| err(e.to_string()))?;
    read_rows(&bytes[..]).map_err(|e| err(e.to_string()))
}

/// Writes the corpus of the pages kept by `selection` under `corpus_prefix` in `store`.
///
/// Exact duplicates (same text hash) among kept pages are written once: the page with the
/// smallest id is kept, so the result does not depend on shard order or location.
#[allow(clippy::too_many_arguments)]
pub async fn write_corpus(
    store: &Arc<dyn ObjectStore>,
    shards: &[ShardRow],
    text_prefix_of: impl Fn(&str) -> String,
    corpus_prefix: &str,
    selection: &Selection,
    crawl: &str,
    iteration: i64,
    model: (&str, &str),
    labels: Option<&HashMap<String, bool>>,
) -> Result<(Manifest, CorpusSummary), CorpusError> {
    let mut summary = CorpusSummary::default();
    let mut shard_pages = Vec::new();
    // Pass 1: kept pages and the winner of each text hash.
    let mut winner: HashMap<String, String> = HashMap::new();
    for shard in shards.iter().filter(|s| s.scored_uri.is_some()) {
        let key = shard.scored_uri.clone().unwrap_or_default();
        let pages = read_scored(store, &key).await?;
        for p in &pages {
            let kept = bucket_of(p.score) >= selection.bucket;
            if let Some(&math) = labels.and_then(|l| l.get(&p.url)) {
                summary.labelled.push((math, kept));
            }
            if kept {
                let w = winner.entry(p.content_hash.clone()).or_insert_with(|| p.id.clone());
                if p.id < *w {
                    *w = p.id.clone();
                }
            }
        }
        shard_pages.push(ShardPages { shard_uri: shard.uri.clone(), scored_key: key, pages });
    }
    for old in store.list(&format!("{corpus_prefix}/")).await.map_err(|e| CorpusError::File { key: corpus_prefix.into(), message: e.to_string() })? {
        let _ = store.delete(&old).await;
    }
    // Pass 2: per shard, the kept winners with their text.
    let added = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut files = Vec::new();
    for sp in &shard_pages {
        let kept: Vec<&ScoredPage> = sp
            .pages
            .iter()
            .filter(|p| bucket_of(p.score) >= selection.bucket)
            .collect();
        let winners: Vec<&ScoredPage> = kept.iter().copied().filter(|p| winner.get(&p.content_hash) == Some(&p.id)).collect();
        summary.duplicates += (kept.len() - winners.len()) as u64;
        if winners.is_empty() {
            continue;
        }
        let text_key = text_prefix_of(&sp.scored_key);
        let texts: Vec<PageText> = {
            let bytes = store.get(&text_key).await.map_err(|e| CorpusError::File { key: text_key.clone(), message: e.to_string() })?;
            read_rows(&bytes[..]).map_err(|e| CorpusError::File { key: text_key.clone(), message: e.to_string() })?
        };
        let texts: HashMap<&str, &str> = texts.iter().map(|t| (t.id.as_str(), t.text.as_str())).collect();
        let mut docs = Vec::with_capacity(winners.len());
        let mut tokens = 0;
        for p in winners {
            let text = texts.get(p.id.as_str()).ok_or_else(|| CorpusError::MissingText { id: p.id.clone(), threshold: selection.threshold })?;
            tokens += p.tokens;
            docs.push(DolmaDocument {
                id: p.id.clone(),
                text: text.to_string(),
                source: format!("corpusminer/{crawl}"),
                added: added.clone(),
                created: p.date.clone(),
                metadata: DocumentMetadata {
                    url: p.url.clone(),
                    host: p.host.clone(),
                    domain: p.domain.clone(),
                    score: p.score,
                    tokens: p.tokens,
                    crawl: crawl.to_string(),
                    shard: sp.shard_uri.clone(),
                    warc_offset: p.warc_offset,
                    warc_length: p.warc_length,
                },
            });
        }
        let stem = sp.scored_key.rsplit('/').next().unwrap_or(&sp.scored_key).to_string();
        let bytes = encode_rows(&docs);
        let file = ManifestFile {
            path: stem.clone(),
            documents: docs.len() as u64,
            tokens,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        let key = format!("{corpus_prefix}/{stem}");
        store.put(&key, Bytes::from(bytes)).await.map_err(|e| CorpusError::File { key, message: e.to_string() })?;
        summary.documents += file.documents;
        summary.tokens += file.tokens;
        files.push(file);
    }
    let manifest = Manifest {
        crawl: crawl.to_string(),
        iteration,
        selection: *selection,
        model_uri: model.0.to_string(),
        model_sha256: model.1.to_string(),
        documents: summary.documents,
        tokens: summary.tokens,
        exact_duplicates_removed: summary.duplicates,
        files,
    };
    let key = format!("{corpus_prefix}/manifest.json");
    store
        .put(&key, Bytes::from(serde_json::to_vec_pretty(&manifest).expect("manifest serialises")))
        .await
        .map_err(|e| CorpusError::File { key, message: e.to_string() })?;
    Ok((manifest, summary))
}

/// Reads a labels file (TSV with a header naming `url` and `label` columns; label `math` or
/// anything else) into url -> is_math.
pub fn parse_labels(tsv: &str) -> Result<HashMap<String, bool>, String> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty labels file")?.split('\t').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name).ok_or(format!("labels file has no {name:?} column"));
    let (url, label) = (col("url")?, col("label")?);
    let mut out = HashMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if let (Some(u), Some(l)) = (f.get(url), f.get(label)) {
            out.insert(u.trim().to_string(), l.trim() == "math");
        }
    }
    Ok(out)
}

/// Precision and recall of the kept pages against labels: (precision, recall, labelled pages
/// seen, math pages seen, kept labelled pages).
pub fn precision_recall(labelled: &[(bool, bool)]) -> (f64, f64, usize, usize, usize) {
    let tp = labelled.iter().filter(|&&(m, k)| m && k).count();
    let kept = labelled.iter().filter(|&&(_, k)| k).count();
    let math = labelled.iter().filter(|&&(m, _)| m).count();
    let p = if kept == 0 { 0.0 } else { tp as f64 / kept as f64 };
    let r = if math == 0 { 0.0 } else { tp as f64 / math as f64 };
    (p, r, labelled.len(), math, kept)
}

/// Groups labelled outcomes for display: counts of (label, kept).
pub fn confusion(labelled: &[(bool, bool)]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for &(math, kept) in labelled {
        let k = match (math, kept) {
            (true, true) => "math_kept",
            (true, false) => "math_dropped",
            (false, true) => "nonmath_kept",
            (false, false) => "nonmath_dropped",
        };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_by_column_name_and_pr_is_computed() {
        let tsv = "shard\turl\tlabel\tsource\nA\thttp://a/1\tmath\tx\nA\thttp://a/2\tnonmath\ty\n";
        let l = parse_labels(tsv).unwrap();
        assert_eq!(l.get("http://a/1"), Some(&true));
        assert_eq!(l.get("http://a/2"), Some(&false));
        assert!(parse_labels("a\tb\n").is_err());
        let (p, r, n, math, kept) = precision_recall(&[(true, true), (true, false), (false, true), (false, false)]);
        assert_eq!((p, r, n, math, kept), (0.5, 0.5, 4, 2, 2));
    }
}
