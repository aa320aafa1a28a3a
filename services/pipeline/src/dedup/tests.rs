//! Dedup tests on real page texts: the 127 `articleBody` texts of
//! `html-extraction/ground-truth.json` (scrapinghub article-extraction-benchmark), lightly
//! edited copies of them, and the extractor's text of same-site page pairs.

use super::*;
use crate::testdata::shared_data_dir;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

/// (url, articleBody) of every ground-truth article, in key order.
fn articles() -> Option<Vec<(String, String)>> {
    let dir = shared_data_dir()?;
    let raw = std::fs::read(dir.join("html-extraction/ground-truth.json")).expect("ground truth readable");
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&raw).expect("ground truth json");
    Some(
        map.values()
            .map(|v| (v["url"].as_str().unwrap().to_string(), v["articleBody"].as_str().unwrap().to_string()))
            .collect(),
    )
}

fn word_count(t: &str) -> usize {
    t.split_whitespace().count()
}

/// Replaces one word in every `every` (at least one) with a different word.
fn change_words(t: &str, every: usize) -> String {
    let words: Vec<&str> = t.split_whitespace().collect();
    let step = every.min(words.len()).max(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| if i % step == step / 2 { "replaced" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drops the shortest sentence of at least 3 words.
fn drop_sentence(t: &str) -> String {
    let sentences: Vec<&str> = t.split_inclusive('\n').flat_map(|line| line.split_inclusive(". ")).collect();
    let Some((drop, _)) =
        sentences.iter().enumerate().filter(|(_, s)| word_count(s) >= 3).min_by_key(|(i, s)| (word_count(s), *i))
    else {
        return t.to_string();
    };
    sentences.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, s)| *s).collect()
}

fn add_footer(t: &str) -> String {
    format!("{t}\n\nShare this article: Facebook, Twitter, Email. (c) 2024 All rights reserved.")
}

fn case_and_whitespace(t: &str) -> String {
    t.to_uppercase().split_whitespace().collect::<Vec<_>>().join("   \n ")
}

/// The light edits: (name, edited text).
fn light_edits(t: &str) -> Vec<(&'static str, String)> {
    vec![
        ("change_words", change_words(t, 200)),
        ("drop_sentence", drop_sentence(t)),
        ("add_footer", add_footer(t)),
        ("case_and_whitespace", case_and_whitespace(t)),
        ("words_and_footer", add_footer(&change_words(t, 300))),
    ]
}

/// An edit is light when the true shingle Jaccard of copy and original stays at least this.
const LIGHT_JACCARD: f64 = 0.85;

/// Articles long enough for a light edit to stay light: at least this many words.
const MIN_WORDS: usize = 200;

#[test]
fn lightly_edited_copies_are_caught_and_distinct_articles_are_not_merged() {
    let Some(arts) = articles() else { return };
    assert_eq!(arts.len(), 127);
    let cfg = LshConfig::default();
    // Originals get ids 0..127; the copies of article i get ids 1000 * (i + 1) + k.
    let mut texts: Vec<(u64, String, String, f32)> = Vec::new();
    let mut used = 0;
    for (i, (url, body)) in arts.iter().enumerate() {
        texts.push((i as u64, url.clone(), body.clone(), 0.5));
        if word_count(body) < MIN_WORDS {
            continue;
        }
        used += 1;
        for (k, (name, edited)) in light_edits(body).into_iter().enumerate() {
            let j = minhash::shingle_jaccard(body, &edited, DEFAULT_SEED);
            assert!(j >= LIGHT_JACCARD, "article {i} edit {name}: true Jaccard {j:.3} is not a light edit");
            texts.push((1000 * (i as u64 + 1) + k as u64, format!("{url}?copy={k}"), edited, 0.9));
        }
    }
    assert!(used >= 100, "only {used} articles of {MIN_WORDS}+ words");
    let docs: Vec<DedupDoc> =
        texts.iter().map(|(id, url, text, score)| DedupDoc { id: *id, url, score: *score, text }).collect();
    let report = dedup_in_memory(&docs, &cfg, DEFAULT_SEED).unwrap();

    // Every copy is clustered with its original, and no two articles are merged.
    let mut cluster_of: HashMap<u64, usize> = HashMap::new();
    for (c, cl) in report.near.clusters.iter().enumerate() {
        for id in std::iter::once(cl.kept).chain(cl.removed.iter().copied()) {
            cluster_of.insert(id, c);
        }
    }
    let mut missed = Vec::new();
    for (id, _, _, _) in texts.iter().filter(|t| t.0 >= 1000) {
        let orig = id / 1000 - 1;
        if !cluster_of.contains_key(id) || cluster_of.get(id) != cluster_of.get(&orig) {
            missed.push(*id);
        }
    }
    let h = MinHasher::new(cfg.num_perm(), DEFAULT_SEED);
    for id in &missed {
        let (orig, copy) =
            (&texts.iter().find(|t| t.0 == id / 1000 - 1).unwrap().2, &texts.iter().find(|t| t.0 == *id).unwrap().2);
        let (sa, sb) = (h.signature(orig).unwrap(), h.signature(copy).unwrap());
        eprintln!(
            "missed {id}: {} words, true Jaccard {:.3}, estimated {:.3}",
            word_count(orig),
            minhash::shingle_jaccard(orig, copy, DEFAULT_SEED),
            estimated_jaccard(&sa, &sb)
        );
    }
    assert!(missed.is_empty(), "edited copies not caught: {missed:?}");
    assert_eq!(report.near.clusters.len(), used, "one cluster per edited article, none merged");
    for cl in &report.near.clusters {
        let originals: HashSet<u64> = std::iter::once(cl.kept)
            .chain(cl.removed.iter().copied())
            .map(|id| if id >= 1000 { id / 1000 - 1 } else { id })
            .collect();
        assert_eq!(originals.len(), 1, "cluster {cl:?} merges articles");
        // The kept page is the highest score (the copies score 0.9), then the smallest id.
        assert!(cl.kept >= 1000 && cl.kept % 1000 == 0, "kept {} of {cl:?}", cl.kept);
    }
    assert_eq!(report.near.removed as usize, used * 5);
    assert_eq!(report.counters.get("near_duplicate_removed"), used as u64 * 5);
    assert_eq!(report.counters.get("url_duplicate_removed"), 0);
    assert_eq!(report.kept.len(), 127);
    eprintln!(
        "{used} articles x 5 edits caught; candidate pairs {}, confirmed {}, rejected {}",
        report.counters.get("candidate_pairs"),
        report.counters.get("confirmed_pairs"),
        report.counters.get("rejected_pairs")
    );
}

#[test]
fn threshold_is_configurable() {
    let Some(arts) = articles() else { return };
    let (url, body) = arts.iter().find(|(_, b)| word_count(b) > 400).unwrap();
    let edited = change_words(body, 20);
    let j = minhash::shingle_jaccard(body, &edited, DEFAULT_SEED);
    assert!((0.55..0.8).contains(&j), "true Jaccard {j}");
    let copy_url = format!("{url}#copy");
    let docs = [
        DedupDoc { id: 1, url, score: 0.1, text: body },
        DedupDoc { id: 2, url: "https://example.org/mirror", score: 0.1, text: &edited },
    ];
    let lenient = LshConfig { bands: 28, rows: 4, threshold: 0.5 };
    let r = dedup_in_memory(&docs, &lenient, DEFAULT_SEED).unwrap();
    assert_eq!(r.near.clusters, vec![Cluster { kept: 1, removed: vec![2] }]);
    let strict = dedup_in_memory(&docs, &LshConfig::default(), DEFAULT_SEED).unwrap();
    assert!(strict.near.clusters.is_empty());
    // The same URL with a fragment is removed by step 1 and never reaches step 2.
    let docs = [docs[0], DedupDoc { id: 0, url: &copy_url, score: 0.9, text: "other" }];
    let r = dedup_in_memory(&docs, &LshConfig::default(), DEFAULT_SEED).unwrap();
    assert_eq!(r.url.removed, vec![(1, 0)]);
    assert_eq!(r.kept, vec![0]);
}

#[test]
fn same_site_pages_are_not_merged() {
    // Pairs of articles from one host, as the extractor renders them from the saved HTML (site
    // boilerplate the extractor kept is shared) and as ground truth gives them.
    let Some(dir) = shared_data_dir() else { return };
    let raw = std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap();
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&raw).unwrap();
    let mut by_host: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (key, v) in &map {
        let url = v["url"].as_str().unwrap();
        let host = crate::domain::host_domain(url).unwrap().host;
        by_host.entry(host).or_default().push((key.clone(), url.to_string()));
    }
    let mut texts = Vec::new();
    for pages in by_host.values().filter(|p| p.len() > 1) {
        for (key, url) in pages {
            let gz = std::fs::read(dir.join(format!("html-extraction/html/{key}.html.gz"))).unwrap();
            let mut html = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut html).unwrap();
            let text = crate::extract::extract(&html, None).map(|e| e.text).unwrap_or_default();
            texts.push((url.clone(), text));
            texts.push((format!("{url}?gt"), map[key]["articleBody"].as_str().unwrap().to_string()));
        }
    }
    assert!(texts.len() >= 100, "{} same-site texts", texts.len());
    let docs: Vec<DedupDoc> =
        texts.iter().enumerate().map(|(i, (u, t))| DedupDoc { id: i as u64, url: u, score: 0.5, text: t }).collect();
    let r = dedup_in_memory(&docs, &LshConfig::default(), DEFAULT_SEED).unwrap();
    // The only clusters allowed pair a page's extracted text with its own ground truth
    // (ids 2k and 2k+1): never two different pages of one site.
    for cl in &r.near.clusters {
        let pages: HashSet<u64> = std::iter::once(cl.kept).chain(cl.removed.iter().copied()).map(|id| id / 2).collect();
        assert_eq!(
            pages.len(),
            1,
            "different pages merged: {cl:?} {:?}",
            pages.iter().map(|p| &texts[*p as usize * 2].0).collect::<Vec<_>>()
        );
    }
    // The closest two different pages of one site (extracted text, ids 0, 2 of each host pair).
    let max_j = (0..texts.len() / 4)
        .map(|h| minhash::shingle_jaccard(&texts[4 * h].1, &texts[4 * h + 2].1, DEFAULT_SEED))
        .fold(0.0f64, f64::max);
    assert!(max_j < 0.5, "same-site pages this close: {max_j}");
    eprintln!("max true Jaccard between two pages of one site: {max_j:.3}");
    eprintln!(
        "{} texts of {} same-site pages; {} extracted-vs-truth clusters",
        texts.len(),
        texts.len() / 2,
        r.near.clusters.len()
    );
}

/// Signs `docs` into a signature file and `partitions` row buffers, as a shard's worker would.
fn write_partitioned(
    docs: &[DedupDoc],
    cfg: &LshConfig,
    partitions: usize,
) -> (Vec<u8>, HashMap<u64, u64>, Vec<Vec<u8>>) {
    let mut w = NearDupWriter::new(
        MinHasher::new(cfg.num_perm(), DEFAULT_SEED),
        *cfg,
        SignatureFileWriter::new(Vec::new(), 0),
        BandRowWriter::new(partitions, |_| Ok(Vec::new())).unwrap(),
    )
    .unwrap();
    for d in docs {
        w.add(d.id, d.score, d.text).unwrap();
    }
    w.finish().unwrap()
}

/// Real-text variants: each article with `copies` edits of growing strength (some beyond the
/// threshold), and random ids and scores.
fn variants(arts: &[(String, String)], copies: usize) -> Vec<(u64, String, String, f32)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    for (i, (url, body)) in arts.iter().enumerate() {
        for k in 0..copies {
            let text = match k % 4 {
                0 => change_words(body, 200 / (k + 1)),
                1 => add_footer(&drop_sentence(body)),
                2 => case_and_whitespace(body),
                _ => change_words(body, 40 / (k / 4 + 1) + 2),
            };
            let id = ((i * copies + k) as u64).wrapping_mul(0x9E37_79B9) % 1_000_000_007;
            out.push((id, format!("{url}?v={k}"), text, rng.gen_range(0.0..1.0)));
        }
    }
    out
}

#[test]
fn partitioned_driver_matches_in_memory_under_a_memory_cap() {
    let Some(arts) = articles() else { return };
    let cfg = LshConfig::default();
    let vars = variants(&arts, 24);
    let docs: Vec<DedupDoc> =
        vars.iter().map(|(id, url, text, s)| DedupDoc { id: *id, url, score: *s, text }).collect();
    assert!(docs.len() >= 3000);
    let in_memory = dedup_in_memory(&docs, &cfg, DEFAULT_SEED).unwrap();
    let total_rows = in_memory.near.peak_rows_in_memory;
    assert_eq!(total_rows, docs.len() * 14);

    let partitions = 16;
    let (sig_file, index, parts) = write_partitioned(&docs, &cfg, partitions);
    // The cap: a partition's share plus 10% slack, far below all rows at once.
    let cap = total_rows / partitions * 11 / 10;
    let mut c = Counters::default();
    let mut store = FileSignatures::scan(Cursor::new(&sig_file), &mut c).unwrap();
    assert_eq!(store.len(), docs.len());
    let out = dedup_partitions(partitions, |p| Ok(&parts[p][..]), &mut store, &cfg, cap).unwrap();
    assert!(out.peak_rows_in_memory <= cap, "peak {} > cap {cap}", out.peak_rows_in_memory);
    assert!(out.peak_rows_in_memory * 10 < total_rows);
    assert_eq!(out.counters.get("band_rows") as usize, total_rows);
    assert_eq!(out.counters.get("partitions"), 16);
    assert_eq!(out.clusters, in_memory.near.clusters, "partitioned clusters differ from in-memory");
    assert_eq!(out.removed, in_memory.near.removed);
    assert!(out.removed as usize > docs.len() / 2, "removed only {}", out.removed);
    // The index the writer returned serves the same lookups as a rescan.
    let mut by_index = FileSignatures::new(Cursor::new(&sig_file), index);
    let again = dedup_partitions(partitions, |p| Ok(&parts[p][..]), &mut by_index, &cfg, cap).unwrap();
    assert_eq!(again.clusters, out.clusters);
    // Kept pages: highest score of their cluster.
    let score: HashMap<u64, f32> = docs.iter().map(|d| (d.id, d.score)).collect();
    for cl in &out.clusters {
        assert!(cl.removed.iter().all(|r| score[r] < score[&cl.kept] || (score[r] == score[&cl.kept] && *r > cl.kept)));
    }
    // A cap below a partition's size is refused, not silently exceeded.
    let e = dedup_partitions(partitions, |p| Ok(&parts[p][..]), &mut store, &cfg, cap / 3).unwrap_err();
    assert_eq!(e.reason(), "partition_over_budget");
    eprintln!(
        "{} docs, {} rows, 16 partitions: peak {} rows (cap {cap}); {} clusters, {} removed",
        docs.len(),
        total_rows,
        out.peak_rows_in_memory,
        out.clusters.len(),
        out.removed
    );
}

#[test]
fn urls_of_real_pages_normalise_stably() {
    let Some(arts) = articles() else { return };
    let mut keys = HashSet::new();
    for (url, _) in &arts {
        let key = normalize_url(url).unwrap();
        assert_eq!(normalize_url(&key).unwrap(), key, "not idempotent: {url}");
        let sep = if key.contains('?') { '&' } else { '?' };
        // Upper-cased scheme and host, trackers and a fragment added.
        let host_end = url.find("://").map(|p| p + 3 + url[p + 3..].find('/').unwrap_or(url.len() - p - 3)).unwrap();
        let noisy = format!(
            "{}{}{sep}utm_source=newsletter&fbclid=abc#comments",
            url[..host_end].to_uppercase(),
            &url[host_end..]
        );
        assert_eq!(normalize_url(&noisy).unwrap(), key, "{url}");
        keys.insert(key);
    }
    assert_eq!(keys.len(), arts.len(), "distinct real URLs must keep distinct keys");
}

/// Throughput: `cargo test --release -p corpusminer-pipeline dedup::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let Some(arts) = articles() else { return };
    let h = MinHasher::new(112, DEFAULT_SEED);
    let bytes: usize = arts.iter().map(|a| a.1.len()).sum();
    let rounds = 20;
    let t = std::time::Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for (_, body) in &arts {
            n += h.signature(body).map(|s| s.len()).unwrap_or(0) / 112;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "minhash: {n} signatures in {secs:.3}s: {:.0} signatures/s, {:.1} MB/s (112 perms, mean {} bytes/text)",
        n as f64 / secs,
        (bytes * rounds) as f64 / secs / 1e6,
        bytes / arts.len()
    );
}
