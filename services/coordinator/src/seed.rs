//! The seed of an iteration, and its growth from people's annotations (arXiv 2402.03300 §2.1,
//! steps 5–6): the next seed is the previous seed, plus the pages under prefixes marked math
//! that the previous iteration did not keep (read back by byte range from their shards), minus
//! the pages under prefixes marked not math.
//!
//! Each iteration stores its seed as `seed.jsonl.zst` (one [`SeedDoc`] per line) and a
//! `seed_manifest.json` ([`SeedManifest`]) listing every page added or removed, by id.

use crate::annotation::{deciding_index, prefix_matches};
use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::histogram::bucket_of;
use corpusminer_pipeline::page::Pages;
use corpusminer_pipeline::scored::ScoredPage;
use corpusminer_pipeline::warc::WarcReader;
use corpusminer_storage::metastore::{Annotation, Label, ShardRow};
use corpusminer_storage::{resolve, ObjectStore, StorageConfig};
use corpusminer_worker::{grouped, Progress};
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
    /// What each current annotation did to the seed, and why when it did nothing.
    #[serde(default)]
    pub effects: Vec<AnnotationEffect>,
    /// Documents in the seed.
    pub documents: usize,
}

/// What one current annotation did to an iteration's seed (counted over the parent's scored
/// pages), and why when it changed nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationEffect {
    /// The annotated prefix.
    pub prefix: String,
    /// Its label.
    pub label: Label,
    /// Scored pages of the parent under the prefix (longer prefixes' pages included).
    pub pages_covered: u64,
    /// Of those, the pages this annotation decides (no longer covering prefix).
    pub pages_decided: u64,
    /// Of the decided pages, those the parent kept.
    pub pages_kept: u64,
    /// Of the decided pages not kept, those in the seed already (math).
    pub pages_in_seed: u64,
    /// Pages it added to the seed (math).
    pub added: usize,
    /// Seed pages it removed (not math).
    pub removed: usize,
    /// Why it changed nothing; `None` when it added or removed pages.
    pub no_effect: Option<NoEffect>,
}

/// Why an annotation left the seed as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEffect {
    /// No page of the prefix's host was scored: the host is not in this crawl's shards.
    HostNotInCrawl,
    /// The host has scored pages, but none under the prefix (prefixes match whole path
    /// segments: `a.com/posts/2014` covers `a.com/posts/2014/x`, not `a.com/posts/2014-03-x`).
    CoversNoScoredPage,
    /// Every page under the prefix is decided by a longer annotated prefix.
    DecidedByLongerPrefix,
    /// Math: every page it decides was kept already (math pages join the seed only where the
    /// classifier missed them).
    OnlyKeptPages,
    /// Math: the unkept pages it decides are in the seed already.
    AlreadyInSeed,
    /// Math: its unkept pages could not be read back from their shards (logged).
    Unreadable,
    /// Not math: no seed page lies under it (a not-math label removes seed pages only; the
    /// seed files' documents have no URL).
    NoSeedPageUnderIt,
}

impl NoEffect {
    /// The reason in words, for summaries and logs.
    pub fn explain(self) -> &'static str {
        match self {
            NoEffect::HostNotInCrawl => "its host has no scored page in this crawl",
            NoEffect::CoversNoScoredPage => "its host has scored pages, but none under this prefix (prefixes match whole path segments)",
            NoEffect::DecidedByLongerPrefix => "every page under it is decided by a longer annotated prefix",
            NoEffect::OnlyKeptPages => "every page it covers was kept already; a math prefix adds only the pages the classifier missed",
            NoEffect::AlreadyInSeed => "the unkept pages it covers are in the seed already",
            NoEffect::Unreadable => "its unkept pages could not be read back from their shards (see the log)",
            NoEffect::NoSeedPageUnderIt => "no seed page lies under it; a not-math prefix only removes seed pages (it never removes corpus pages itself)",
        }
    }
}

/// Per-annotation counts while the seed grows.
#[derive(Default)]
struct Tally {
    covered: u64,
    decided: u64,
    kept: u64,
    in_seed: u64,
    unreadable: u64,
    added: usize,
    removed: usize,
    host_seen: bool,
}

/// The annotations by host (a prefix covers one host exactly), for one lookup per page.
struct ByHost<'a> {
    annotations: &'a [Annotation],
    hosts: std::collections::HashMap<&'a str, Vec<usize>>,
}

impl<'a> ByHost<'a> {
    fn new(annotations: &'a [Annotation]) -> Self {
        let mut hosts: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for (i, a) in annotations.iter().enumerate() {
            hosts.entry(prefix_host(&a.prefix)).or_default().push(i);
        }
        ByHost { annotations, hosts }
    }

    /// The annotations covering `url` (of host `host`), and the one that decides it (longest).
    fn covering(&self, host: &str, url: &str) -> (Vec<usize>, Option<usize>) {
        let Some(candidates) = self.hosts.get(host) else { return (Vec::new(), None) };
        let covering: Vec<usize> = candidates.iter().copied().filter(|&i| prefix_matches(&self.annotations[i].prefix, url)).collect();
        let decider = covering.iter().copied().max_by_key(|&i| self.annotations[i].prefix.len());
        (covering, decider)
    }
}

/// The host of a normalised prefix (`a.com/q` -> `a.com`).
fn prefix_host(prefix: &str) -> &str {
    prefix.split('/').next().unwrap_or(prefix)
}

fn effects_of(annotations: &[Annotation], tallies: &[Tally]) -> Vec<AnnotationEffect> {
    annotations
        .iter()
        .zip(tallies)
        .map(|(a, t)| {
            let no_effect = if t.added > 0 || t.removed > 0 {
                None
            } else if !t.host_seen {
                Some(NoEffect::HostNotInCrawl)
            } else if a.label == Label::Nonmath {
                Some(NoEffect::NoSeedPageUnderIt)
            } else if t.covered == 0 {
                Some(NoEffect::CoversNoScoredPage)
            } else if t.decided == 0 {
                Some(NoEffect::DecidedByLongerPrefix)
            } else if t.kept == t.decided {
                Some(NoEffect::OnlyKeptPages)
            } else if t.unreadable > 0 {
                Some(NoEffect::Unreadable)
            } else {
                Some(NoEffect::AlreadyInSeed)
            };
            AnnotationEffect {
                prefix: a.prefix.clone(),
                label: a.label,
                pages_covered: t.covered,
                pages_decided: t.decided,
                pages_kept: t.kept,
                pages_in_seed: t.in_seed,
                added: t.added,
                removed: t.removed,
                no_effect,
            }
        })
        .collect()
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
/// `progress` is told which shard's pages are read back.
#[allow(clippy::too_many_arguments)]
pub async fn grow_seed(
    parent: i64,
    parent_seed: Vec<SeedDoc>,
    out_store: &Arc<dyn ObjectStore>,
    shards: &[ShardRow],
    kept_bucket: usize,
    annotations: &[Annotation],
    storage: &StorageConfig,
    progress: &Progress,
) -> Result<(Vec<SeedDoc>, SeedManifest), SeedError> {
    let mut manifest = SeedManifest { parent: Some(parent), ..Default::default() };
    let by_host = ByHost::new(annotations);
    let mut tallies: Vec<Tally> = annotations.iter().map(|_| Tally::default()).collect();
    let mut docs = Vec::with_capacity(parent_seed.len());
    for doc in parent_seed {
        let decider = doc.url.as_deref().and_then(|u| deciding_index(u, annotations)).filter(|&i| annotations[i].label == Label::Nonmath);
        match decider {
            Some(i) => {
                tallies[i].removed += 1;
                manifest.removed.push(SeedChange { id: doc.id.clone(), url: doc.url.clone().unwrap_or_default(), prefix: annotations[i].prefix.clone(), score: None })
            }
            None => docs.push(doc),
        }
    }
    manifest.carried = docs.len();
    let mut present: HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
    // Every scored page is looked at when any annotation exists: the counts explain each
    // annotation's effect (or why it had none) as well as finding the math pages to add.
    if !annotations.is_empty() {
        for (i, shard) in shards.iter().enumerate() {
            progress.set_detail(format!(
                "reading the parent's scored pages under annotated prefixes: shard {} of {}, {} pages added so far",
                i + 1,
                shards.len(),
                grouped(manifest.added.len() as u64)
            ));
            let Some(key) = shard.scored_key.as_deref() else { continue };
            let read_err = |message: String| SeedError::Read { what: key.to_string(), message };
            let bytes = out_store.get(key).await.map_err(|e| read_err(corpusminer_storage::error_chain(&e)))?;
            let pages: Vec<ScoredPage> = crate::cpu::decode_rows(bytes).await.map_err(|e| read_err(e.to_string()))?;
            for page in pages {
                let Some(same_host) = by_host.hosts.get(page.host.as_str()) else { continue };
                for &i in same_host {
                    tallies[i].host_seen = true;
                }
                let (covering, decider) = by_host.covering(&page.host, &page.url);
                for &i in &covering {
                    tallies[i].covered += 1;
                }
                let Some(d) = decider else { continue };
                let kept = bucket_of(page.score) >= kept_bucket;
                let t = &mut tallies[d];
                t.decided += 1;
                t.kept += kept as u64;
                let a = &annotations[d];
                if a.label != Label::Math || kept {
                    continue;
                }
                if present.contains(&page.id) {
                    t.in_seed += 1;
                    continue;
                }
                match read_page_text(&shard.uri, &page, storage).await {
                    Ok(text) => {
                        present.insert(page.id.clone());
                        tallies[d].added += 1;
                        manifest.added.push(SeedChange { id: page.id.clone(), url: page.url.clone(), prefix: a.prefix.clone(), score: Some(page.score) });
                        docs.push(SeedDoc { id: page.id, url: Some(page.url), text });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "seed page unreadable; skipped");
                        tallies[d].unreadable += 1;
                        manifest.unreadable += 1;
                    }
                }
            }
        }
    }
    manifest.effects = effects_of(annotations, &tallies);
    manifest.math_prefixes_matching_nothing = manifest
        .effects
        .iter()
        .filter(|e| e.label == Label::Math && e.pages_covered == 0)
        .map(|e| e.prefix.clone())
        .collect();
    for e in &manifest.effects {
        match e.no_effect {
            // Likely a typo, or a prefix cut inside a path segment: worth a warning.
            Some(why @ (NoEffect::HostNotInCrawl | NoEffect::CoversNoScoredPage)) => {
                tracing::warn!(prefix = %e.prefix, label = %e.label, "annotation covers no scored page: {}", why.explain())
            }
            Some(why) => tracing::info!(prefix = %e.prefix, label = %e.label, "annotation changed nothing in the seed: {}", why.explain()),
            None => {}
        }
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
        Annotation { id, prefix: prefix.into(), label, annotator: "ada".into(), created_at: chrono::Utc::now(), note: None, settles: false }
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
        let (docs, m) = grow_seed(4, parent, &store, &[], 100, &notes, &StorageConfig::default(), &Progress::default()).await.unwrap();
        assert_eq!(docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["gsm8k.jsonl#0", "p2", "p3"]);
        assert_eq!(m.removed, vec![SeedChange { id: "p1".into(), url: "https://a.com/blog/1".into(), prefix: "a.com/blog".into(), score: None }]);
        assert_eq!((m.parent, m.carried, m.added.len(), m.documents), (Some(4), 3, 0, 3));
        assert_eq!(m.math_prefixes_matching_nothing, ["a.com/blog/math"], "no scored page under it");
    }

    #[tokio::test]
    async fn each_annotation_says_what_it_did_or_why_it_did_nothing() {
        let page = |id: &str, url: &str, score: f32| {
            let host = url.split('/').nth(2).unwrap().to_string();
            ScoredPage { id: id.into(), url: url.into(), domain: host.clone(), host, score, tokens: 10, content_hash: id.into(), warc_offset: 0, warc_length: 0, date: None, lang: "en".into() }
        };
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(corpusminer_storage::LocalStore::new(dir.path()));
        // Scores above 0.9 are kept (bucket of 0.9).
        let rows = vec![
            page("k1", "https://kept.org/q/1", 0.99),
            page("k2", "https://kept.org/q/2", 0.95),
            page("s1", "https://seeded.org/a/1", 0.10),
            page("n1", "https://nested.org/a/b/1", 0.10),
            page("o1", "https://other.org/posts/2014-03-x", 0.10),
        ];
        store.put("scored/0.jsonl.zst", corpusminer_pipeline::scored::encode_rows(&rows).into()).await.unwrap();
        let shard = crate::corpus::done_shard(1, 1, "unused.warc.gz".into(), "scored/0.jsonl.zst".into(), "texts/0.jsonl.zst".into());
        let notes = [
            annotation(1, "kept.org/q", Label::Math),
            annotation(2, "absent.net", Label::Math),
            annotation(3, "other.org/posts/2014", Label::Math),
            annotation(4, "nested.org/a", Label::Math),
            annotation(5, "nested.org/a/b", Label::Nonmath),
            annotation(6, "seeded.org/a", Label::Math),
            annotation(7, "kept.org", Label::Nonmath),
        ];
        // s1 is in the parent's seed already, under its math prefix.
        let parent = vec![SeedDoc { id: "s1".into(), url: Some("https://seeded.org/a/1".into()), text: "t".into() }];
        let (docs, m) = grow_seed(2, parent, &store, &[shard], bucket_of(0.9), &notes, &StorageConfig::default(), &Progress::default()).await.unwrap();
        assert_eq!(docs.len(), 1, "nothing added or removed");
        let why: Vec<(&str, Option<NoEffect>, u64, u64, u64)> = m.effects.iter().map(|e| (e.prefix.as_str(), e.no_effect, e.pages_covered, e.pages_decided, e.pages_kept)).collect();
        assert_eq!(
            why,
            [
                ("kept.org/q", Some(NoEffect::OnlyKeptPages), 2, 2, 2),
                ("absent.net", Some(NoEffect::HostNotInCrawl), 0, 0, 0),
                ("other.org/posts/2014", Some(NoEffect::CoversNoScoredPage), 0, 0, 0),
                ("nested.org/a", Some(NoEffect::DecidedByLongerPrefix), 1, 0, 0),
                ("nested.org/a/b", Some(NoEffect::NoSeedPageUnderIt), 1, 1, 0),
                ("seeded.org/a", Some(NoEffect::AlreadyInSeed), 1, 1, 0),
                ("kept.org", Some(NoEffect::NoSeedPageUnderIt), 2, 0, 0),
            ]
        );
        assert_eq!(m.effects[5].pages_in_seed, 1);
        assert_eq!(m.math_prefixes_matching_nothing, ["absent.net", "other.org/posts/2014"]);
    }
}
