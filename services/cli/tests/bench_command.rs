//! `corpusminer bench` runs end to end on a tiny real input (CI checks it runs; the figures are
//! for people, not assertions on time).

use clap::Parser;
use corpusminer_cli::{Cli, Command};
use corpusminer_pipeline::classify::{train, TrainSettings};

#[test]
fn bench_runs_every_stage_on_a_real_shard() {
    let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A tiny model: the bench measures speed, not quality.
    let pos: Vec<String> = ["Solve for x: 2x + 3 = 7, so x = 2.", "The derivative of x^2 is 2x.", "Let $a \\neq 0$; then $b^2-4ac$ decides."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let neg: Vec<String> = ["The weather in Paris is mild in spring.", "Our shop ships shoes worldwide.", "The match ended in a draw after extra time."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let settings = TrainSettings { dim: 8, epoch: 1, bucket: 1000, ..TrainSettings::auto(6) };
    let (model, _) = train(&pos, &neg, &settings).unwrap();
    let model_path = dir.path().join("m.bin");
    model.save(&model_path).unwrap();
    let json = dir.path().join("bench.json");
    let shard = data.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz");
    let cli = Cli::try_parse_from([
        "corpusminer",
        "bench",
        "--input",
        shard.to_str().unwrap(),
        "--min-mb",
        "0",
        "--threads",
        "2",
        "--model",
        model_path.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ])
    .unwrap();
    let Command::Bench(args) = cli.command else { panic!("bench expected") };
    let result = corpusminer_cli::bench(args).unwrap();
    assert_eq!(result.stages.len(), 8, "every stage is measured");
    assert_eq!(result.pages, 16, "the Common Crawl excerpt holds 16 HTML pages");
    assert!(result.one_core_pages_per_s > 0.0 && result.all_cores_pages_per_s > 0.0);
    assert!(result.peak_rss_mb > 0.0);
    let (f1, formulas) = result.extraction.expect("extraction quality measured on the shared data");
    assert!(f1 >= 0.90 && formulas >= 0.90, "F1 {f1}, formula recall {formulas}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written["pages"], 16);
}

/// `bench --corpus-rows` on a few thousand synthetic rows: the corpus holds exactly the kept
/// pages that no filter removed, with the texts the worker files hold, and a rerun on the
/// same folder reuses the input and writes the same corpus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_bench_writes_exactly_the_kept_pages_of_a_synthetic_iteration() {
    use corpusminer_coordinator::corpus::{DecontamLine, DolmaDocument};
    use corpusminer_pipeline::scored::{read_rows, PageText, ScoredPage};
    use std::collections::{HashMap, HashSet};
    let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let it = dir.path().join("iteration");
    let cli = Cli::try_parse_from([
        "corpusminer",
        "bench",
        "--corpus-rows",
        "3000",
        "--kept-share",
        "0.1",
        "--shards",
        "7",
        "--corpus-dir",
        it.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
    .unwrap();
    let Command::Bench(args) = cli.command else { panic!("bench expected") };
    let r = corpusminer_cli::bench_corpus::bench_corpus(&args.corpus, &args.data, None).await.unwrap();
    let f = &r.manifest.filters;
    assert_eq!((r.input.rows, r.input.shards), (3000, 7));
    assert!((200..400).contains(&r.input.kept), "about 10% kept: {}", r.input.kept);
    assert_eq!(f.kept_pages, r.input.kept, "the selection keeps exactly the pages drawn as kept");
    assert_eq!(f.url_duplicates_removed, 0, "URLs are distinct");
    assert_eq!(f.exact_duplicates_removed, r.input.kept - r.input.kept_distinct_texts);
    assert_eq!(r.manifest.documents, f.kept_pages - f.url_duplicates_removed - f.exact_duplicates_removed - f.near_duplicates_removed - f.decontam.documents_dropped);
    assert!(r.manifest.documents > 200, "{} documents", r.manifest.documents);

    // What the worker files hold, read back independently.
    let (mut scored, mut texts): (HashMap<String, ScoredPage>, HashMap<String, String>) = Default::default();
    for e in std::fs::read_dir(it.join("iterations/1/scored")).unwrap() {
        let path = e.unwrap().path();
        for p in read_rows::<ScoredPage, _>(&std::fs::read(&path).unwrap()[..]).unwrap() {
            scored.insert(p.id.clone(), p);
        }
        let text_path = it.join("iterations/1/texts").join(path.file_name().unwrap());
        for t in read_rows::<PageText, _>(&std::fs::read(text_path).unwrap()[..]).unwrap() {
            texts.insert(t.id, t.text);
        }
    }
    assert_eq!(scored.len(), 3000);
    let corpus = it.join("iterations/1/corpus");
    let touched: HashSet<String> = std::fs::read_to_string(corpus.join("decontamination.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<DecontamLine>(l).unwrap().id)
        .collect();
    let mut ids = HashSet::new();
    for file in &r.manifest.files {
        for d in read_rows::<DolmaDocument, _>(&std::fs::read(corpus.join(&file.path)).unwrap()[..]).unwrap() {
            let p = &scored[&d.id];
            assert!(p.score >= 0.9 && d.metadata.score == p.score && d.metadata.url == p.url, "{} is a kept page", d.id);
            if !touched.contains(&d.id) {
                assert_eq!(d.text, texts[&d.id], "{}: the stored text", d.id);
                assert_eq!(d.metadata.tokens, p.tokens);
            }
            assert!(ids.insert(d.id.clone()), "{} written twice", d.id);
        }
    }
    assert_eq!(ids.len() as u64, r.manifest.documents);
    assert!(r.peak_rss_mb > 0.0 && r.corpus_seconds > 0.0);

    let again = corpusminer_cli::bench_corpus::bench_corpus(&args.corpus, &args.data, None).await.unwrap();
    assert_eq!(again.generate_seconds, 0.0, "the synthetic iteration is reused");
    assert_eq!(again.corpus_digest, r.corpus_digest, "same input, same corpus");
}
