//! The corpus writer's filters on real page texts: the 127 pages of `html-extraction/` as the
//! extractor renders them, lightly edited copies of them, and real GSM8K / MATH test problems
//! pasted into them. Each test writes real scored-page and text files for a few shards into a
//! local object store and runs [`write_corpus`] over them.

use crate::corpus::{write_corpus, DecontamLine, DolmaDocument, Manifest};
use crate::filters::{ClusterEntry, CorpusFilters, FilterError, NearDupSettings};
use corpusminer_pipeline::decontam::{BenchmarkSpec, DecontamError};
use corpusminer_pipeline::dedup::{dedup_in_memory, minhash::shingle_jaccard, DedupDoc, DEFAULT_SEED};
use corpusminer_pipeline::histogram::{bucket_of, Selection};
use corpusminer_pipeline::scored::{encode_rows, read_rows, PageText, ScoredPage};
use corpusminer_pipeline::testdata::shared_data_dir;
use corpusminer_pipeline::text::TokenCounter;
use corpusminer_storage::metastore::ShardRow;
use corpusminer_storage::{LocalStore, ObjectStore};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// Score of a kept page in these tests (the selection keeps 0.5 and up).
const KEPT: f32 = 0.9;

/// (url, extracted text) of every page of `html-extraction/` that yields text, by file key.
fn real_pages() -> Option<&'static [(String, String)]> {
    static PAGES: OnceLock<Option<Vec<(String, String)>>> = OnceLock::new();
    PAGES
        .get_or_init(|| {
            let dir = shared_data_dir()?;
            let raw = std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap();
            let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&raw).unwrap();
            let mut out = Vec::new();
            for (key, v) in &map {
                let gz = std::fs::read(dir.join(format!("html-extraction/html/{key}.html.gz"))).unwrap();
                let mut html = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut html).unwrap();
                if let Ok(x) = corpusminer_pipeline::extract::extract(&html, None) {
                    out.push((v["url"].as_str().unwrap().to_string(), x.text));
                }
            }
            Some(out)
        })
        .as_deref()
}

fn words(t: &str) -> usize {
    t.split_whitespace().count()
}

/// Field `field` of record `line` (0-based) of a benchmark file.
fn bench_text(file: &str, line: usize, field: &str) -> String {
    let text = std::fs::read_to_string(shared_data_dir().unwrap().join("benchmarks").join(file)).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(line).unwrap()).unwrap();
    v[field].as_str().unwrap().to_string()
}

/// `body` with `para` as a paragraph of its own before paragraph `at`.
fn insert_paragraph(body: &str, at: usize, para: &str) -> String {
    let mut parts: Vec<&str> = body.split("\n\n").collect();
    parts.insert(at.min(parts.len()), para);
    parts.join("\n\n")
}

/// A light edit: one space-separated word in every `every` replaced (layout kept).
fn change_words(t: &str, every: usize) -> String {
    t.split(' ')
        .enumerate()
        .map(|(i, w)| if i % every == every / 2 && !w.contains('\n') && !w.is_empty() { "changed" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A light edit: a footer line.
fn add_footer(t: &str) -> String {
    format!("{t}\n\nShare this article on Facebook, Twitter or by email. Copyright 2024, all rights reserved.")
}

/// A page as the worker writes it: scored row and text.
fn page(id: &str, url: &str, text: &str, score: f32) -> (ScoredPage, PageText) {
    let hd = corpusminer_pipeline::domain::host_domain(url).unwrap();
    let scored = ScoredPage {
        id: id.to_string(),
        url: url.to_string(),
        host: hd.host,
        domain: hd.domain,
        score,
        tokens: TokenCounter::Whitespace.count(text),
        content_hash: hex::encode(&Sha256::digest(text.as_bytes())[..16]),
        warc_offset: 0,
        warc_length: 1,
        date: None,
        lang: corpusminer_pipeline::lang::identify(text).to_string(),
    };
    (scored, PageText { id: id.to_string(), text: text.to_string() })
}

/// Scored and text files of some shards in a local store.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
    shards: Vec<ShardRow>,
}

impl Fixture {
    async fn new(shards: Vec<Vec<(ScoredPage, PageText)>>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
        let mut rows = Vec::new();
        for (n, pages) in shards.into_iter().enumerate() {
            let key = format!("iterations/1/scored/{n:06}-shard.jsonl.zst");
            let (scored, texts): (Vec<ScoredPage>, Vec<PageText>) = pages.into_iter().unzip();
            store.put(&key, encode_rows(&scored).into()).await.unwrap();
            store.put(&key.replace("/scored/", "/texts/"), encode_rows(&texts).into()).await.unwrap();
            rows.push(crate::corpus::done_shard(n as i64 + 1, 1, format!("/crawl/shard-{n}.warc.gz"), key.clone(), key.replace("/scored/", "/texts/")));
        }
        Fixture { _dir: dir, store, shards: rows }
    }

    /// Writes the corpus with `filters`; returns the manifest and the documents by id.
    async fn write(&self, filters: &CorpusFilters) -> Result<(Manifest, BTreeMap<String, DolmaDocument>), crate::corpus::CorpusError> {
        let selection = Selection { bucket: bucket_of(0.5), threshold: 0.5, kept_pages: 0, kept_tokens: 0 };
        let (manifest, _) = write_corpus(
            &self.store,
            &self.shards,
            "corpus",
            &selection,
            "TEST",
            1,
            ("model.bin", "0"),
            None,
            filters,
            &TokenCounter::Whitespace,
        )
        .await?;
        let mut docs = BTreeMap::new();
        for f in &manifest.files {
            let bytes = self.store.get(&format!("corpus/{}", f.path)).await.unwrap();
            for d in read_rows::<DolmaDocument, _>(&bytes[..]).unwrap() {
                assert!(docs.insert(d.id.clone(), d).is_none(), "a document written twice");
            }
        }
        assert_eq!(docs.len() as u64, manifest.documents);
        Ok((manifest, docs))
    }

    /// The lines of a JSONL file of the corpus folder.
    async fn lines<T: serde::de::DeserializeOwned>(&self, name: &str) -> Vec<T> {
        let bytes = self.store.get(&format!("corpus/{name}")).await.unwrap();
        std::str::from_utf8(&bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// Pages `from..to` of [`real_pages`] as they are, ids `p0000`…, score [`KEPT`].
fn originals(pages: &[(String, String)], from: usize, to: usize) -> Vec<(ScoredPage, PageText)> {
    (from..to).map(|i| page(&format!("p{i:04}"), &pages[i].0, &pages[i].1, KEPT)).collect()
}

/// Index of the first real page at or after `from` with at least `paras` paragraphs and `min_words` words.
fn find_page(pages: &[(String, String)], from: usize, paras: usize, min_words: usize) -> usize {
    (from..pages.len()).find(|&i| pages[i].1.split("\n\n").count() >= paras && words(&pages[i].1) >= min_words).unwrap()
}

#[tokio::test]
async fn a_gsm8k_question_in_a_real_page_loses_its_paragraph_and_clean_pages_pass_untouched() {
    let Some(pages) = real_pages() else { return };
    let host = find_page(pages, 20, 4, 300);
    let question = bench_text("gsm8k-test.jsonl", 0, "question");
    assert!(question.starts_with("Janet’s ducks"));
    let (url, body) = &pages[host];
    let contaminated = insert_paragraph(body, 2, &question);
    let clean = originals(pages, 0, 20);
    let fx = Fixture::new(vec![clean.clone(), vec![page("zz-host", url, &contaminated, KEPT)]]).await;
    let (manifest, docs) = fx.write(&CorpusFilters::default()).await.unwrap();

    // The paragraph is gone, the rest of the page is its text byte for byte, tokens recounted.
    let doc = &docs["zz-host"];
    assert_eq!(doc.text, *body);
    assert_eq!(doc.metadata.tokens, words(body) as u64);
    // Pages with no benchmark text: byte-identical.
    for (p, t) in &clean {
        assert_eq!(docs[&p.id].text, t.text, "{} changed", p.url);
        assert_eq!(docs[&p.id].metadata.tokens, p.tokens);
    }
    let d = &manifest.filters.decontam;
    assert_eq!((d.documents, d.documents_trimmed, d.documents_dropped, d.segments_removed), (21, 1, 0, 1));
    assert_eq!(d.chars_removed, question.chars().count() as u64);
    assert_eq!(d.tokens_removed, words(&question) as u64);
    let names: Vec<&str> = d.benchmarks.iter().map(|b| b.benchmark.name.as_str()).collect();
    assert_eq!(names, ["gsm8k", "math", "math500", "cmath", "gaokao_mathqa", "gaokao_mathcloze", "mgsm_zh"], "the defaults, embedded in the binary");
    let gsm = &d.benchmarks[0];
    assert_eq!((gsm.segments, gsm.documents, gsm.documents_dropped), (1, 1, 0));
    assert_eq!((gsm.benchmark.records, gsm.benchmark.fields.clone()), (1319, vec!["question".to_string(), "answer".to_string()]));
    assert_eq!(
        (gsm.benchmark.path.as_str(), gsm.benchmark.sha256.as_str()),
        ("embedded:gsm8k-test.jsonl", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14")
    );
    assert!(d.benchmarks[1..].iter().all(|b| b.segments == 0 && b.documents == 0));
    assert_eq!(manifest.filters.documents, 21);
    let touched: Vec<DecontamLine> = fx.lines("decontamination.jsonl").await;
    assert_eq!(touched.len(), 1);
    assert_eq!((touched[0].id.as_str(), touched[0].dropped), ("zz-host", false));
    assert_eq!(touched[0].segments, [("gsm8k".to_string(), 2)]);

    // Without benchmarks the page is written as it came.
    let off = CorpusFilters { default_benchmarks: false, ..CorpusFilters::default() };
    let (manifest, docs) = fx.write(&off).await.unwrap();
    assert_eq!(docs["zz-host"].text, contaminated);
    assert!(manifest.filters.decontam.benchmarks.is_empty() && manifest.filters.decontam.documents == 0);
}

#[tokio::test]
async fn light_edits_of_real_pages_are_near_duplicates_and_pages_of_one_site_are_not() {
    let Some(pages) = real_pages() else { return };
    // Every real page once (many hosts have two different pages), in three shards.
    let n = pages.len();
    let mut shards = vec![originals(pages, 0, n / 2), originals(pages, n / 2, n), Vec::new()];
    // Light edits of the long pages, under other URLs, in the third shard: a few words changed,
    // a footer added, or both. The copies score higher than their original except for `footer`.
    let mut copies: Vec<(usize, String)> = Vec::new();
    for i in (0..n).filter(|&i| words(&pages[i].1) >= 400).take(12) {
        let body = &pages[i].1;
        for (k, (name, text, score)) in [
            ("words", change_words(body, 100), 0.95),
            ("footer", add_footer(body), 0.7),
            ("both", add_footer(&change_words(body, 150)), 0.99),
        ]
        .into_iter()
        .enumerate()
        {
            let j = shingle_jaccard(body, &text, DEFAULT_SEED);
            assert!(j >= 0.85, "page {i} edit {name}: Jaccard {j:.3} is not a light edit");
            let id = format!("c{i:04}-{k}");
            shards[2].push(page(&id, &format!("https://mirror.example.org/{i}/{name}"), &text, score));
            copies.push((i, id));
        }
    }
    assert_eq!(copies.len(), 36);
    let fx = Fixture::new(shards).await;
    let (manifest, docs) = fx.write(&CorpusFilters { default_benchmarks: false, ..CorpusFilters::default() }).await.unwrap();
    let nd = manifest.filters.near_dup.as_ref().unwrap();
    let clusters: Vec<ClusterEntry> = fx.lines("near_duplicates.jsonl").await;

    // One cluster per edited page: the original and its three copies, the best score kept.
    assert_eq!(clusters.len(), 12, "{clusters:#?}");
    for c in &clusters {
        let members: BTreeSet<&str> = std::iter::once(&c.kept).chain(&c.removed).map(|p| p.id.as_str()).collect();
        let page_no: BTreeSet<&str> = members.iter().map(|id| &id[1..5]).collect();
        assert_eq!(page_no.len(), 1, "a cluster merges different pages: {members:?}");
        assert_eq!(members.len(), 4, "{members:?}");
        assert!(c.kept.id.ends_with("-2"), "kept {} (score {}), not the best-scoring copy", c.kept.id, c.kept.score);
        // Each copy was confirmed against some member at >= 0.8; against the kept copy the
        // estimate may be lower (a cluster is joined transitively).
        assert!(c.removed.iter().all(|r| r.jaccard.unwrap() >= 0.6), "{c:?}");
        assert!(docs.contains_key(&c.kept.id) && c.removed.iter().all(|r| !docs.contains_key(&r.id)));
    }
    assert_eq!((nd.removed, nd.clusters, manifest.filters.near_duplicates_removed), (36, 12, 36));
    // Every other page, among them both pages of each site with two, is written.
    assert_eq!(docs.len(), n);
    let sites = {
        let mut by_host: HashMap<String, usize> = HashMap::new();
        for (url, _) in pages {
            *by_host.entry(corpusminer_pipeline::domain::host_domain(url).unwrap().host).or_default() += 1;
        }
        by_host.values().filter(|&&c| c > 1).count()
    };
    assert!(sites >= 20, "{sites} sites with two pages");
    // The report lists the largest clusters; all go to the file.
    assert_eq!(nd.listed.len(), 12.min(CorpusFilters::default().listed_clusters));
    assert_eq!((nd.file.as_str(), nd.pages_signed), ("near_duplicates.jsonl", n as u64 + 36));
    eprintln!(
        "{} pages + 36 copies: {} candidate pairs, {} confirmed, {} rejected; {} clusters",
        n, nd.candidate_pairs, nd.confirmed_pairs, nd.rejected_pairs, nd.clusters
    );
}

#[tokio::test]
async fn each_step_is_counted_in_the_manifest() {
    let Some(pages) = real_pages() else { return };
    let loaded = CorpusFilters::default().load().unwrap();
    let index = loaded.decontaminator.as_ref().unwrap().index();
    let a = originals(pages, 0, 30);
    let mut b = originals(pages, 30, 60);
    let mut c = Vec::new();
    // Below the threshold: neither kept nor counted.
    for (i, p) in originals(pages, 60, 70).into_iter().enumerate() {
        c.push(page(&format!("low{i}"), &p.0.url, &p.1.text, 0.1));
    }
    // Step 1, 2 removed: the same URL (tracking parameter, fragment, host case) with other text.
    let (u0, u1) = (&pages[0].0, &pages[1].0);
    let sep = |u: &str| if u.contains('?') { '&' } else { '?' };
    c.push(page("x-url-a", &format!("{u0}{}utm_source=feed#comments", sep(u0)), &pages[70].1, KEPT));
    b.push(page("x-url-b", &u1.replacen("://www.", "://WWW.", 1), &pages[71].1, KEPT));
    // Step 2, 3 removed: page 2's exact text twice more, page 3's once, under other URLs.
    for (k, i) in [2, 2, 3].into_iter().enumerate() {
        c.push(page(&format!("x-text-{k}"), &format!("https://copy.example.net/{k}"), &pages[i].1, KEPT));
    }
    // Step 3, 2 removed: light edits of two long pages (ids after the originals': original kept).
    let long: Vec<usize> = (4..30).filter(|&i| words(&pages[i].1) >= 400).take(2).collect();
    for &i in &long {
        c.push(page(&format!("x-near-{i}"), &format!("https://near.example.net/{i}"), &change_words(&pages[i].1, 100), KEPT));
    }
    // Step 4: a GSM8K question pasted into a page (trimmed), a MATH problem pasted into another
    // (trimmed), and a GSM8K question and answer under a short paragraph (dropped).
    let host1 = find_page(pages, 72, 4, 300);
    let host2 = find_page(pages, host1 + 1, 4, 300);
    let short_para = |t: &str| t.split("\n\n").find(|p| (60..200).contains(&p.chars().count())).map(str::to_string);
    let host3 = (host2 + 1..pages.len()).find(|&i| short_para(&pages[i].1).is_some()).unwrap();
    let question = bench_text("gsm8k-test.jsonl", 0, "question");
    let math_bit = 1 << loaded.benchmarks.iter().position(|x| x.name == "math").unwrap();
    let problem = (0..200)
        .map(|i| bench_text("math-test-5000.jsonl", i, "problem"))
        .find(|p| words(p) >= 15 && index.matches(p) == math_bit)
        .expect("a MATH test problem matched by the math benchmark only");
    let short = short_para(&pages[host3].1).unwrap();
    let dropped = format!("{short}\n\n{}\n\n{}\n", bench_text("gsm8k-test.jsonl", 3, "question"), bench_text("gsm8k-test.jsonl", 3, "answer"));
    c.push(page("y-gsm8k", &pages[host1].0, &insert_paragraph(&pages[host1].1, 1, &question), KEPT));
    c.push(page("y-math", &pages[host2].0, &insert_paragraph(&pages[host2].1, 2, &problem), KEPT));
    c.push(page("y-dropped", &pages[host3].0, &dropped, KEPT));
    let kept = a.len() + b.len() + c.len() - 10;
    let fx = Fixture::new(vec![a, b, c]).await;
    let (manifest, docs) = fx.write(&CorpusFilters::default()).await.unwrap();
    let f = &manifest.filters;
    assert_eq!(f.kept_pages, kept as u64);
    assert_eq!(f.url_duplicates_removed, 2);
    assert_eq!((f.exact_duplicates_removed, manifest.exact_duplicates_removed), (3, 3));
    assert_eq!(f.near_duplicates_removed, 2);
    assert_eq!(f.decontam.documents_dropped, 1);
    assert_eq!(f.documents, kept as u64 - 8);
    assert_eq!(f.kept_pages, f.url_duplicates_removed + f.exact_duplicates_removed + f.near_duplicates_removed + f.decontam.documents_dropped + f.documents);
    // Which page of each group was kept: the smallest id, and the original over its light edit.
    for gone in ["x-url-a", "x-url-b", "x-text-0", "x-text-1", "x-text-2", "y-dropped"] {
        assert!(!docs.contains_key(gone), "{gone} written");
    }
    for &i in &long {
        assert!(!docs.contains_key(&format!("x-near-{i}")) && docs.contains_key(&format!("p{i:04}")));
    }
    assert!(docs.keys().all(|id| !id.starts_with("low")));
    // Decontamination per benchmark.
    let d = &f.decontam;
    assert_eq!((d.documents, d.documents_trimmed, d.documents_dropped, d.segments_removed), (kept as u64 - 7, 2, 1, 4));
    let by_name: HashMap<&str, (u64, u64, u64)> =
        d.benchmarks.iter().map(|b| (b.benchmark.name.as_str(), (b.segments, b.documents, b.documents_dropped))).collect();
    assert_eq!(by_name["gsm8k"], (3, 2, 1));
    assert_eq!(by_name["math"], (1, 1, 0));
    assert_eq!(by_name["math500"], (0, 0, 0));
    assert_eq!(docs["y-gsm8k"].text, pages[host1].1);
    assert_eq!(docs["y-math"].text, pages[host2].1);
    // The summary names every step.
    let shown = crate::report::summary::FiltersShown { filters: f, tokens: manifest.tokens }.to_string();
    let count_of = |words: &str| shown.lines().find(|l| l.contains(words)).and_then(|l| l.split_whitespace().nth(1)).unwrap_or_else(|| panic!("no {words:?} line in\n{shown}")).to_string();
    assert_eq!(shown.lines().next().unwrap().split_whitespace().nth(1).unwrap(), crate::report::group(f.documents));
    assert_eq!([count_of("same URL"), count_of("same text"), count_of("near-duplicates"), count_of("dropped by decontamination")], ["2", "3", "2", "1"], "{shown}");
    assert!(shown.contains(&format!("from the {} kept pages", crate::report::group(kept as u64))), "{shown}");
    assert!(shown.contains("gsm8k 3 paragraphs") && shown.contains("near_duplicates.jsonl"), "{shown}");
    // The manifest round-trips with its filter report.
    let stored: Manifest = serde_json::from_slice(&fx.store.get("corpus/manifest.json").await.unwrap()).unwrap();
    assert_eq!(stored.filters, manifest.filters);
}

#[tokio::test]
async fn near_dedup_under_a_memory_cap_gives_the_unbounded_result() {
    let Some(pages) = real_pages() else { return };
    // Every real page and three edits of each, some light, some beyond the threshold, with
    // scores from a seeded generator, over four shards.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut all = Vec::new();
    for (i, (url, body)) in pages.iter().enumerate().filter(|(_, (_, b))| words(b) >= 100) {
        all.push(page(&format!("p{i:04}"), url, body, rng.gen_range(0.5..1.0)));
        for (k, every) in [60usize, 25, 8].into_iter().enumerate() {
            let text = if k == 1 { add_footer(&change_words(body, every)) } else { change_words(body, every) };
            if text != *body {
                all.push(page(&format!("p{i:04}-{k}"), &format!("https://variants.example.com/{i}/{k}"), &text, rng.gen_range(0.5..1.0)));
            }
        }
    }
    let shards: Vec<Vec<_>> = (0..4).map(|s| all.iter().skip(s).step_by(4).cloned().collect()).collect();
    let fx = Fixture::new(shards).await;
    let free = CorpusFilters { default_benchmarks: false, ..CorpusFilters::default() };
    let (m1, docs1) = fx.write(&free).await.unwrap();
    let c1: Vec<ClusterEntry> = fx.lines("near_duplicates.jsonl").await;
    let cap = 1024;
    let capped = CorpusFilters { near_dup: Some(NearDupSettings { max_rows_in_memory: cap, ..NearDupSettings::default() }), ..free.clone() };
    let (m2, docs2) = fx.write(&capped).await.unwrap();
    let c2: Vec<ClusterEntry> = fx.lines("near_duplicates.jsonl").await;
    let (n1, n2) = (m1.filters.near_dup.as_ref().unwrap(), m2.filters.near_dup.as_ref().unwrap());
    let rows = n1.pages_signed as usize * 14;
    assert_eq!((m1.filters.url_duplicates_removed, m1.filters.exact_duplicates_removed), (0, 0));
    assert_eq!((n1.partitions, n1.peak_rows_in_memory), (1, rows));
    assert!(n2.partitions >= rows / cap, "{} partitions for {rows} rows", n2.partitions);
    assert!(n2.peak_rows_in_memory <= cap, "peak {} rows over the cap {cap}", n2.peak_rows_in_memory);
    assert_eq!(c2, c1, "clusters differ under the memory cap");
    let key = |d: &BTreeMap<String, DolmaDocument>| d.values().map(|d| (d.id.clone(), d.metadata.score.to_bits())).collect::<Vec<_>>();
    assert!(key(&docs2) == key(&docs1), "the capped run wrote other documents");
    // The light edit (one word in 60) of nearly every page is caught; the heavier ones mostly not.
    let originals = all.iter().filter(|(p, _)| !p.id.contains('-')).count();
    assert!(n1.removed as usize * 10 >= originals * 9, "only {} removed of {originals} light edits", n1.removed);
    // The same clusters as the in-memory driver on the same texts (ids: ranks of the doc ids).
    let mut ids: Vec<&str> = all.iter().map(|(p, _)| p.id.as_str()).collect();
    ids.sort_unstable();
    let dd: Vec<DedupDoc> = all
        .iter()
        .map(|(p, t)| DedupDoc { id: ids.binary_search(&p.id.as_str()).unwrap() as u64, url: &p.url, score: p.score, text: &t.text })
        .collect();
    let mem = dedup_in_memory(&dd, &NearDupSettings::default().lsh(), DEFAULT_SEED).unwrap();
    let named: Vec<(String, Vec<String>)> =
        mem.near.clusters.iter().map(|c| (ids[c.kept as usize].to_string(), c.removed.iter().map(|r| ids[*r as usize].to_string()).collect())).collect();
    let ours: Vec<(String, Vec<String>)> = c1.iter().map(|c| (c.kept.id.clone(), c.removed.iter().map(|r| r.id.clone()).collect())).collect();
    assert_eq!(ours, named, "partitioned clusters differ from dedup_in_memory's");
    eprintln!(
        "{} pages, {rows} band rows: {} clusters, {} removed; capped at {cap}: {} partitions, peak {} rows",
        all.len(),
        n1.clusters,
        n1.removed,
        n2.partitions,
        n2.peak_rows_in_memory
    );
}

#[tokio::test]
async fn a_missing_benchmark_is_an_error() {
    let Some(data) = shared_data_dir() else { return };
    let missing = CorpusFilters {
        benchmarks: vec![BenchmarkSpec::new("aime", data.join("benchmarks/aime-2024.jsonl"), &["problem"])],
        ..CorpusFilters::default()
    };
    let e = missing.load().unwrap_err();
    assert!(matches!(&e, FilterError::Benchmark(DecontamError::MissingFile { name, .. }) if name == "aime"), "{e:?}");
    assert!(e.to_string().contains("--benchmark") && e.to_string().contains("--no-default-benchmarks"), "{e}");
    // The corpus writer refuses too, before writing anything.
    let Some(pages) = real_pages() else { return };
    let fx = Fixture::new(vec![originals(pages, 0, 3)]).await;
    assert!(matches!(fx.write(&missing).await, Err(crate::corpus::CorpusError::Filters(FilterError::Benchmark(_)))));
    assert!(fx.store.list("corpus/").await.unwrap().is_empty());

    // A default given by name replaces the embedded copy; defaults off leaves none.
    let nowhere = tempfile::tempdir().unwrap();
    let given: Vec<BenchmarkSpec> = BenchmarkSpec::defaults().into_iter().map(|b| BenchmarkSpec { path: data.join(&b.path), ..b }).collect();
    let own = CorpusFilters { benchmarks: given.clone(), ..CorpusFilters::default() };
    assert_eq!(own.resolve_in(nowhere.path()).unwrap().benchmarks, given);
    let off = CorpusFilters { default_benchmarks: false, ..CorpusFilters::default() };
    assert!(off.resolve_in(nowhere.path()).unwrap().benchmarks.is_empty());
    // An unknown embedded name is a missing benchmark, not a silent pass.
    let unknown = CorpusFilters { benchmarks: vec![BenchmarkSpec::new("aime", "embedded:aime-2024.jsonl", &["problem"])], ..CorpusFilters::default() };
    assert!(matches!(unknown.load(), Err(FilterError::Benchmark(DecontamError::MissingFile { name, .. })) if name == "aime"));

    // Found: absolute paths; fields detected for a benchmark given without them; idempotent.
    let extra = CorpusFilters {
        benchmarks: vec![BenchmarkSpec { name: "gsm8k_again".into(), path: "benchmarks/gsm8k-test.jsonl".into(), fields: vec![] }],
        ..CorpusFilters::default()
    };
    let r = extra.resolve_in(&data).unwrap();
    let got: Vec<(&str, Vec<String>)> = r.benchmarks.iter().map(|b| (b.name.as_str(), b.fields.clone())).collect();
    assert_eq!(got[0], ("gsm8k_again", vec!["question".to_string(), "answer".to_string()]));
    assert_eq!(got[2], ("math", vec!["problem".to_string(), "solution".to_string()]));
    assert!(r.benchmarks[0].path.is_absolute() && r.benchmarks[0].path.is_file());
    assert!(r.benchmarks[1..].iter().all(|b| b.path.to_str().unwrap().starts_with("embedded:")), "{:?}", r.benchmarks);
    assert_eq!(r.resolve_in(nowhere.path()).unwrap(), r);
}
