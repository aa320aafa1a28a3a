//! English and Chinese together: `corpusminer run` on the English minicrawl and the 79 labelled
//! Chinese pages packed as a crawl, trained on both languages' seeds and negatives read with
//! their default fields.

use corpusminer_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_crawl_mines_chinese_math_pages_as_well_as_english_ones() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (inputs, labels, zh_labels) = mixed_crawl(&data, tmp.path());
    let out = tmp.path().join("out");
    let mut args = bilingual_seed_and_negatives(&data);
    args.push("--input".into());
    args.extend(inputs);
    args.extend(["--labels".into(), labels.display().to_string(), "--crawl-name".into(), "MIXED".into(), "--out".into(), out.display().to_string()]);
    let report = corpusminer_cli::run_iteration(run_args(&args)).await.expect("run succeeds");
    eprintln!("{report}");

    let scores = report.label_scores.as_ref().expect("label scores");
    let zh = &scores.by_language["zh"];
    let en = &scores.by_language["en"];
    eprintln!("zh {zh:?}\nen {en:?}");
    // Every packed Chinese page is scored and read as Chinese (a few minicrawl pages are Chinese too).
    assert!(zh.labelled_pages >= zh_labels.len(), "{zh:?}");
    assert!(zh.precision >= 0.90 && zh.recall >= 0.90, "Chinese P/R at the default threshold: {zh:?}");
    // English: measured 0.792 / 0.955 here, where an English-only model of the same minicrawl
    // keeps one nonmath page fewer (bench/languages/compare.py); tests/run_iteration.rs holds
    // the English-only run to 0.80 / 0.80.
    assert!(en.precision >= 0.75 && en.recall >= 0.90, "English P/R at the default threshold: {en:?}");

    // Languages are counted in the report and the host statistics.
    let zh_stat = report.languages.iter().find(|l| l.lang == "zh").expect("zh counted");
    assert!(zh_stat.pages >= zh_labels.len() as u64 && zh_stat.kept_pages > 0, "{zh_stat:?}");
    let en_stat = report.languages.iter().find(|l| l.lang == "en").expect("en counted");
    assert!(en_stat.pages > zh_stat.pages);
    assert_eq!(report.languages.iter().map(|l| l.scored_pages).sum::<u64>(), report.pages, "every scored page has a language");
    let oi = report.top_hosts.iter().find(|h| h.host == "oi-wiki.org").expect("OI-wiki's pages are kept");
    assert_eq!(oi.main_language(), "zh", "{oi:?}");

    // The corpus documents carry dolma's metadata.lang, and the Chinese benchmarks are on.
    let corpus = std::fs::read_dir(out.join("iterations/1/corpus")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(".jsonl.zst"));
    let mut langs = std::collections::BTreeMap::<String, usize>::new();
    for f in corpus {
        for line in String::from_utf8(zstd::decode_all(&std::fs::read(f).unwrap()[..]).unwrap()).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            *langs.entry(v["metadata"]["lang"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    assert!(langs.get("zh").copied().unwrap_or(0) >= 30 && langs.get("en").copied().unwrap_or(0) >= 30, "{langs:?}");
    let names: Vec<&str> = report.filters.decontam.benchmarks.iter().map(|b| b.benchmark.name.as_str()).collect();
    assert!(names.contains(&"cmath") && names.contains(&"mgsm_zh"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn languages_filter_scores_only_the_languages_asked_and_counts_the_rest() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (zh, zh_labels) = zh_crawl(&data);
    let shard = tmp.path().join("ZH-00000.warc.gz");
    std::fs::write(&shard, zh).unwrap();
    let seed = head_lines(&data.join("zh/math-seed/tal-scq5k-cn-train-3k.jsonl"), 400, tmp.path(), "tal.jsonl");
    let neg = head_lines(&data.join("zh/negatives/thucnews-headlines-test.txt"), 2000, tmp.path(), "thuc.txt");
    let out = tmp.path().join("out");
    let args: Vec<String> = ["--seed", &seed, "--negatives", &neg, "--input", &shard.display().to_string(), data.join("minicrawl/MINICRAWL-dev-00000.warc.gz").to_str().unwrap(), "--languages", "zh", "--out", out.to_str().unwrap()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let report = corpusminer_cli::run_iteration(run_args(&args)).await.expect("run succeeds");
    let skipped = report.counters.get("language_not_selected").copied().unwrap_or(0);
    let en = report.languages.iter().find(|l| l.lang == "en").expect("English pages are counted");
    assert!(en.pages > 0 && en.scored_pages == 0 && en.kept_pages == 0, "{en:?}");
    let not_zh: u64 = report.languages.iter().filter(|l| l.lang != "zh").map(|l| l.pages).sum();
    assert_eq!(skipped, not_zh, "every page of another language is skipped, under its language");
    let zh = report.languages.iter().find(|l| l.lang == "zh").unwrap();
    assert!(zh.scored_pages >= zh_labels.len() as u64 - 5, "{zh:?}");
    assert_eq!(report.pages, zh.scored_pages);
    assert_eq!(report.languages_selected.as_deref(), Some(&["zh".to_string()][..]));
    // A bad code is refused before anything runs.
    let mut argv = vec!["corpusminer".to_string(), "run".to_string()];
    argv.extend(["--languages", "en,xx", "--input", "x", "--out", "o"].map(String::from));
    let err = <corpusminer_cli::Cli as clap::Parser>::try_parse_from(argv).unwrap_err().to_string();
    assert!(err.contains("unknown language code \"xx\""), "{err}");
}
