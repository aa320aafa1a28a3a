//! Negatives drawn from the crawl itself, as the paper did (500k random Common Crawl pages,
//! arXiv 2402.03300 §2.1): a seeded random sample of the pages of a seeded sample of shards.
//!
//! The sample is a reservoir over the pages of the chosen shards, so memory holds `n` texts
//! whatever the shards' size. A crawl holds some pages of the target domain; at the paper's rate
//! (a few percent) that label noise is small, and the seed's positives dominate them.

use corpusminer_pipeline::extract::extract;
use corpusminer_pipeline::page::Pages;
use corpusminer_pipeline::warc::WarcReader;
use corpusminer_storage::{open_resumable, resolve, RetryPolicy, StorageConfig};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use corpusminer_worker::shard::document_id;
use corpusminer_worker::{grouped, Progress};
use std::collections::HashSet;
use tokio_util::io::SyncIoBridge;

/// Errors sampling crawl pages.
#[derive(Debug, thiserror::Error)]
pub enum NegativesError {
    /// A shard could not be opened.
    #[error("opening {uri}: {message}")]
    Open {
        /// The shard.
        uri: String,
        /// The cause.
        message: String,
    },
}

/// Extracted pages queued between the extracting thread and the reservoir.
const PAGES_IN_FLIGHT: usize = 16;

/// Draws up to `n` pages at random (seeded) from up to `max_shards` shards of `shards`
/// (themselves drawn with the same seed), as (document id, text). Pages whose id is in
/// `exclude` (the pages an earlier iteration kept) and pages whose text cannot be extracted are
/// skipped. Memory: the `n` drawn texts and a few pages in flight (reservoir sampling,
/// Vitter's algorithm R), never a whole shard.
/// `progress` is told the shard read and the pages seen and drawn so far.
pub async fn sample_crawl_pages(
    shards: &[String],
    n: usize,
    max_shards: usize,
    seed: u64,
    exclude: &HashSet<String>,
    storage: &StorageConfig,
    progress: &Progress,
) -> Result<Vec<(String, String)>, NegativesError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6761_7469_7665);
    let mut chosen: Vec<&String> = shards.iter().collect();
    chosen.shuffle(&mut rng);
    chosen.truncate(max_shards.max(1));
    chosen.sort();
    let mut reservoir: Vec<(String, String)> = Vec::with_capacity(n);
    let mut seen = 0u64;
    let n_chosen = chosen.len();
    for (i, uri) in chosen.into_iter().enumerate() {
        let say = |seen: u64, drawn: usize| {
            progress.set_detail(format!("drawing negatives from the crawl: shard {} of {n_chosen}, {} pages seen, {} drawn", i + 1, grouped(seen), grouped(drawn as u64)))
        };
        say(seen, reservoir.len());
        let err = |message: String| NegativesError::Open { uri: uri.clone(), message };
        let (store, key) = resolve(uri, storage).map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
        let reader = open_resumable(store, &key, RetryPolicy::default()).await.map_err(|e| err(corpusminer_storage::error_chain(&e)))?;
        // Pages flow one at a time from the extracting thread; only the reservoir is kept.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(PAGES_IN_FLIGHT);
        let extracting = tokio::task::spawn_blocking(move || {
            for p in Pages::new(WarcReader::new(std::io::BufReader::with_capacity(1 << 20, SyncIoBridge::new(reader)))) {
                let id = document_id(&p.record_id, &p.url, (!p.date.is_empty()).then_some(p.date.as_str()));
                if let Ok(x) = extract(&p.body, p.content_type.as_deref()) {
                    if tx.blocking_send((id, x.text)).is_err() {
                        return;
                    }
                }
            }
        });
        while let Some(text) = rx.recv().await {
            if exclude.contains(&text.0) {
                continue;
            }
            seen += 1;
            if seen % 256 == 0 {
                say(seen, reservoir.len());
            }
            if reservoir.len() < n {
                reservoir.push(text);
            } else {
                let j = rng.gen_range(0..seen);
                if (j as usize) < n {
                    reservoir[j as usize] = text;
                }
            }
        }
        extracting.await.expect("page sampling panicked");
    }
    tracing::info!(pages_seen = seen, sampled = reservoir.len(), "negatives sampled from the crawl");
    Ok(reservoir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn crawl_sample_is_seeded_sized_and_drawn_from_real_pages() {
        let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
        let shards: Vec<String> = ["commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz", "warc/dolma-sample-0000.warc.gz", "warc/dolma-sample-0001.warc.gz"]
            .iter()
            .map(|p| data.join(p).display().to_string())
            .collect();
        let cfg = StorageConfig::default();
        let none = HashSet::new();
        let progress = Progress::default();
        let a = sample_crawl_pages(&shards, 10, 3, 7, &none, &cfg, &progress).await.unwrap();
        let b = sample_crawl_pages(&shards, 10, 3, 7, &none, &cfg, &progress).await.unwrap();
        let c = sample_crawl_pages(&shards, 10, 3, 8, &none, &cfg, &progress).await.unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(a, b, "same seed, same sample");
        assert_ne!(a, c, "another seed draws other pages");
        assert!(a.iter().all(|(id, t)| !t.trim().is_empty() && !id.is_empty()));
        // More than the pages available: every extractable page once.
        let all = sample_crawl_pages(&shards, 10_000, 3, 7, &none, &cfg, &progress).await.unwrap();
        assert!(all.len() > 40 && all.len() < 10_000, "{} pages", all.len());
        // Excluded pages (an earlier iteration's kept set) are never drawn.
        let exclude: HashSet<String> = a.iter().map(|(id, _)| id.clone()).collect();
        let rest = sample_crawl_pages(&shards, 10_000, 3, 7, &exclude, &cfg, &progress).await.unwrap();
        assert_eq!(rest.len(), all.len() - exclude.len());
        assert!(rest.iter().all(|(id, _)| !exclude.contains(id)));
    }
}
