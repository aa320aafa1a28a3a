//! `corpusminer run` end to end on the real crawl data of ../shared/data: quality at the default
//! threshold, and the same result from shards on S3 and from a PostgreSQL metastore.

use corpusminer_e2e::*;
use corpusminer_storage::metastore::Metastore;
use corpusminer_storage::resolve;
use corpusminer_storage::testing;

async fn host_counts(db: &str, iteration: i64, bucket: i64) -> Vec<(String, i64, i64, i64, i64)> {
    let ms = Metastore::connect(db).await.unwrap();
    let mut v: Vec<_> = ms
        .host_counts(iteration, bucket)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.host, h.pages, h.kept_pages, h.tokens, h.kept_tokens))
        .collect();
    v.sort();
    v
}

/// `run` arguments that train on the shared seed and negatives and score the real shards into `out`.
fn train_and_score(data: &std::path::Path, out: &std::path::Path) -> Vec<String> {
    let mut args = seed_and_negatives(data);
    args.push("--input".into());
    args.extend(crawl_inputs(data));
    args.extend(["--out".into(), out.display().to_string()]);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minicrawl_run_reaches_quality_and_s3_and_postgres_agree_with_sqlite() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out1 = tmp.path().join("local");

    // 1. The run: train on the seed, score the minicrawl and the CC excerpts, default threshold.
    let mut args = train_and_score(&data, &out1);
    args.extend(["--labels".into(), data.join("minicrawl/LABELS.tsv").display().to_string()]);
    args.extend(["--crawl-name".into(), "MINICRAWL-dev".into()]);
    let report = corpusminer_cli::run_iteration(run_args(&args)).await.expect("run succeeds");

    let labels = report.label_scores.as_ref().expect("label scores");
    assert_eq!(labels.labelled_pages, 229, "every labelled minicrawl page is scored");
    assert_eq!(labels.math_pages, 46);
    assert!(labels.precision >= 0.8, "precision {:.3} at the default threshold", labels.precision);
    assert!(labels.recall >= 0.8, "recall {:.3} at the default threshold", labels.recall);
    assert!(report.pages > 229, "the Common Crawl excerpts' pages are scored too");
    assert_eq!(report.shards_failed, 0);
    assert!(report.counters.get("record_request").copied().unwrap_or(0) > 0, "request records are counted");
    for f in ["report.json", "iterations/1/report.json", "iterations/1/corpus/manifest.json", "iterations/1/seed.jsonl.zst", "iterations/1/seed_manifest.json", "iterations/1/negatives.jsonl.zst"] {
        assert!(out1.join(f).is_file(), "{f} written");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out1.join("iterations/1/corpus/manifest.json")).unwrap()).unwrap();
    let corpus1 = local_corpus(&out1, 1);
    assert_eq!(manifest["documents"].as_u64().unwrap() as usize, corpus1.len());
    assert_eq!(report.corpus_documents as usize, corpus1.len());
    assert!(!corpus1.is_empty());
    // The corpus filters: each step counted, the kept pages all accounted for.
    let f = &report.filters;
    assert_eq!(f.kept_pages, report.selection.kept_pages);
    assert_eq!(f.documents, report.corpus_documents);
    assert_eq!(
        f.kept_pages,
        f.url_duplicates_removed + f.exact_duplicates_removed + f.near_duplicates_removed + f.decontam.documents_dropped + f.documents
    );
    assert_eq!(manifest["filters"]["near_duplicates_removed"].as_u64(), Some(f.near_duplicates_removed));
    assert!(f.near_dup.is_some() && out1.join("iterations/1/corpus/near_duplicates.jsonl").is_file());
    let names: Vec<&str> = f.decontam.benchmarks.iter().map(|b| b.benchmark.name.as_str()).collect();
    assert_eq!(names, ["gsm8k", "math", "math500", "cmath", "gaokao_mathqa", "gaokao_mathcloze", "mgsm_zh"], "the default benchmarks are embedded");
    assert_eq!(f.decontam.documents, f.kept_pages - f.url_duplicates_removed - f.exact_duplicates_removed - f.near_duplicates_removed);
    eprintln!("{report}");

    let model = out1.join("iterations/1/model.bin");
    assert!(model.is_file());
    let db1 = format!("sqlite://{}", out1.join("corpusminer.db").display());
    let bucket = report.selection.bucket as i64;
    let hosts1 = host_counts(&db1, 1, bucket).await;

    // 2. The same shards from a real S3-compatible server, output to S3 too, same model.
    let Some(s3) = testing::S3TestServer::start("corpusminer").await else { return };
    let storage = s3.config();
    // The CLI reads S3 credentials from the standard AWS environment, as a user's shell would.
    std::env::set_var("AWS_ACCESS_KEY_ID", &s3.access_key);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &s3.secret_key);
    std::env::set_var("AWS_REGION", "us-east-1");
    let mut s3_inputs = Vec::new();
    for pattern in crawl_inputs(&data) {
        for path in glob_paths(&pattern) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let uri = format!("s3://{}/shards/{name}", s3.bucket);
            let (store, key) = resolve(&uri, &storage).unwrap();
            store.put(&key, std::fs::read(&path).unwrap().into()).await.unwrap();
            s3_inputs.push(uri);
        }
    }
    let mut args = vec!["--model".into(), model.display().to_string(), "--input".into()];
    args.extend(s3_inputs);
    args.extend(["--out".into(), format!("s3://{}/run2", s3.bucket)]);
    let db2 = format!("sqlite://{}", tmp.path().join("run2.db").display());
    args.extend(["--db".into(), db2.clone(), "--s3-endpoint".into(), s3.endpoint.clone(), "--crawl-name".into(), "MINICRAWL-dev".into()]);
    args.extend(["--threshold".into(), report.selection.threshold.to_string()]);
    let report2 = corpusminer_cli::run_iteration(run_args(&args)).await.expect("S3 run succeeds");
    assert_eq!(report2.selection.bucket, report.selection.bucket);
    let (store, root) = resolve(&format!("s3://{}/run2", s3.bucket), &storage).unwrap();
    let manifest2: serde_json::Value = serde_json::from_slice(&store.get(&format!("{root}/iterations/1/corpus/manifest.json")).await.unwrap()).unwrap();
    let mut files2 = Vec::new();
    for f in manifest2["files"].as_array().unwrap() {
        files2.push(store.get(&format!("{root}/iterations/1/corpus/{}", f["path"].as_str().unwrap())).await.unwrap());
    }
    let corpus2 = corpus_keys(files2.iter().map(|b| &b[..]));
    assert_eq!(corpus2, corpus1, "S3 run keeps the same (id, text, score) set");
    assert_eq!(host_counts(&db2, 1, bucket).await, hosts1, "S3 run has the same host statistics");

    // 3. PostgreSQL metastore, local shards, same model and threshold.
    let Some(pg) = testing::PgTestDb::create().await else { return };
    let out3 = tmp.path().join("pg");
    let mut args = vec!["--model".into(), model.display().to_string(), "--input".into()];
    args.extend(crawl_inputs(&data));
    args.extend(["--out".into(), out3.display().to_string(), "--db".into(), pg.url.clone(), "--crawl-name".into(), "MINICRAWL-dev".into()]);
    args.extend(["--threshold".into(), report.selection.threshold.to_string()]);
    let report3 = corpusminer_cli::run_iteration(run_args(&args)).await.expect("Postgres run succeeds");
    assert_eq!(local_corpus(&out3, report3.iteration), corpus1, "Postgres run keeps the same (id, text, score) set");
    assert_eq!(host_counts(&pg.url.clone(), report3.iteration, bucket).await, hosts1, "Postgres run has the same host statistics");
    assert_eq!(report3.pages, report.pages);
}

#[tokio::test]
async fn a_missing_benchmark_stops_the_run_before_scoring() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut args = train_and_score(&data, &out);
    args.extend(["--benchmark".into(), format!("aime={}:problem", tmp.path().join("aime-2024.jsonl").display())]);
    let e = corpusminer_cli::run_iteration(run_args(&args)).await.expect_err("a missing benchmark is an error");
    let msg = format!("{e:#}");
    assert!(msg.contains("aime") && msg.contains("not found") && msg.contains("--no-default-benchmarks"), "{msg}");
    assert!(!out.exists(), "nothing trained, scored or written before the check");
}

fn glob_paths(pattern: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(pattern).parent().unwrap();
    let name = std::path::Path::new(pattern).file_name().unwrap().to_string_lossy().into_owned();
    let (prefix, suffix) = name.split_once('*').unwrap_or((&name, ""));
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            if name.contains('*') { n.starts_with(prefix) && n.ends_with(suffix) } else { n == name.as_str() }
        })
        .collect();
    v.sort();
    v
}
