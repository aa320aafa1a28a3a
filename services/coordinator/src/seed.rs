//! The seed of an iteration, and its growth from people's annotations (arXiv 2402.03300 §2.1,
//! steps 5–6): the next seed is the previous seed, plus the pages under prefixes marked math
//! that the previous iteration did not keep (read back by byte range from their shards), minus
//! the pages under prefixes marked not math.
//!
//! Each iteration stores its seed as `seed.jsonl.zst` (one [`SeedDoc`] per line) and a
//! `seed_manifest.json` ([`SeedManifest`]) listing every page added or removed, by id.

use crate::annotation::label_of;
use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::histogram::bucket_of;
use corpusminer_pipeline::page::Pages;
use corpusminer_pipeline::scored::ScoredPage;
use corpusminer_pipeline::warc::WarcReader;
use corpusminer_storage::metastore::{Annotation, Label, ShardRow};
use corpusminer_storage::{resolve, ObjectStore, StorageConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Errors building a seed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A scored-page file, shard range or seed file could not be read.
    #[error("{what}: {message}")]
    Read {
        /// What was read (key, or shard URI and byte range).
        what: String,
        /// The cause.
        message: String,
    },
    /// A page read back by byte range is not the page the scored file names.
    #[error("{uri} bytes {offset}+{length}: {message}")]
    Page {
        /// The shard.
        uri: String,
        /// Offset of the record's gzip member (or record) in the shard.
        offset: u64,
        /// Its length in bytes.
        length: u64,
        /// What is wrong.
        message: String,
    },
}

/// One seed (positive) document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedDoc {
    /// For crawl pages their document id (the WARC-Record-ID); for file documents
    /// `<file>#<n>` (n counts from 0 in file order).
    pub id: String,
    /// The page's URL (crawl pages only): what annotations match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The text trained on.
    pub text: String,
}

/// One page added to or removed from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedChange {
    /// Document id.
    pub id: String,
    /// Page URL.
    pub url: String,
    /// The annotated prefix that decided it.
    pub prefix: String,
    /// Score the page had in the parent iteration (added pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// What an iteration's seed is made of (`seed_manifest.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedManifest {
    /// The iteration whose seed this grew from (none for a first iteration).
    pub parent: Option<i64>,
    /// Seed files read (first iteration): (file, documents).
    pub files: Vec<(String, usize)>,
    /// Documents carried over from the parent's seed.
    pub carried: usize,
    /// Pages added: under a math prefix, not kept by the parent.
    pub added: Vec<SeedChange>,
    /// Pages removed: under a not-math prefix.
    pub removed: Vec<SeedChange>,
    /// Math-prefix pages that could not be read back (counted, logged, skipped).
    pub unreadable: usize,
    /// Prefixes marked math that cover no page the parent scored (a typo, or a prefix cut
    /// inside a path segment: `a.com/posts/2014` covers `a.com/posts/2014/x`, not
    /// `a.com/posts/2014-03-x`).
    #[serde(default)]
    pub math_prefixes_matching_nothing: Vec<String>,
    /// Documents in the seed.
    pub documents: usize,
}

/// The seed of a first iteration: every document of the seed files, ids `<file>#<n>`.
pub fn seed_from_files(files: &[(String, Vec<String>)]) -> (Vec<SeedDoc>, SeedManifest) {
    let mut docs = Vec::new();
    let mut manifest = SeedManifest::default();
    for (file, texts) in files {
        manifest.files.push((file.clone(), texts.len()));
        docs.extend(texts.iter().enumerate().map(|(n, t)| SeedDoc { id: format!("{file}#{n}"), url: None, text: t.clone() }));
    }
    manifest.documents = docs.len();
    (docs, manifest)
}

/// Grows `parent_seed` (of iteration `parent`) with the annotations: reads the parent's
/// scored-page files (keys in `out_store`), adds each page whose current label is math and
/// whose score fell below `kept_bucket` (read back by byte range from its shard, extracted as
/// the worker does), removes each seed page whose label is not-math. Pages already in the seed
/// are not added twice. Order is deterministic (seed order, then shard and file order).
pub async fn grow_seed(
    parent: i64,
    parent_seed: Vec<SeedDoc>,
    out_store: &Arc<dyn ObjectStore>,
    shards: &[ShardRow],
    kept_bucket: usize,
    annotations: &[Annotation],
    storage: &StorageConfig,
) -> Result<(Vec<SeedDoc>, SeedManifest), SeedError> {
    let mut manifest = SeedManifest { parent: Some(parent), ..Default::default() };
    let mut docs = Vec::with_capacity(parent_seed.len());
    for doc in parent_seed {
        let nonmath = doc.url.as_deref().and_then(|u| label_of(u, annotations)).filter(|a| a.label == Label::Nonmath);
        match nonmath {
            Some(a) => manifest.removed.push(SeedChange { id: doc.id.clone(), url: doc.url.clone().unwrap_or_default(), prefix: a.prefix.clone(), score: None }),
            None => docs.push(doc),
        }
    }
    manifest.carried = docs.len();
    let mut present: HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
    let mut matched: HashSet<&str> = HashSet::new();
    if annotations.iter().any(|a| a.label == Label::Math) {
        for shard in shards {
            let Some(key) = shard.scored_key.as_deref() else { continue };
            let read_err = |message: String| SeedError::Read { what: key.to_string(), message };
            let bytes = out_store.get(key).await.map_err(|e| read_err(corpusminer_storage::error_chain(&e)))?;
            let pages: Vec<ScoredPage> = crate::cpu::decode_rows(bytes).await.map_err(|e| read_err(e.to_string()))?;
            for page in pages {
                let Some(a) = label_of(&page.url, annotations).filter(|a| a.label == Label::Math) else { continue };
                matched.insert(a.prefix.as_str());
                if bucket_of(page.score) >= kept_bucket || present.contains(&page.id) {
                    continue;
                }
                match read_page_text(&shard.uri, &page, storage).await {
                    Ok(text) => {
                        present.insert(page.id.clone());
                        manifest.added.push(SeedChange { id: page.id.clone(), url: page.url.clone(), prefix: a.prefix.clone(), score: Some(page.score) });
                        docs.push(SeedDoc { id: page.id, url: Some(page.url), text });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "seed page unreadable; skipped");
                        manifest.unreadable += 1;
                    }
                }
            }
        }
    }
    manifest.math_prefixes_matching_nothing = annotations
        .iter()
        .filter(|a| a.label == Label::Math && !matched.contains(a.prefix.as_str()))
        .map(|a| a.prefix.clone())
        .collect();
    for prefix in &manifest.math_prefixes_matching_nothing {
        tracing::warn!(prefix = %prefix, "a prefix marked math covers no scored page (prefixes match whole path segments)");
    }
    manifest.documents = docs.len();
    tracing::info!(parent, carried = manifest.carried, added = manifest.added.len(), removed = manifest.removed.len(), "seed grown from annotations");
    Ok((docs, manifest))
}

/// Reads one page back from its shard by byte range (`page.warc_offset`, `page.warc_length`:
/// one gzip member, or one record of a plain WARC) and extracts its text as the worker did.
/// Errors: the range cannot be read, holds no response record, is another record than
/// `page.id`, or its text cannot be extracted.
pub async fn read_page_text(shard_uri: &str, page: &ScoredPage, storage: &StorageConfig) -> Result<String, SeedError> {
    let (offset, length) = (page.warc_offset, page.warc_length);
    let err = |message: String| SeedError::Page { uri: shard_uri.to_string(), offset, length, message };
    let (store, key) = resolve(shard_uri, storage).map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
    let bytes = store.get_range(&key, offset..offset + length).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
    let want = page.id.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut pages = Pages::new(WarcReader::new(&bytes[..]));
        let p = pages.next().ok_or_else(|| "no HTML response record in the range".to_string())?;
        let id = corpusminer_worker::shard::document_id(&p.record_id, &p.url, (!p.date.is_empty()).then_some(p.date.as_str()));
        if id != want {
            return Err(format!("record {id} is not page {want}"));
        }
        extract(&p.body, p.content_type.as_deref()).map(|x| x.text).map_err(|e| e.to_string())
    })
    .await
    .expect("page read-back panicked");
    result.map_err(err)
}

/// Kept pages of an iteration (score bucket at least `kept_bucket`): id → tokens, read from the
/// scored-page files of `shards` (keys in `store`).
pub async fn kept_pages(store: &Arc<dyn ObjectStore>, shards: &[ShardRow], kept_bucket: usize) -> Result<BTreeMap<String, u64>, SeedError> {
    let mut kept = BTreeMap::new();
    for key in shards.iter().filter_map(|s| s.scored_key.as_deref()) {
        let read_err = |message: String| SeedError::Read { what: key.to_string(), message };
        let bytes = store.get(key).await.map_err(|e| read_err(corpusminer_storage::error_chain(&e)))?;
        let pages: Vec<ScoredPage> = crate::cpu::decode_rows(bytes).await.map_err(|e| read_err(e.to_string()))?;
        kept.extend(pages.into_iter().filter(|p| bucket_of(p.score) >= kept_bucket).map(|p| (p.id, p.tokens)));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_seed_ids_name_file_and_position() {
        let (docs, m) = seed_from_files(&[("a.jsonl".into(), vec!["x".into(), "y".into()]), ("b.txt".into(), vec!["z".into()])]);
        assert_eq!(docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["a.jsonl#0", "a.jsonl#1", "b.txt#0"]);
        assert_eq!((m.documents, m.files.len(), m.parent), (3, 2, None));
    }

    fn annotation(id: i64, prefix: &str, label: Label) -> Annotation {
        Annotation { id, prefix: prefix.into(), label, annotator: "ada".into(), created_at: chrono::Utc::now(), note: None }
    }

    #[tokio::test]
    async fn pages_under_not_math_prefixes_leave_the_seed_and_file_documents_stay() {
        let doc = |id: &str, url: Option<&str>| SeedDoc { id: id.into(), url: url.map(String::from), text: format!("text of {id}") };
        let parent = vec![
            doc("gsm8k.jsonl#0", None),
            doc("p1", Some("https://a.com/blog/1")),
            doc("p2", Some("https://a.com/questions/2")),
            doc("p3", Some("https://a.com/blog/math/3")),
        ];
        // The longest prefix decides: a.com/blog is not math, a.com/blog/math is.
        let notes = [annotation(1, "a.com/blog", Label::Nonmath), annotation(2, "a.com/blog/math", Label::Math)];
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(corpusminer_storage::LocalStore::new(dir.path()));
        let (docs, m) = grow_seed(4, parent, &store, &[], 100, &notes, &StorageConfig::default()).await.unwrap();
        assert_eq!(docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["gsm8k.jsonl#0", "p2", "p3"]);
        assert_eq!(m.removed, vec![SeedChange { id: "p1".into(), url: "https://a.com/blog/1".into(), prefix: "a.com/blog".into(), score: None }]);
        assert_eq!((m.parent, m.carried, m.added.len(), m.documents), (Some(4), 3, 0, 3));
        assert_eq!(m.math_prefixes_matching_nothing, ["a.com/blog/math"], "no scored page under it");
    }
}
