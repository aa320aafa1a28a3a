//! Every error names what and why, once, on the real binary: an unwritable `--out`, a crawl
//! listing whose host does not resolve, a directory given as `--input`, `eval-extraction` away
//! from the shared data, and shards an HTTPS server answers 404 or without a size (failed at
//! once, with the URL and the status). Hints name the command to run with the same `--out`.

mod common;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use common::*;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that `text` holds `part` exactly once.
fn once(text: &str, part: &str) {
    assert_eq!(text.matches(part).count(), 1, "{part:?} must appear exactly once in:\n{text}");
}

/// A `run` whose seed and negatives are small files of this test's own (enough for the checks
/// before any training), with `extra` arguments.
fn small_run(dir: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let (seed, neg) = (dir.join("seed.txt"), dir.join("neg.txt"));
    std::fs::write(&seed, "Solve 2x + 3 = 7 for x.\n\nThe derivative of x^2 is 2x.\n").unwrap();
    std::fs::write(&neg, "The weather is mild today.\n\nThe shop opens at nine.\n").unwrap();
    let mut args = strings(&["run", "--seed", &seed.display().to_string(), "--negatives", &neg.display().to_string()]);
    args.extend(strings(extra));
    args
}

#[test]
fn an_unwritable_out_names_the_folder_and_the_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = tmp.path().join("s.warc.gz");
    std::fs::write(&shard, b"x").unwrap();
    let input = shard.display().to_string();

    // A folder that cannot be created (ENOENT under /proc).
    let o = corpusminer(&small_run(tmp.path(), &["--input", &input, "--out", "/proc/self/corpusminer-out"]), None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    once(&err, "creating the output folder --out /proc/self/corpusminer-out");
    once(&err, "No such file or directory");
    assert!(err.contains("give an --out that can be written"), "{err}");

    // A folder that exists but where no database file can be made: the metastore's path and
    // SQLite's reason, once (it was repeated three times through the error chain).
    let o = corpusminer(&small_run(tmp.path(), &["--input", &input, "--out", "/proc/self"]), None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("opening the metastore sqlite:///proc/") && err.contains("/corpusminer.db"), "{err}");
    once(&err, "unable to open database file");
}

#[test]
fn a_crawl_listing_that_cannot_be_reached_says_why_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // `.invalid` never resolves (RFC 2606): the same failure as a machine without internet.
    let args = with_store(&small_run(tmp.path(), &["--crawl", "CC-MAIN-2024-10", "--crawl-base", "https://data.commoncrawl.invalid/"]), &out, None);
    let o = corpusminer(&args, None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    once(&err, "reading the crawl listing: get https://data.commoncrawl.invalid/crawl-data/CC-MAIN-2024-10/warc.paths.gz");
    // The cause under the HTTP client's error: name resolution, once.
    once(&err, "dns error");
    once(&err, "failed to lookup address information");
    assert!(err.contains("--crawl-base takes a mirror"), "{err}");
    once(&err, &format!("`corpusminer resume 1 --out {}` retries it", out.display()));
}

#[test]
fn a_directory_as_input_is_named_and_a_glob_suggested() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = tmp.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    let out = tmp.path().join("out");
    let dir = shards.display().to_string();
    let o = corpusminer(&with_store(&small_run(tmp.path(), &["--input", &dir]), &out, None), None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    once(&err, &format!("--input {dir} is a directory, not a WARC file"));
    once(&err, &format!("--input '{dir}/*.warc.gz'"));
    assert!(!err.contains("matched no file") && !out.exists(), "{err}");
}

/// `eval-extraction` run in `cwd` with `CORPUSMINER_SHARED_DATA` as given (removed when `None`).
fn eval_in(cwd: &std::path::Path, shared: Option<&std::path::Path>, extra: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("eval-extraction").args(extra).current_dir(cwd).env("RUST_LOG", "warn").env_remove("CORPUSMINER_SHARED_DATA");
    if let Some(dir) = shared {
        cmd.env("CORPUSMINER_SHARED_DATA", dir);
    }
    cmd.output().unwrap()
}

#[test]
fn eval_extraction_elsewhere_names_the_data_folder_it_looked_in() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("elsewhere");
    std::fs::create_dir(&cwd).unwrap();

    // The default, relative to a folder with no shared data beside it.
    let o = eval_in(&cwd, None, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    once(&err, &format!("the shared data folder ../shared/data (the default --data), looked for at {}, does not exist", tmp.path().join("shared/data").display()));
    once(&err, "give --data DIR or set CORPUSMINER_SHARED_DATA");
    assert!(!err.contains("No such file or directory"), "{err}");

    // The variable set to a folder that is not the data folder: which path, and what it lacks.
    let o = eval_in(&cwd, Some(&cwd), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    once(&err, &format!("CORPUSMINER_SHARED_DATA={}, looked for at {}, lacks html-extraction/ground-truth.json", cwd.display(), cwd.display()));
    assert!(!err.contains("is not set"), "{err}");

    // --data given: named as the flag.
    let o = eval_in(&cwd, None, &["--data", "nowhere"]);
    once(&stderr(&o), &format!("the shared data folder --data nowhere, looked for at {}, does not exist", cwd.join("nowhere").display()));

    // From any folder, --data or the variable at the real data folder works.
    let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
    let o = eval_in(&cwd, Some(&data), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("F1"), "{}", String::from_utf8_lossy(&o.stdout));
}

/// An HTTP server of shards: `/missing.warc.gz` answers 404, `/sizeless.warc.gz` a whole body
/// without any length (HEAD and ranged GET alike), `/ranged.warc.gz` the real shard `data` with
/// no Content-Length on HEAD but ranges answered with a Content-Range total.
#[derive(Clone)]
struct Shards {
    data: Bytes,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
    count: Arc<AtomicU64>,
}

async fn serve(State(s): State<Shards>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.count.fetch_add(1, Ordering::SeqCst);
    s.requests.lock().unwrap().push(format!("{method} {}", uri.path()));
    // A streamed body has no length; for HEAD an empty stream (an empty body would be sent
    // with `Content-Length: 0`).
    let stream = |b: Bytes| Body::from_stream(futures::stream::iter([Ok::<_, std::io::Error>(b)]));
    let no_length = || Body::from_stream(futures::stream::empty::<Result<Bytes, std::io::Error>>());
    match uri.path() {
        "/missing.warc.gz" => Response::builder().status(StatusCode::NOT_FOUND).body(Body::from("no such shard")).unwrap(),
        "/sizeless.warc.gz" => Response::builder().status(StatusCode::OK).body(if method == Method::HEAD { no_length() } else { stream(s.data.clone()) }).unwrap(),
        "/ranged.warc.gz" => {
            let n = s.data.len();
            let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("bytes=")).and_then(|v| v.split_once('-'));
            match (method == Method::HEAD, range) {
                (true, _) => Response::builder().status(StatusCode::OK).header(header::ACCEPT_RANGES, "bytes").body(no_length()).unwrap(),
                (false, Some((a, b))) => {
                    let start: usize = a.parse().unwrap();
                    let end = b.parse::<usize>().map(|e| e + 1).unwrap_or(n).min(n);
                    Response::builder()
                        .status(StatusCode::PARTIAL_CONTENT)
                        .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{n}", end - 1))
                        .body(stream(s.data.slice(start..end)))
                        .unwrap()
                }
                (false, None) => Response::builder().status(StatusCode::OK).body(stream(s.data.clone())).unwrap(),
            }
        }
        _ => Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_answered_404_or_without_a_size_fail_at_once_with_url_and_status() {
    let Some(f) = fixture() else { return };
    let data = corpusminer_pipeline::testdata::shared_data_dir().unwrap();
    let shard = std::fs::read(data.join("minicrawl/MINICRAWL-dev-00000.warc.gz")).unwrap();
    let served = Shards { data: Bytes::from(shard), requests: Arc::default(), count: Arc::default() };
    let app = axum::Router::new().fallback(serve).with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut args = Vec::new();
    let mut skipping = false;
    for a in &f.run_args {
        skipping = if a == "--input" { true } else { skipping && !a.starts_with("--") };
        if !skipping {
            args.push(a.clone());
        }
    }
    args.push("--input".into());
    args.extend(["missing", "sizeless", "ranged"].map(|n| format!("{base}/{n}.warc.gz")));
    let out = f.dir.join("http");
    let started = std::time::Instant::now();
    let o = tokio::task::spawn_blocking({
        let args = with_store(&args, &out, None);
        move || corpusminer(&args, None)
    })
    .await
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(3), "two of three shards failed: exit 3\n{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["shards_done"].as_u64(), Some(1), "the shard with a Content-Range total is read");
    let mut failed: Vec<(String, u64, String)> = report["failed_shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["reason"].as_str().unwrap().to_string(), s["attempts"].as_u64().unwrap(), s["error"].as_str().unwrap().to_string()))
        .collect();
    failed.sort();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let (missing, sizeless) = (&failed[0], &failed[1]);
    assert_eq!((missing.0.as_str(), missing.1), ("not_found", 1), "a 404 is not retried: {missing:?}");
    once(&missing.2, &format!("head {base}/missing.warc.gz: the server answered http 404 Not Found"));
    assert_eq!((sizeless.0.as_str(), sizeless.1), ("unsupported", 1), "no size is not retried: {sizeless:?}");
    once(&sizeless.2, &format!("head {base}/sizeless.warc.gz: the server sends no Content-Length"));
    // One HEAD for the 404; HEAD and one ranged GET for the sizeless shard: nothing retried.
    let requests = served.requests.lock().unwrap().clone();
    assert_eq!(requests.iter().filter(|r| r.ends_with("/missing.warc.gz")).count(), 1, "{requests:?}");
    assert_eq!(requests.iter().filter(|r| r.ends_with("/sizeless.warc.gz")).count(), 2, "{requests:?}");
    assert!(seconds < 60.0, "no backoff on a final answer ({seconds:.0} s)");

    // `status 1` lists them and its hint names the same --out.
    let status = corpusminer(&with_store(&strings(&["status", "1"]), &out, None), None);
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(text.contains("(not_found, 1 attempts)") && text.contains("(unsupported, 1 attempts)"), "{text}");
    once(&text, &format!("`corpusminer resume 1 --out {}` retries the failed shards", out.display()));
}
