//! The corpora a mined corpus is compared against, drawn from the same iteration's pages (its
//! `scored/` and `texts/` files): the pages that scored just below the threshold, and a random
//! sample of all the crawl's pages, each up to the mined corpus's token count, deduplicated by
//! text and decontaminated against the same benchmarks as the corpus (so no side gains from
//! seeing the evaluation's problems).

use crate::data::{write_snapshot, SnapshotManifest};
use crate::error::TrainerError;
use corpusminer_coordinator::CorpusFilters;
use corpusminer_pipeline::scored::{rows, PageText, ScoredPage};
use corpusminer_storage::{resolve_root, ObjectStore, StorageConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Which pages a derived corpus holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedKind {
    /// Pages scoring under the iteration's threshold, best first.
    BelowThreshold,
    /// Pages drawn uniformly from every scored page (kept or not), by a seeded shuffle.
    Random {
        /// The shuffle's seed.
        seed: u64,
    },
}

/// What [`derive_corpus`] wrote.
#[derive(Debug, Clone)]
pub struct Derived {
    /// The snapshot's manifest (tokens counted as whitespace words).
    pub manifest: SnapshotManifest,
    /// The mined corpus's tokens (the target).
    pub target_tokens: u64,
    /// The iteration's threshold.
    pub threshold: f64,
    /// Highest and lowest score among the chosen pages.
    pub score_range: (f32, f32),
    /// Pages dropped as exact text duplicates, and by decontamination.
    pub duplicates: u64,
    /// Pages dropped whole by decontamination (partly contaminated pages are trimmed).
    pub decontaminated: u64,
}

async fn read_key(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Vec<u8>, TrainerError> {
    let mut r = store.open_read(key, 0).await?;
    corpusminer_storage::object_store::read_all(&mut r).await.map_err(|e| TrainerError::Corpus { key: key.into(), message: e.to_string() })
}

/// Writes a corpus of `kind` for iteration folder `iteration_uri` (`out/iterations/1`, local or
/// `s3://`) into the local folder `out_dir` (`docs.jsonl.zst`, `manifest.json`). Pages are added
/// until their tokens (the scored rows' count, as the corpus manifest counts) reach the mined
/// corpus's. Memory holds every scored row and the chosen texts (fine for an iteration of this
/// machine's size; a crawl-sized iteration would want a streamed two-pass version).
pub async fn derive_corpus(iteration_uri: &str, cfg: &StorageConfig, kind: DerivedKind, out_dir: &Path) -> Result<Derived, TrainerError> {
    let store = resolve_root(iteration_uri, cfg)?;
    let manifest: serde_json::Value = serde_json::from_slice(&store.get("corpus/manifest.json").await?)
        .map_err(|e| TrainerError::Corpus { key: "corpus/manifest.json".into(), message: e.to_string() })?;
    let threshold = manifest["selection"]["threshold"].as_f64().ok_or_else(|| TrainerError::Corpus { key: "corpus/manifest.json".into(), message: "no selection.threshold".into() })?;
    let target_tokens = manifest["tokens"].as_u64().unwrap_or(0);
    let mut pages: Vec<ScoredPage> = Vec::new();
    for key in store.list("scored/").await? {
        if !key.ends_with(".jsonl.zst") {
            continue;
        }
        let bytes = read_key(&store, &key).await?;
        for row in rows::<ScoredPage, _>(&bytes[..]).map_err(|e| TrainerError::Corpus { key: key.clone(), message: e.to_string() })? {
            pages.push(row.map_err(|e| TrainerError::Corpus { key: key.clone(), message: e.to_string() })?);
        }
    }
    match kind {
        DerivedKind::BelowThreshold => {
            pages.retain(|p| (p.score as f64) < threshold);
            pages.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        }
        DerivedKind::Random { seed } => {
            pages.sort_by(|a, b| a.id.cmp(&b.id));
            pages.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        }
    }
    let mut seen_hash = HashSet::new();
    let mut duplicates = 0;
    let candidates: Vec<ScoredPage> = pages
        .into_iter()
        .filter(|p| {
            let fresh = seen_hash.insert(p.content_hash.clone());
            duplicates += (!fresh) as u64;
            fresh && p.tokens > 0
        })
        .collect();
    // Texts of the candidates, in order, until the token target (a page's text is read from
    // its shard's texts file; only the candidates' texts are held).
    let wanted: HashMap<&str, usize> = candidates.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut texts: Vec<Option<String>> = vec![None; candidates.len()];
    for key in store.list("texts/").await? {
        if !key.ends_with(".jsonl.zst") {
            continue;
        }
        let bytes = read_key(&store, &key).await?;
        for row in rows::<PageText, _>(&bytes[..]).map_err(|e| TrainerError::Corpus { key: key.clone(), message: e.to_string() })? {
            let row = row.map_err(|e| TrainerError::Corpus { key: key.clone(), message: e.to_string() })?;
            if let Some(&i) = wanted.get(row.id.as_str()) {
                texts[i] = Some(row.text);
            }
        }
    }
    let filters = CorpusFilters::default().load().map_err(|e| TrainerError::Config(e.to_string()))?;
    let mut out = Vec::new();
    let (mut tokens, mut decontaminated) = (0u64, 0u64);
    let (mut hi, mut lo) = (f32::NEG_INFINITY, f32::INFINITY);
    for (p, text) in candidates.iter().zip(texts) {
        if tokens >= target_tokens {
            break;
        }
        let Some(text) = text else { continue };
        let text = match &filters.decontaminator {
            Some(d) => match d.clean(&text).text {
                Some(t) => t,
                None => {
                    decontaminated += 1;
                    continue;
                }
            },
            None => text,
        };
        // The last page is cut at the word that reaches the target, so the sizes match.
        let left = (target_tokens - tokens) as usize;
        let text = match text.split_whitespace().nth(left) {
            Some(word) => text[..word.as_ptr() as usize - text.as_ptr() as usize].trim_end().to_string(),
            None => text,
        };
        tokens += text.split_whitespace().count() as u64;
        hi = hi.max(p.score);
        lo = lo.min(p.score);
        out.push(text);
    }
    if out.is_empty() {
        return Err(TrainerError::Corpus { key: iteration_uri.into(), message: "no page with text to derive a corpus from".into() });
    }
    let name = match kind {
        DerivedKind::BelowThreshold => "below-threshold".to_string(),
        DerivedKind::Random { seed } => format!("random-{seed}"),
    };
    let manifest = write_snapshot(out_dir, &name, &out)?;
    Ok(Derived { manifest, target_tokens, threshold, score_range: (hi, lo), duplicates, decontaminated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corpusminer_pipeline::scored::encode_rows;

    const GSM8K_FIRST: &str = "Janet\u{2019}s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?";

    fn page(id: &str, score: f32, text: &str, hash: &str) -> (ScoredPage, PageText) {
        let p = ScoredPage {
            id: id.into(),
            url: format!("https://example.org/{id}"),
            host: "example.org".into(),
            domain: "example.org".into(),
            score,
            tokens: text.split_whitespace().count() as u64,
            content_hash: hash.into(),
            warc_offset: 0,
            warc_length: 0,
            date: None,
            lang: "en".into(),
        };
        (p, PageText { id: id.into(), text: text.into() })
    }

    /// An iteration folder: threshold 0.5, a corpus of 12 tokens, and pages around the threshold.
    fn iteration(dir: &Path) {
        let words = |w: &str, n: usize| vec![w; n].join(" ");
        let pages = [
            page("kept", 0.9, &words("kept", 12), "h0"),
            page("b1", 0.45, &words("near", 5), "h1"),
            page("b1-copy", 0.44, &words("near", 5), "h1"),
            page("contaminated", 0.43, GSM8K_FIRST, "h2"),
            page("b2", 0.30, &words("lower", 6), "h3"),
            page("b3", 0.10, &words("lowest", 6), "h4"),
        ];
        let (scored, texts): (Vec<_>, Vec<_>) = pages.into_iter().unzip();
        for (sub, bytes) in [("scored", encode_rows(&scored)), ("texts", encode_rows(&texts))] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("000001-shard.jsonl.zst"), bytes).unwrap();
        }
        std::fs::create_dir_all(dir.join("corpus")).unwrap();
        std::fs::write(dir.join("corpus/manifest.json"), r#"{"selection": {"bucket": 1000, "threshold": 0.5, "kept_pages": 1, "kept_tokens": 12}, "tokens": 12, "documents": 1}"#).unwrap();
    }

    #[tokio::test]
    async fn below_threshold_takes_the_best_unkept_pages_up_to_the_corpus_size() {
        let dir = tempfile::tempdir().unwrap();
        iteration(dir.path());
        let out = dir.path().join("below");
        let d = derive_corpus(dir.path().to_str().unwrap(), &StorageConfig::default(), DerivedKind::BelowThreshold, &out).await.unwrap();
        assert_eq!(d.manifest.tokens, 12, "the same size as the corpus");
        assert_eq!((d.duplicates, d.decontaminated), (1, 1));
        let docs: Vec<serde_json::Value> = zstd::decode_all(&std::fs::read(out.join("docs.jsonl.zst")).unwrap()[..])
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let texts: Vec<&str> = docs.iter().map(|d| d["text"].as_str().unwrap()).collect();
        // Best first (0.45, then 0.30; the copy and the GSM8K problem left out), the last cut at the target.
        assert_eq!(texts, vec!["near near near near near", "lower lower lower lower lower lower", "lowest"]);
        assert!((d.threshold - 0.5).abs() < 1e-12);
    }

    #[tokio::test]
    async fn a_random_sample_is_seeded_and_draws_from_every_page() {
        let dir = tempfile::tempdir().unwrap();
        iteration(dir.path());
        let draw = |seed: u64, name: &str| {
            let out = dir.path().join(name);
            let iter = dir.path().to_str().unwrap().to_string();
            async move {
                derive_corpus(&iter, &StorageConfig::default(), DerivedKind::Random { seed }, &out).await.unwrap();
                std::fs::read(out.join("docs.jsonl.zst")).unwrap()
            }
        };
        assert_eq!(draw(3, "a").await, draw(3, "b").await, "same seed, same sample");
        let mut kinds = HashSet::new();
        for seed in 0..12 {
            let bytes = draw(seed, &format!("s{seed}")).await;
            let text = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
            kinds.insert(text.contains("kept kept"));
        }
        assert_eq!(kinds.len(), 2, "kept pages are in some samples and not in others");
    }
}
