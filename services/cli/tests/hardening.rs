//! Hardening of the data core, on the real binary and real shards: a shard whose stream breaks
//! for good fails (never done with partial counts) and `resume` retries it; empty, non-WARC and
//! panicking shards fail at once; exit statuses 0 / 3 / 1; no secret in help, logs, the
//! metastore or the report; refused commands create nothing; a moved or copied output folder is
//! used where it is; chains stay whole (delete, report.json, a second `run`).

mod common;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use common::*;
use corpusminer_storage::metastore::Metastore;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A real shard served over HTTP with `Range:` support. While `cut` is set, every response
/// stops at byte `cut_at` of the object and then breaks the connection: a stream that cannot
/// be resumed, however often it is retried.
#[derive(Clone)]
struct Served {
    data: Bytes,
    cut: Arc<AtomicBool>,
    cut_at: u64,
    gets: Arc<AtomicU64>,
}

async fn serve(State(s): State<Served>, method: Method, headers: HeaderMap) -> Response {
    let n = s.data.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("bytes=")).and_then(|v| v.split_once('-')).and_then(|(a, _)| a.parse::<u64>().ok());
    let start = range.unwrap_or(0).min(n);
    let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let body = s.data.slice(start as usize..);
    let mut builder = Response::builder().status(status).header(header::ACCEPT_RANGES, "bytes").header(header::CONTENT_LENGTH, body.len());
    if range.is_some() {
        builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{}/{n}", n.saturating_sub(1)));
    }
    if method == Method::HEAD {
        return builder.body(Body::empty()).unwrap();
    }
    s.gets.fetch_add(1, Ordering::SeqCst);
    if !s.cut.load(Ordering::SeqCst) {
        return builder.body(Body::from(body)).unwrap();
    }
    let first = body.slice(..(s.cut_at.saturating_sub(start) as usize).min(body.len()));
    let stream = corpusminer_storage::testing::body_cut_after(first);
    builder.body(Body::from_stream(stream)).unwrap()
}

/// Serves `data` on a free local port at any path; returns the base URL and the state.
async fn start_server(data: Vec<u8>) -> (String, Served) {
    let cut_at = data.len() as u64 / 3;
    let served = Served { data: Bytes::from(data), cut: Arc::new(AtomicBool::new(true)), cut_at, gets: Arc::new(AtomicU64::new(0)) };
    let app = axum::Router::new().fallback(serve).with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), served)
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The fixture's `run` arguments with other `--input` shards.
fn run_with_inputs(f: &Fixture, inputs: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    let mut skipping = false;
    for a in &f.run_args {
        if a == "--input" {
            skipping = true;
            continue;
        }
        if skipping && !a.starts_with("--") {
            continue;
        }
        skipping = false;
        args.push(a.clone());
    }
    args.push("--input".into());
    args.extend(inputs.iter().cloned());
    args
}

fn shard_path(name: &str) -> String {
    corpusminer_pipeline::testdata::shared_data_dir().unwrap().join("minicrawl").join(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_cut_for_good_fails_after_its_attempts_and_resume_retries_it() {
    let Some(f) = fixture() else { return };
    let cut_shard = std::fs::read(shard_path("MINICRAWL-dev-00003.warc.gz")).unwrap();
    let (base, served) = start_server(cut_shard).await;
    // A presigned-style URL: its signature must never be logged, stored or shown.
    let url = format!("{base}/MINICRAWL-dev-00003.warc.gz?X-Amz-Credential=AKIDSECRET&X-Amz-Signature=f00dsecret&X-Amz-Expires=60");
    let out = f.dir.join("cut");
    let mut args = run_with_inputs(&f, &[shard_path("MINICRAWL-dev-00000.warc.gz"), url.clone()]);
    args.extend(strings(&["--retries", "2", "--max-attempts", "3"]));
    let o = tokio::task::spawn_blocking({
        let args = with_store(&args, &out, None);
        move || corpusminer_env(&args, &[("RUST_LOG", "info")])
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(3), "some shards failed: exit 3\n{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("1 of 2 shards failed") && stdout.contains("corpusminer resume 1"), "{stdout}");

    // Three attempts (a failed attempt goes back to the queue), each resumed twice, then failed.
    let gets = served.gets.load(Ordering::SeqCst);
    assert_eq!(gets, 3 * 2, "3 attempts of 2 stream reads each");
    let r = report(&out);
    assert_eq!((r["shards_done"].as_u64(), r["shards_failed"].as_u64()), (Some(1), Some(1)));
    let failed = &r["failed_shards"][0];
    assert_eq!((failed["reason"].as_str(), failed["attempts"].as_u64()), (Some("io"), Some(3)), "{failed}");
    assert!(failed["uri"].as_str().unwrap().contains("X-Amz-Signature=***"), "{failed}");
    // Nothing of the failed shard was committed: one scored file, and the counts are the good
    // shard's alone.
    assert_eq!(files_under(&out.join("iterations/1/scored")), 1);
    assert_eq!(files_under(&out.join("iterations/1/texts")), 1);
    let alone_out = f.dir.join("alone");
    ok(&corpusminer(&with_store(&run_with_inputs(&f, &[shard_path("MINICRAWL-dev-00000.warc.gz")]), &alone_out, None), None), "the good shard alone");
    assert_eq!(r["pages"], report(&alone_out)["pages"], "no page of the failed shard is counted");

    // No secret anywhere: logs, the stored config and shard rows' messages, the report, status.
    let db = format!("sqlite://{}", out.join("corpusminer.db").display());
    let ms = Metastore::connect(&db).await.unwrap();
    let it = ms.iteration(1).await.unwrap();
    let shards = ms.shards(1).await.unwrap();
    let status = corpusminer(&with_store(&strings(&["status", "1"]), &out, None), None);
    let shown = [stderr(&o), stdout.to_string(), it.config_json.clone(), std::fs::read_to_string(out.join("report.json")).unwrap(), String::from_utf8_lossy(&status.stdout).into_owned(), format!("{:?}", shards.iter().map(|s| &s.error).collect::<Vec<_>>())];
    for (n, text) in shown.iter().enumerate() {
        assert!(!text.contains("f00dsecret") && !text.contains("AKIDSECRET"), "secret shown in place {n}: {text}");
    }
    assert!(String::from_utf8_lossy(&status.stdout).contains("failed shard") && String::from_utf8_lossy(&status.stdout).contains("(io, 3 attempts)"));
    ms.close().await;

    // The server recovers: `resume` retries the failed shard and selects again over both.
    served.cut.store(false, Ordering::SeqCst);
    let resumed = tokio::task::spawn_blocking({
        let args = with_store(&strings(&["resume"]), &out, None);
        move || corpusminer(&args, None)
    })
    .await
    .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let r = report(&out);
    assert_eq!((r["shards_done"].as_u64(), r["shards_failed"].as_u64()), (Some(2), Some(0)));
    let both_out = f.dir.join("both");
    ok(&corpusminer(&with_store(&f.run_args, &both_out, None), None), "both shards, local");
    assert_eq!(r["pages"], report(&both_out)["pages"], "the resumed iteration counts each shard once");
    assert_eq!(corpus(&out, 1), corpus(&both_out, 1), "the resumed corpus equals a clean run's");
}

#[test]
fn empty_non_warc_and_panicking_shards_fail_at_once() {
    let Some(f) = fixture() else { return };
    let empty = f.dir.join("empty.warc.gz");
    std::fs::write(&empty, b"").unwrap();
    let html = f.dir.join("page.warc");
    std::fs::write(&html, b"<!doctype html><html><body><p>Not a WARC file.</p></body></html>\n".repeat(20)).unwrap();
    let good = shard_path("MINICRAWL-dev-00000.warc.gz");

    let out = f.dir.join("bad-shards");
    let o = corpusminer(&with_store(&run_with_inputs(&f, &[good.clone(), empty.display().to_string(), html.display().to_string()]), &out, None), None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report(&out);
    let mut reasons: Vec<(String, u64)> = r["failed_shards"].as_array().unwrap().iter().map(|s| (s["reason"].as_str().unwrap().to_string(), s["attempts"].as_u64().unwrap())).collect();
    reasons.sort();
    assert_eq!(reasons, [("empty".to_string(), 1), ("not_warc".to_string(), 1)], "no retry of what a retry cannot fix");

    // Every shard failed: the iteration fails (resumable) and the exit status is 1.
    let out = f.dir.join("all-bad");
    let o = corpusminer(&with_store(&run_with_inputs(&f, &[empty.display().to_string(), html.display().to_string()]), &out, None), None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("all 2 shards failed (1 empty, 1 not_warc)"), "{}", stderr(&o));

    // A panic inside one shard's processing fails that shard, with its message; the run goes on.
    let out = f.dir.join("panic");
    let o = corpusminer(&with_store(&f.run_args, &out, None), Some("shard_page:1"));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let failed = &report(&out)["failed_shards"][0];
    assert_eq!(failed["reason"].as_str(), Some("panic"));
    assert!(failed["error"].as_str().unwrap().contains("fault injected at shard_page"), "{failed}");
    assert_eq!(report(&out)["shards_done"].as_u64(), Some(1));
}

#[test]
fn refused_commands_create_nothing_and_env_values_stay_out_of_help() {
    let Some(f) = fixture() else { return };
    for (extra, message) in [
        (&["--threshold", "2"][..], "--threshold 2 is not in [0, 1]"),
        (&["--token-budget", "0"][..], "--token-budget 0 would keep no page"),
        (&["--crawl", "CC-MAIN-202é10"][..], "is not of the form CC-MAIN-YYYY-WW"),
    ] {
        let out = f.dir.join("refused");
        let mut args = f.run_args.clone();
        args.extend(strings(extra));
        let o = corpusminer(&with_store(&args, &out, None), None);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: an error, not a panic: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{extra:?}: {}", stderr(&o));
        assert!(!out.exists(), "{extra:?}: nothing is created");
    }
    let help = corpusminer_env(&strings(&["run", "--help"]), &[("CORPUSMINER_DB", "postgres://cm:hunter2@db.internal/cm")]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("CORPUSMINER_DB") && !help.contains("hunter2"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_database_url_is_never_stored_or_printed() {
    let Some(f) = fixture() else { return };
    let Some(pg) = corpusminer_storage::testing::PgTestDb::create().await else { return };
    // Trust authentication ignores the password, so the run works and must still hide it.
    let db = pg.url.replacen("postgres://postgres@", "postgres://postgres:pgsekret@", 1);
    assert!(db.contains("pgsekret"), "{db}");
    let out = f.dir.join("pg-secret");
    let o = tokio::task::spawn_blocking({
        let args = with_store(&f.run_args, &out, Some(&db));
        move || corpusminer_env(&args, &[("RUST_LOG", "info")])
    })
    .await
    .unwrap();
    ok(&o, "run on PostgreSQL");
    let ms = Metastore::connect(&pg.url).await.unwrap();
    let it = ms.iteration(1).await.unwrap();
    assert!(it.config_json.contains("postgres://postgres:***@"), "{}", it.config_json);
    for text in [stderr(&o), String::from_utf8_lossy(&o.stdout).into_owned(), it.config_json, it.report_json.unwrap_or_default()] {
        assert!(!text.contains("pgsekret"), "{text}");
    }
    ms.close().await;
}

#[test]
fn a_moved_or_copied_output_folder_is_used_where_it_is() {
    let Some(f) = fixture() else { return };
    // An output folder under a path with a `scored` segment (path surgery broke on it).
    let first = f.dir.join("scored").join("run");
    ok(&corpusminer(&with_store(&f.run_args, &first, None), None), "run under scored/");
    let reference = corpus(&first, 1);
    let moved = f.dir.join("moved");
    std::fs::rename(&first, &moved).unwrap();
    let copy = f.dir.join("copy");
    assert!(std::process::Command::new("cp").arg("-a").arg(&moved).arg(&copy).status().unwrap().success());
    for dir in [&moved, &copy] {
        let status = corpusminer(&with_store(&strings(&["status", "1"]), dir, None), None);
        ok(&status, "status");
        assert!(!String::from_utf8_lossy(&status.stdout).contains("scored/run"), "no recorded path of the old place");
        ok(&corpusminer(&with_store(&strings(&["domains", "list"]), dir, None), None), "domains list");
        let next = corpusminer(&with_store(&strings(&["iterate"]), dir, None), None);
        ok(&next, &format!("iterate in {}", dir.display()));
        assert_eq!(corpus(dir, 1), reference, "iteration 1 reads the same where it is now");
        assert!(files_under(&dir.join("iterations/2/corpus")) > 0);
    }
    assert!(!first.exists());
}

#[test]
fn chains_stay_whole() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("chain");
    let store = |v: &[&str]| with_store(&strings(v), &out, None);
    ok(&corpusminer(&with_store(&f.run_args, &out, None), None), "run");
    ok(&corpusminer(&store(&["iterate"]), None), "iterate");
    let report2 = std::fs::read_to_string(out.join("iterations/2/report.json")).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("report.json")).unwrap(), report2);

    // A second `run` into the used folder is refused, and changes nothing.
    let again = corpusminer(&with_store(&f.run_args, &out, None), None);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already holds iterations (1, 2)") && stderr(&again).contains("--new-chain"), "{}", stderr(&again));

    // The parent of a live child is not deleted alone.
    let refused = corpusminer(&store(&["delete", "1"]), None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("has iterations grown from it (2)") && stderr(&refused).contains("--recursive"), "{}", stderr(&refused));
    assert!(out.join("iterations/1/model.bin").is_file() && out.join("iterations/2/model.bin").is_file());

    // Deleting the child puts the parent's report back as the folder's report.
    ok(&corpusminer(&store(&["delete", "2"]), None), "delete 2");
    let report1 = std::fs::read_to_string(out.join("iterations/1/report.json")).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("report.json")).unwrap(), report1);

    // --new-chain starts a second chain beside the first; --recursive deletes a whole chain.
    let mut args = with_store(&f.run_args, &out, None);
    args.push("--new-chain".into());
    ok(&corpusminer(&args, None), "run --new-chain");
    ok(&corpusminer(&store(&["iterate", "--from", "1"]), None), "iterate from 1");
    let deleted = corpusminer(&store(&["delete", "1", "--recursive"]), None);
    ok(&deleted, "delete --recursive");
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("iteration 4 deleted") && String::from_utf8_lossy(&deleted.stdout).contains("iteration 1 deleted"));
    let status = String::from_utf8_lossy(&corpusminer(&store(&["status"]), None).stdout).into_owned();
    let ids: Vec<&str> = status.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(ids, ["3"], "{status}");
    let report3 = std::fs::read_to_string(out.join("iterations/3/report.json")).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("report.json")).unwrap(), report3);
}
