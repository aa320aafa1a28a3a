//! Scheduled jobs and webhooks with `serve` as processes: two replicas on one PostgreSQL run
//! each slot of a schedule once, and a downtime's missed slots once; `mine-new-crawl` starts an
//! iteration on the newest crawl of a local mirror (collinfo.json, warc.paths.gz, the shared
//! minicrawl shards) and only that; webhooks reach a real HTTP receiver on loopback, signed,
//! retried after a 500, and the retry shows in the API; a `train` schedule starts one training
//! process per done iteration; `corpusminer schedule` manages the same rows.

mod common;

use common::{corpusminer, fixture, ok, request, run_body, serve, strings, token, wait_for, Serve};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVERY_2S: &str = "*/2 * * * * *";

/// The scheduler settings the tests run `serve` with: a fast tick, short retries.
const FAST: [&str; 4] = ["--scheduler-tick", "0.2", "--job-retry-base", "0.5"];

fn jobs(addr: &str, token: &str, schedule: i64) -> Vec<Value> {
    let r = request(addr, "GET", &format!("/api/v1/jobs?schedule={schedule}&limit=1000"), token, None, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut runs = r.json().as_array().unwrap().clone();
    runs.sort_by_key(|r| r["slot_ms"].as_i64());
    runs
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`.
fn until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn add_schedule(addr: &str, token: &str, body: Value) -> i64 {
    let r = request(addr, "POST", "/api/v1/schedules", token, Some(&body), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_i64().unwrap()
}

fn claimed_by(run: &Value, s: &Serve) -> bool {
    run["claimed_by"].as_str().is_some_and(|c| c.ends_with(&format!(":{}", s.child.id())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_each_slot_once_and_a_downtime_once() {
    let Some(pg) = corpusminer_storage::testing::PgTestDb::create().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").to_string_lossy().to_string();
    let store = ["--out", out.as_str(), "--db", pg.url.as_str()];
    let admin = token(&store, "admin", "root");
    let args: Vec<&str> = store.iter().chain(FAST.iter()).copied().collect();

    let a = serve(&args, &[]);
    let id = add_schedule(&a.addr, &admin, json!({"name": "leases", "kind": "expire-leases", "cron": EVERY_2S}));
    until(Duration::from_secs(20), "A runs two slots", || (jobs(&a.addr, &admin, id).len() >= 2).then_some(()));
    let b = serve(&args, &[]);
    std::thread::sleep(Duration::from_secs(4));
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let before = jobs(&b.addr, &admin, id).len();
    until(Duration::from_secs(20), "B runs two more slots", || (jobs(&b.addr, &admin, id).len() >= before + 2).then_some(()));
    let runs = jobs(&b.addr, &admin, id);
    // While a replica was up, every slot ran once: consecutive 2 s slots, no gap, no repeat.
    let slots: Vec<i64> = runs.iter().map(|r| r["slot_ms"].as_i64().unwrap()).collect();
    assert!(slots.windows(2).all(|w| w[1] - w[0] == 2_000), "one run per 2 s slot: {slots:?}");
    assert!(runs.iter().all(|r| r["state"] == "succeeded" && r["attempts"] == 1), "{runs:?}");
    assert!(runs.iter().any(|r| claimed_by(r, &a)) && runs.iter().any(|r| claimed_by(r, &b)), "both replicas ran slots: {runs:?}");
    assert!(runs.iter().all(|r| claimed_by(r, &a) || claimed_by(r, &b)));

    // Every replica down for 7 s, then one back: one run for the slots missed, the latest.
    let last_before = *slots.last().unwrap();
    drop(b);
    std::thread::sleep(Duration::from_secs(7));
    let c = serve(&args, &[]);
    let after = until(Duration::from_secs(20), "C runs after the downtime", || {
        let runs = jobs(&c.addr, &admin, id);
        (runs.len() >= slots.len() + 2).then_some(runs)
    });
    let resumed: Vec<i64> = after.iter().map(|r| r["slot_ms"].as_i64().unwrap()).filter(|&s| s > last_before).collect();
    // Down for 7 s after the run of `last_before`: at least the two slots after it were
    // missed, and they ran as one, the latest.
    assert!(resumed[0] - last_before >= 6_000, "the missed slots collapsed into one run: {resumed:?} after {last_before}");
    assert!(resumed.windows(2).all(|w| w[1] - w[0] == 2_000), "{resumed:?}");
    assert!(after.iter().filter(|r| r["slot_ms"].as_i64().unwrap() > last_before).all(|r| claimed_by(r, &c)));
    drop(c);
}

/// A request the receiver got: its headers (lowercase names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on loopback: answers 500 to its first request and 200 after, and keeps
/// every request.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_lowercase(), v.trim().to_string()));
                }
            }
            let len: usize = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let n = {
                let mut all = keep.lock().unwrap();
                all.push(Received { headers, body });
                all.len()
            };
            let status = if n == 1 { "500 Internal Server Error" } else { "200 OK" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// A Common Crawl mirror folder: `collinfo.json` naming two crawls, the newest with a
/// `warc.paths.gz` of two real minicrawl shards laid out as Common Crawl lays them out.
fn mirror(dir: &std::path::Path, newest: &str) -> String {
    let data = corpusminer_pipeline::testdata::shared_data_dir().expect("the shared data");
    let collinfo = json!([
        {"id": newest, "name": "November 2026 Index", "from": "2026-11-20T00:00:00"},
        {"id": "CC-MAIN-2026-40", "name": "September 2026 Index", "from": "2026-09-20T00:00:00"},
    ]);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("collinfo.json"), collinfo.to_string()).unwrap();
    let segment = format!("crawl-data/{newest}/segments/1763000000000.00/warc");
    std::fs::create_dir_all(dir.join(&segment)).unwrap();
    let mut listing = String::new();
    for s in ["MINICRAWL-dev-00000.warc.gz", "MINICRAWL-dev-00003.warc.gz"] {
        std::os::unix::fs::symlink(data.join("minicrawl").join(s), dir.join(&segment).join(s)).unwrap();
        listing += &format!("{segment}/{s}\n");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(listing.as_bytes()).unwrap();
    std::fs::write(dir.join(format!("crawl-data/{newest}/warc.paths.gz")), gz.finish().unwrap()).unwrap();
    dir.to_string_lossy().to_string()
}

fn signed(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The first training run of `ms` once it has ended (polled for up to a minute).
async fn ended_training_run(ms: &corpusminer_storage::Metastore) -> corpusminer_storage::metastore::TrainingRun {
    for _ in 0..600 {
        if let Ok(r) = ms.training_run(1).await {
            if r.state != "running" {
                return r;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no training run ended within a minute")
}

#[test]
fn mine_new_crawl_then_train_each_once_and_webhooks_are_signed_and_retried() {
    let Some(f) = fixture() else { return };
    let crawl = "CC-MAIN-2026-47";
    let base = mirror(&f.dir.join("mirror"), crawl);
    let out = f.dir.join("out").to_string_lossy().to_string();
    let store = ["--out", out.as_str()];
    let admin = token(&store, "admin", "root");
    let annotator = token(&store, "annotator", "ann");
    let args: Vec<&str> = store.iter().chain(FAST.iter()).copied().collect();
    let s = serve(&args, &[]);
    let (url, got) = receiver();
    let secret = "whsec-4f1c";

    // Bad requests name their field and store nothing.
    let mut template = run_body(&f.run_args);
    template.as_object_mut().unwrap().remove("input");
    let bad = |body: Value, field: &str| {
        let r = request(&s.addr, "POST", "/api/v1/schedules", &admin, Some(&body), &[]);
        assert_eq!((r.status, r.json()["field"].as_str()), (400, Some(field)), "{}", String::from_utf8_lossy(&r.body));
    };
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": "61 * * * *", "template": template, "crawl_base": base}), "cron");
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": EVERY_2S, "timezone": "Mars/Olympus", "template": template, "crawl_base": base}), "timezone");
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": EVERY_2S, "template": {"input": ["x.warc.gz"]}, "crawl_base": base}), "template.input");
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": EVERY_2S, "crawl_base": base}), "template");
    bad(json!({"name": "m", "kind": "next-when-labelled", "cron": EVERY_2S}), "chain");
    bad(json!({"name": "m", "kind": "expire-leases", "cron": "0 0 30 2 *"}), "cron");
    bad(json!({"name": "m", "kind": "daily", "cron": EVERY_2S}), "kind");
    bad(json!({"name": "m", "kind": "expire-leases"}), "cron");
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": EVERY_2S, "template": {"seed": ["/nonexistent/seed.jsonl"], "negatives": ["/nonexistent/n.txt"]}, "crawl_base": base}), "template.seed");
    bad(json!({"name": "m", "kind": "mine-new-crawl", "cron": EVERY_2S, "template": template, "crawl_base": f.dir.join("no-mirror")}), "crawl_base");
    let r = request(&s.addr, "POST", "/api/v1/schedules", &annotator, Some(&json!({"name": "m", "kind": "expire-leases", "cron": EVERY_2S})), &[]);
    assert_eq!(r.status, 403);
    let r = request(&s.addr, "POST", "/api/v1/webhooks", &admin, Some(&json!({"url": "ftp://x/", "events": ["job.failed"], "secret": "s"})), &[]);
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("url")));
    let r = request(&s.addr, "POST", "/api/v1/webhooks", &admin, Some(&json!({"url": url, "events": ["iteration.started"], "secret": "s"})), &[]);
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("events")));
    assert_eq!(request(&s.addr, "GET", "/api/v1/schedules", &admin, None, &[]).json(), json!([]));
    let masked = request(&s.addr, "POST", "/api/v1/webhooks", &admin, Some(&json!({"url": "http://hook:pa55word@127.0.0.1:9/x", "events": ["job.failed"], "secret": "s"})), &[]).json();
    assert!(!masked["url"].as_str().unwrap().contains("pa55word"), "a webhook URL's password is never shown: {masked}");
    assert_eq!(request(&s.addr, "DELETE", &format!("/api/v1/webhooks/{}", masked["id"]), &admin, None, &[]).status, 200);

    let r = request(&s.addr, "POST", "/api/v1/webhooks", &admin, Some(&json!({"url": url, "events": ["iteration.awaiting_annotation", "iteration.complete", "iteration.failed"], "secret": secret})), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let hook = r.json();
    assert!(hook.get("secret").is_none(), "the secret is never returned: {hook}");
    let id = add_schedule(&s.addr, &admin, json!({"name": "mine", "kind": "mine-new-crawl", "cron": EVERY_2S, "template": template, "crawl_base": base}));

    // The first slot starts an iteration on the newest crawl; later slots skip it.
    let started = until(Duration::from_secs(30), "a run starts an iteration", || jobs(&s.addr, &annotator, id).into_iter().find(|r| r["state"] == "succeeded"));
    let it_id = started["iteration_id"].as_i64().unwrap_or_else(|| panic!("{started}"));
    assert_eq!(started["outcome"].as_str(), Some(format!("{crawl} is new in {base}/collinfo.json").as_str()));
    let it = wait_for(&s.addr, &admin, it_id, &["awaiting_annotation", "complete", "failed"], Duration::from_secs(600));
    assert_ne!(it["state"], "failed", "{it}");
    assert_eq!(it["crawl"], crawl);
    assert_eq!(it["shards"]["total"], 2, "the mirror's warc.paths.gz lists two shards: {it}");
    let skipped = until(Duration::from_secs(20), "a later slot skips", || jobs(&s.addr, &admin, id).into_iter().find(|r| r["state"] == "skipped"));
    assert!(skipped["outcome"].as_str().unwrap().contains("mined already"), "{skipped}");
    let runs = jobs(&s.addr, &admin, id);
    assert_eq!(runs.iter().filter(|r| r["iteration_id"].is_i64()).count(), 1, "one iteration for one new crawl: {runs:?}");
    let listed = request(&s.addr, "GET", "/api/v1/iterations", &admin, None, &[]).json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // The iteration's end reached the receiver: first answered 500, then delivered on the retry,
    // the same signed body both times; the API shows both attempts.
    let event = format!("iteration.{}", it["state"].as_str().unwrap());
    let delivery = until(Duration::from_secs(30), "the delivery is retried and delivered", || {
        let r = request(&s.addr, "GET", &format!("/api/v1/webhooks/{}/deliveries", hook["id"]), &admin, None, &[]);
        r.json().as_array().unwrap().iter().find(|d| d["state"] == "delivered").cloned()
    });
    assert_eq!((delivery["event"].as_str(), delivery["attempts"].as_i64(), delivery["last_status"].as_i64()), (Some(event.as_str()), Some(2), Some(200)), "{delivery}");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 500, one 200: {got:?}");
    assert_eq!(got[0].body, got[1].body);
    for g in &got {
        assert_eq!(g.header("x-corpusminer-signature-256"), Some(signed(secret, &g.body).as_str()), "HMAC-SHA256 of the body under the secret");
        assert_eq!(g.header("x-corpusminer-event"), Some(event.as_str()));
        assert_eq!(g.header("x-corpusminer-delivery"), Some(delivery["id"].to_string().as_str()));
    }
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!((body["event"].as_str(), body["iteration"].as_i64(), body["crawl"].as_str()), (Some(event.as_str()), Some(it_id), Some(crawl)));

    // A train schedule on the chain: one `corpusminer train` process of its own on the
    // iteration's corpus, recording its run in the metastore; later slots skip the iteration.
    let dolma = corpusminer_pipeline::testdata::shared_data_dir().unwrap().join("negatives/dolma-cc_en_head-0091.jsonl.gz");
    let tiny = json!({"size": "tiny", "steps": 2, "batch_size": 2, "seq_len": 32, "vocab_size": 512, "tokenizer_sample_mb": 0.5, "eval_every": 2, "eval_docs": 4, "general_eval": [dolma], "threads": 1});
    bad(json!({"name": "t", "kind": "train", "cron": EVERY_2S, "chain": it_id, "template": {"source": ["x=y"]}}), "template.source");
    bad(json!({"name": "t", "kind": "train", "cron": EVERY_2S, "template": tiny}), "chain");
    let train = add_schedule(&s.addr, &admin, json!({"name": "train", "kind": "train", "cron": EVERY_2S, "chain": it_id, "template": tiny}));
    let ran = until(Duration::from_secs(30), "a train run starts", || jobs(&s.addr, &admin, train).into_iter().find(|r| r["state"] == "succeeded"));
    assert_eq!(ran["iteration_id"].as_i64(), Some(it_id), "{ran}");
    let folder = f.dir.join("out").join(format!("training/train-{it_id}"));
    let report = until(Duration::from_secs(300), "the training process writes its report", || std::fs::read_to_string(folder.join("report.json")).ok());
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["steps"].as_array().map(Vec::len), Some(2));
    assert!(report["math_bpb"].as_f64().is_some_and(|b| b > 0.0), "{report}");
    assert!(report["sources"].to_string().contains(&format!("iterations/{it_id}/corpus")), "trained on the iteration's corpus: {}", report["sources"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let recorded = rt.block_on(async {
        let ms = corpusminer_storage::Metastore::connect(&format!("sqlite://{out}/corpusminer.db")).await.unwrap();
        let r = ended_training_run(&ms).await;
        ms.close().await;
        r
    });
    assert_eq!((recorded.state.as_str(), recorded.steps), ("done", 2), "{recorded:?}");
    let shown = request(&s.addr, "GET", "/api/v1/training", &annotator, None, &[]).json();
    assert_eq!((shown[0]["state"].as_str(), shown[0]["step"].as_u64(), shown[0]["steps"].as_u64()), (Some("done"), Some(2), Some(2)), "serve shows the training run: {shown}");
    assert!(shown[0]["loss"].as_f64().is_some_and(|l| l > 0.0), "{shown}");
    let dashboard = String::from_utf8(request(&s.addr, "GET", "/ui/iterations", &annotator, None, &[]).body).unwrap();
    assert!(dashboard.contains("Training runs") && dashboard.contains(&format!("training/train-{it_id}")), "the dashboard lists the training run: {dashboard}");
    let again = until(Duration::from_secs(20), "a later slot skips the trained iteration", || jobs(&s.addr, &admin, train).into_iter().find(|r| r["state"] == "skipped"));
    assert!(again["outcome"].as_str().unwrap().contains("trained on already"), "{again}");
    assert_eq!(jobs(&s.addr, &admin, train).iter().filter(|r| r["state"] == "succeeded").count(), 1);

    // A training process that fails fails its run, which is retried and reported.
    let mut broken = tiny.clone();
    broken["tokenizer"] = json!(f.dir.join("gone/tokenizer.json"));
    let flaky = add_schedule(&s.addr, &admin, json!({"name": "train-broken", "kind": "train", "cron": EVERY_2S, "chain": it_id, "template": broken}));
    let failed = until(Duration::from_secs(120), "the failed training fails its run", || jobs(&s.addr, &admin, flaky).into_iter().find(|r| r["state"] == "failed" || r["state"] == "gave_up"));
    assert!(failed["error"].as_str().unwrap().contains("`corpusminer train` on iteration"), "{failed}");
    assert_eq!(request(&s.addr, "DELETE", &format!("/api/v1/schedules/{flaky}"), &admin, None, &[]).status, 200);

    // The CLI reads the same rows; DELETE removes the schedule, its iteration stays.
    let list = corpusminer(&strings(&["schedule", "list", "--out", &out]), None);
    ok(&list, "schedule list");
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("mine") && list.contains("mine-new-crawl") && list.contains("skipped: the newest crawl"), "{list}");
    let r = request(&s.addr, "DELETE", &format!("/api/v1/schedules/{id}"), &admin, None, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(request(&s.addr, "DELETE", &format!("/api/v1/schedules/{id}"), &admin, None, &[]).status, 404);
    assert_eq!(request(&s.addr, "GET", &format!("/api/v1/iterations/{it_id}"), &admin, None, &[]).status, 200);
    drop(s);
}

#[test]
fn a_failing_job_is_retried_with_backoff_then_gives_up_and_says_so() {
    let Some(f) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").to_string_lossy().to_string();
    let store = ["--out", out.as_str()];
    let admin = token(&store, "admin", "root");
    let (url, got) = receiver();
    // What the first run needs is checked when the schedule is added: its template as `run`
    // checks its flags, and the mirror's collinfo.json.
    let template = tmp.path().join("template.json");
    let add = |template_json: &str, base: &str| {
        std::fs::write(&template, template_json).unwrap();
        corpusminer(&strings(&["schedule", "add", "--out", &out, "--name", "nowhere", "--kind", "mine-new-crawl", "--cron", EVERY_2S, "--crawl-base", base, "--template", &template.to_string_lossy()]), None)
    };
    let base = mirror(&tmp.path().join("mirror"), "CC-MAIN-2026-47");
    let refused = add(r#"{"seed": ["/nonexistent/seed.jsonl"], "negatives": ["/nonexistent/neg.txt"]}"#, &base);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--template: seed /nonexistent/seed.jsonl"), "{}", String::from_utf8_lossy(&refused.stderr));
    let mut good = run_body(&f.run_args);
    good.as_object_mut().unwrap().remove("input");
    let refused = add(&good.to_string(), &tmp.path().join("missing").to_string_lossy());
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--crawl-base: reading"), "{}", String::from_utf8_lossy(&refused.stderr));
    let added = add(&good.to_string(), &base);
    ok(&added, "schedule add");
    assert!(String::from_utf8_lossy(&added.stdout).contains("schedule 1 \"nowhere\" added"), "{}", String::from_utf8_lossy(&added.stdout));
    // Then the mirror goes away: every attempt fails reading its collinfo.json.
    std::fs::remove_file(tmp.path().join("mirror/collinfo.json")).unwrap();
    let args: Vec<&str> = store.iter().chain(FAST.iter()).copied().collect();
    let s = serve(&args, &[]);
    let r = request(&s.addr, "POST", "/api/v1/webhooks", &admin, Some(&json!({"url": url, "events": ["job.failed"], "secret": "k"})), &[]);
    assert_eq!(r.status, 201);
    // The first slot's run fails, is retried after 0.5 s, 1 s, 2 s, 4 s and gives up at its
    // fifth attempt; later slots have runs of their own.
    let run = until(Duration::from_secs(40), "a run gives up", || jobs(&s.addr, &admin, 1).into_iter().find(|r| r["state"] == "gave_up"));
    assert_eq!(run["attempts"], 5, "{run}");
    assert!(run["error"].as_str().unwrap().contains("collinfo.json"), "the error names the file: {run}");
    assert!(run["next_retry_at_ms"].is_null());
    let failed = until(Duration::from_secs(20), "job.failed reaches the receiver", || {
        let got = got.lock().unwrap();
        (got.len() >= 3).then(|| got.iter().map(|g| serde_json::from_slice::<Value>(&g.body).unwrap()).collect::<Vec<_>>())
    });
    assert!(failed.iter().all(|b| b["event"] == "job.failed" && b["schedule"] == "nowhere"), "{failed:?}");
    let runs = corpusminer(&strings(&["schedule", "runs", "--out", &out, "--schedule", "1"]), None);
    ok(&runs, "schedule runs");
    let text = String::from_utf8(runs.stdout).unwrap();
    assert!(text.contains("gave_up") && text.contains("collinfo.json"), "{text}");
    drop(s);

    // The CLI checks what the API checks, and removes by id.
    let bad = corpusminer(&strings(&["schedule", "add", "--out", &out, "--name", "x", "--kind", "expire-leases", "--cron", "* * *"]), None);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--cron"), "{}", String::from_utf8_lossy(&bad.stderr));
    let bad = corpusminer(&strings(&["schedule", "add", "--out", &out, "--name", "x", "--kind", "expire-leases", "--cron", "* * * * *", "--chain", "1"]), None);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--chain"), "{}", String::from_utf8_lossy(&bad.stderr));
    ok(&corpusminer(&strings(&["schedule", "remove", "--out", &out, "1"]), None), "schedule remove");
    let list = corpusminer(&strings(&["schedule", "list", "--out", &out]), None);
    assert!(String::from_utf8_lossy(&list.stdout).contains("no schedules"), "{}", String::from_utf8_lossy(&list.stdout));
}
