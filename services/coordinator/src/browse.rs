//! What an annotator looks at before labelling a host: the host's URL path prefixes as a tree
//! with pages, kept pages and mean score per prefix, and one page's score and extracted text.
//! Both are read from the iteration's scored-page and text files (one pass over the scored
//! files, never the crawl), so they work for any iteration that has scored its shards.

use crate::cpu::decode_rows;
use corpusminer_pipeline::histogram::bucket_of;
use corpusminer_pipeline::scored::{PageText, ScoredPage};
use corpusminer_storage::{ObjectStore, ShardRow};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Highest-scoring pages listed per prefix.
pub const SAMPLES_PER_PREFIX: usize = 3;

/// One URL path prefix of a host, and the prefixes one segment longer below it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PathNode {
    /// The prefix as annotations name it: host, then path segments (`mathoverflow.net/questions`).
    pub prefix: String,
    /// Pages scored under it.
    pub pages: u64,
    /// Of those, pages at or above the iteration's threshold (0 before one is chosen).
    pub kept_pages: u64,
    /// Mean P(math) of its pages.
    pub mean_score: f64,
    /// Its highest-scoring pages: (page id, URL, score), best first.
    pub samples: Vec<(String, String, f32)>,
    /// Longer prefixes, most pages first (then by prefix).
    pub children: Vec<PathNode>,
}

/// The path segments of `url` (no query or fragment, no empty segments), at most `depth`.
fn segments(url: &str, depth: usize) -> Vec<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').filter(|s| !s.is_empty()).take(depth).collect()
}

#[derive(Default)]
struct Acc {
    pages: u64,
    kept: u64,
    score_sum: f64,
    samples: Vec<(String, String, f32)>,
    children: BTreeMap<String, Acc>,
}

impl Acc {
    fn add(&mut self, p: &ScoredPage, kept: bool) {
        self.pages += 1;
        self.kept += u64::from(kept);
        self.score_sum += p.score as f64;
        self.samples.push((p.id.clone(), p.url.clone(), p.score));
        if self.samples.len() > 4 * SAMPLES_PER_PREFIX {
            trim(&mut self.samples);
        }
    }

    fn into_node(self, prefix: String) -> PathNode {
        let mut samples = self.samples;
        trim(&mut samples);
        let mut children: Vec<PathNode> = self.children.into_iter().map(|(seg, acc)| acc.into_node(format!("{prefix}/{seg}"))).collect();
        children.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.prefix.cmp(&b.prefix)));
        PathNode { prefix, pages: self.pages, kept_pages: self.kept, mean_score: if self.pages > 0 { self.score_sum / self.pages as f64 } else { 0.0 }, samples, children }
    }
}

fn trim(samples: &mut Vec<(String, String, f32)>) {
    samples.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    samples.truncate(SAMPLES_PER_PREFIX);
}

/// Errors reading an iteration's per-shard files.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct BrowseError {
    /// The file's key.
    pub key: String,
    /// What went wrong.
    pub message: String,
}

async fn scored(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Vec<ScoredPage>, BrowseError> {
    let err = |message: String| BrowseError { key: key.to_string(), message };
    let bytes = store.get(key).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
    decode_rows(bytes).await.map_err(|e| err(e.to_string()))
}

/// The path tree of `host` (as scored: lowercase, no `www.`) over the scored-page files of
/// `shards`, `depth` path segments deep; `kept_bucket` is the threshold's histogram bucket
/// (`None` before selection: nothing counts as kept). `None` when no page of the host was
/// scored.
pub async fn host_paths(store: &Arc<dyn ObjectStore>, shards: &[ShardRow], host: &str, kept_bucket: Option<usize>, depth: usize) -> Result<Option<PathNode>, BrowseError> {
    let mut root = Acc::default();
    for key in shards.iter().filter(|s| s.state == "done").filter_map(|s| s.scored_key.as_deref()) {
        for p in scored(store, key).await?.into_iter().filter(|p| p.host == host) {
            let kept = kept_bucket.is_some_and(|b| bucket_of(p.score) >= b);
            root.add(&p, kept);
            let mut node = &mut root;
            for seg in segments(&p.url, depth) {
                node = node.children.entry(seg.to_string()).or_default();
                node.add(&p, kept);
            }
        }
    }
    Ok((root.pages > 0).then(|| root.into_node(host.to_string())))
}

/// How much labelling each of `hosts` would change the next seed: the sum, over its scored
/// pages that no annotation covers yet, of how uncertain their score is (`4·p·(1−p)`: 1 at
/// p = 0.5, 0 at 0 or 1). A host of many pages near the threshold's middle ranks first; one
/// whose pages are all labelled, or all scored with certainty, last. One pass over the
/// scored-page files of the done shards.
pub async fn labelling_value(store: &Arc<dyn ObjectStore>, shards: &[ShardRow], hosts: &std::collections::HashSet<String>, annotations: &[corpusminer_storage::metastore::Annotation]) -> Result<std::collections::HashMap<String, f64>, BrowseError> {
    let mut value: std::collections::HashMap<String, f64> = hosts.iter().map(|h| (h.clone(), 0.0)).collect();
    for key in shards.iter().filter(|s| s.state == "done").filter_map(|s| s.scored_key.as_deref()) {
        for p in scored(store, key).await? {
            let Some(v) = value.get_mut(&p.host) else { continue };
            if crate::annotation::label_of(&p.url, annotations).is_none() {
                let q = p.score.clamp(0.0, 1.0) as f64;
                *v += 4.0 * q * (1.0 - q);
            }
        }
    }
    Ok(value)
}

/// A page found by id: its scored row, the shard it came from, and its extracted text when
/// its score reached the run's text floor.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundPage {
    /// The scored row.
    pub page: ScoredPage,
    /// The shard's URI.
    pub shard: String,
    /// Its text, when stored.
    pub text: Option<String>,
}

/// The page `id` (a WARC-Record-ID UUID) among the done shards of `shards`, `None` when it is
/// in none of them.
pub async fn find_page(store: &Arc<dyn ObjectStore>, shards: &[ShardRow], id: &str) -> Result<Option<FoundPage>, BrowseError> {
    for s in shards.iter().filter(|s| s.state == "done") {
        let Some(key) = s.scored_key.as_deref() else { continue };
        let Some(page) = scored(store, key).await?.into_iter().find(|p| p.id == id) else { continue };
        let mut text = None;
        if let Some(tkey) = s.texts_key.as_deref() {
            let err = |message: String| BrowseError { key: tkey.to_string(), message };
            let bytes = store.get(tkey).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
            let texts: Vec<PageText> = decode_rows(bytes).await.map_err(|e| err(e.to_string()))?;
            text = texts.into_iter().find(|t| t.id == id).map(|t| t.text);
        }
        return Ok(Some(FoundPage { page, shard: corpusminer_storage::redact_uri(&s.uri), text }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use corpusminer_pipeline::scored::encode_rows;

    fn page(id: &str, url: &str, score: f32) -> ScoredPage {
        ScoredPage { id: id.into(), url: url.into(), host: "math.example.org".into(), domain: "example.org".into(), score, tokens: 10, content_hash: String::new(), warc_offset: 0, warc_length: 0, date: None, lang: "en".into() }
    }

    #[test]
    fn segments_drop_query_fragment_and_empty_parts() {
        assert_eq!(segments("https://a.org/x//y/z.html?q=1#f", 2), ["x", "y"]);
        assert_eq!(segments("https://a.org", 3), Vec::<&str>::new());
        assert_eq!(segments("https://a.org/?q=/x", 3), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn the_tree_counts_pages_kept_pages_and_mean_scores_per_prefix_and_pages_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = corpusminer_storage::resolve_root(&dir.path().to_string_lossy(), &Default::default()).unwrap();
        let mut other = page("o", "https://blog.example.com/a", 0.99);
        other.host = "blog.example.com".into();
        let rows = vec![page("1", "https://math.example.org/q/1", 0.9), page("2", "https://math.example.org/q/2?x=1", 0.7), page("3", "https://math.example.org/tags/algebra", 0.1), other];
        store.put("scored/s.jsonl.zst", Bytes::from(encode_rows(&rows))).await.unwrap();
        store.put("texts/s.jsonl.zst", Bytes::from(encode_rows(&[PageText { id: "1".into(), text: "x^2".into() }]))).await.unwrap();
        let shards = vec![crate::corpus::done_shard(1, 1, "s.warc.gz".into(), "scored/s.jsonl.zst".into(), "texts/s.jsonl.zst".into())];
        let tree = host_paths(&store, &shards, "math.example.org", Some(bucket_of(0.5)), 3).await.unwrap().unwrap();
        assert_eq!((tree.prefix.as_str(), tree.pages, tree.kept_pages), ("math.example.org", 3, 2));
        assert!((tree.mean_score - (0.9 + 0.7 + 0.1) / 3.0).abs() < 1e-6);
        let q = &tree.children[0];
        assert_eq!((q.prefix.as_str(), q.pages, q.kept_pages, q.children.len()), ("math.example.org/q", 2, 2, 2));
        assert_eq!(q.samples[0].0, "1", "best first");
        assert_eq!(tree.children[1].prefix, "math.example.org/tags");
        assert_eq!(host_paths(&store, &shards, "math.example.org", None, 1).await.unwrap().unwrap().kept_pages, 0);
        assert!(host_paths(&store, &shards, "nowhere.org", None, 3).await.unwrap().is_none());
        let found = find_page(&store, &shards, "1").await.unwrap().unwrap();
        assert_eq!((found.page.url.as_str(), found.text.as_deref()), ("https://math.example.org/q/1", Some("x^2")));
        assert_eq!(find_page(&store, &shards, "3").await.unwrap().unwrap().text, None, "below the text floor: no text");
        assert!(find_page(&store, &shards, "nope").await.unwrap().is_none());
        // Labelling value: unlabelled pages' uncertainty; a label on /q removes its two pages.
        let hosts: std::collections::HashSet<String> = ["math.example.org".to_string(), "blog.example.com".to_string()].into();
        let v = labelling_value(&store, &shards, &hosts, &[]).await.unwrap();
        let u = |p: f64| 4.0 * p * (1.0 - p);
        assert!((v["math.example.org"] - (u(0.9) + u(0.7) + u(0.1))).abs() < 1e-5, "{v:?}");
        let on_q = corpusminer_storage::metastore::Annotation { id: 1, prefix: "math.example.org/q".into(), label: corpusminer_storage::metastore::Label::Math, annotator: "a".into(), created_at: chrono::Utc::now(), note: None, settles: false };
        let v = labelling_value(&store, &shards, &hosts, &[on_q]).await.unwrap();
        assert!((v["math.example.org"] - u(0.1)).abs() < 1e-5, "{v:?}");
        assert!(v["blog.example.com"] < 0.04, "a page scored 0.99 is nearly certain: {v:?}");
    }
}
