//! `corpusminer admin token …` and `corpusminer serve` as processes: a token made by the CLI
//! opens the API, a revoked one no longer does, and SIGTERM stops the server cleanly; an
//! iteration started by `POST /api/v1/iterations` runs on the real minicrawl to its corpus,
//! downloaded through the API; and two replicas on one PostgreSQL, one killed mid-step, drive
//! the iteration to its end with nothing counted twice.

mod common;

use common::{corpusminer, fixture, get, ok, request, run_body, serve, strings, token, wait_for};
use corpusminer_storage::Metastore;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn tokens_from_the_cli_open_the_api_until_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").to_string_lossy().to_string();
    let bad = corpusminer(&strings(&["admin", "token", "create", "--out", &out, "--role", "boss", "--name", "x"]), None);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("admin, annotator, worker"));
    let made = corpusminer(&strings(&["admin", "token", "create", "--out", &out, "--role", "annotator", "--name", "alice"]), None);
    ok(&made, "token create");
    let stdout = String::from_utf8(made.stdout).unwrap();
    let token = stdout.lines().next().unwrap().to_string();
    assert!(token.starts_with("cm_") && token.len() == 67, "{stdout}");
    let list = corpusminer(&strings(&["admin", "token", "list", "--out", &out]), None);
    ok(&list, "token list");
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("alice") && list.contains("annotator") && !list.contains(&token[3..]), "the list never shows a token:\n{list}");

    let mut server = Command::new(env!("CARGO_BIN_EXE_corpusminer"))
        .args(["serve", "--out", &out, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let config = lines.next().unwrap().unwrap();
    assert!(config.starts_with("corpusminer serve: config {"), "the config is printed first: {config}");
    let first = lines.next().unwrap().unwrap();
    let addr = first.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_else(|| panic!("no address in {first:?}")).to_string();
    let (status, body) = get(&addr, "/api/v1/iterations", &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"items\":[]"), "{body}");

    let revoke = corpusminer(&strings(&["admin", "token", "revoke", "--out", &out, "1"]), None);
    ok(&revoke, "token revoke");
    assert_eq!(get(&addr, "/api/v1/iterations", &token).0, 401, "a revoked token stops working at once");
    let again = corpusminer(&strings(&["admin", "token", "revoke", "--out", &out, "1"]), None);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("admin token list"));

    // SIGTERM: the server stops and says so, exit status 0.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    let status = server.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{status:?}");
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn an_iteration_started_over_http_runs_to_its_corpus() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("served").to_string_lossy().to_string();
    let store = ["--out", out.as_str()];
    let admin = token(&store, "admin", "root");
    let annotator = token(&store, "annotator", "alice");
    let server = serve(&store, &[]);
    let addr = server.addr.as_str();
    let body = run_body(&f.run_args);

    // Bad requests are refused with the field named, and create nothing.
    let mut bad_threshold = body.clone();
    bad_threshold["threshold"] = json!(2);
    let mut missing_seed = body.clone();
    missing_seed["seed"] = json!(["/nonexistent/seed.jsonl"]);
    for (b, field) in [(json!({"out": "/elsewhere"}), "out"), (json!({"thresold": 0.5}), "thresold"), (bad_threshold, "threshold"), (missing_seed, "seed"), (json!([1, 2]), "body")] {
        let r = request(addr, "POST", "/api/v1/iterations", &admin, Some(&b), &[]);
        let e = r.json();
        assert_eq!((r.status, e["field"].as_str()), (400, Some(field)), "{b}: {e}");
    }
    let r = request(addr, "POST", "/api/v1/iterations", &annotator, Some(&body), &[]);
    assert_eq!(r.status, 403, "annotators do not start iterations");
    assert_eq!(request(addr, "GET", "/api/v1/iterations", &admin, None, &[]).json()["total"], 0, "refused requests created nothing");

    // Start it; a retry with the same Idempotency-Key returns the same iteration.
    let r = request(addr, "POST", "/api/v1/iterations", &admin, Some(&body), &[("Idempotency-Key", "first-run")]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.header("location"), Some(format!("/api/v1/iterations/{id}").as_str()));
    let again = request(addr, "POST", "/api/v1/iterations", &admin, Some(&body), &[("Idempotency-Key", "first-run")]);
    assert_eq!((again.status, again.json()["id"].as_i64(), again.header("idempotent-replayed")), (201, Some(id), Some("true")));
    let mut other = body.clone();
    other["threshold"] = json!(0.5);
    let reused = request(addr, "POST", "/api/v1/iterations", &admin, Some(&other), &[("Idempotency-Key", "first-run")]);
    assert_eq!((reused.status, reused.json()["field"].as_str()), (422, Some("Idempotency-Key")), "a key reused with another body");
    assert_eq!(request(addr, "GET", "/api/v1/iterations", &admin, None, &[]).json()["total"], 1);

    let it = wait_for(addr, &admin, id, &["awaiting_annotation", "complete", "failed"], Duration::from_secs(600));
    assert_ne!(it["state"], "failed", "{it}");
    assert_eq!((it["shards"]["done"].as_u64(), it["shards"]["total"].as_u64()), (Some(2), Some(2)), "{it}");
    assert!(it["progress"]["pages"].as_u64().unwrap() > 0 && it["report"]["pages"] == it["progress"]["pages"], "{it}");
    assert!(it["progress"]["driven_by"].is_null(), "the lease is given back when the drive ends: {it}");
    assert!(it["corpus_manifest"]["files"].is_array(), "the detail carries the corpus manifest: {it}");

    // Proposals, an annotation, the corpus.
    let p = request(addr, "GET", &format!("/api/v1/iterations/{id}/proposals?limit=5"), &annotator, None, &[]);
    assert_eq!(p.status, 200);
    let host = p.json()["items"][0]["host"].as_str().expect("minicrawl proposes hosts").to_string();
    // The host's path tree and a page of it, text included (the default text floor keeps all).
    let t = request(addr, "GET", &format!("/api/v1/iterations/{id}/hosts/WWW.{}/paths?depth=2", host.to_uppercase()), &annotator, None, &[]);
    assert_eq!(t.status, 200, "{}", String::from_utf8_lossy(&t.body));
    let tree = t.json();
    assert_eq!(tree["host"], json!(host));
    let (pages, kept) = (tree["tree"]["pages"].as_u64().unwrap(), tree["tree"]["kept_pages"].as_u64().unwrap());
    assert!(pages > 0 && kept <= pages, "{tree}");
    let under: u64 = tree["tree"]["children"].as_array().unwrap().iter().map(|c| c["pages"].as_u64().unwrap()).sum();
    assert!(under <= pages, "children split their parent's pages: {tree}");
    let sample = &tree["tree"]["samples"][0];
    let pg = request(addr, "GET", &format!("/api/v1/iterations/{id}/pages/{}", sample["id"].as_str().unwrap()), &annotator, None, &[]);
    assert_eq!(pg.status, 200, "{}", String::from_utf8_lossy(&pg.body));
    let pg = pg.json();
    assert_eq!((&pg["url"], &pg["score"]), (&sample["url"], &sample["score"]));
    assert!(!pg["text"].as_str().unwrap_or_default().is_empty(), "{pg}");
    assert_eq!(request(addr, "GET", &format!("/api/v1/iterations/{id}/pages/no-such-page"), &annotator, None, &[]).status, 404);
    assert_eq!(request(addr, "GET", &format!("/api/v1/iterations/{id}/hosts/{host}/paths?depth=99"), &annotator, None, &[]).json()["field"], "depth");
    let a = request(addr, "POST", "/api/v1/annotations", &annotator, Some(&json!({"annotations": [{"prefix": host, "label": "math"}]})), &[]);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let files = request(addr, "GET", &format!("/api/v1/iterations/{id}/corpus/files"), &annotator, None, &[]).json();
    let names: Vec<&str> = files["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"manifest.json"), "{files}");
    let part = files["files"].as_array().unwrap().iter().find(|f| f["name"].as_str().unwrap().ends_with(".jsonl.zst")).expect("a corpus part");
    let got = request(addr, "GET", part["url"].as_str().unwrap(), &annotator, None, &[]);
    assert_eq!((got.status, got.body.len() as u64), (200, part["bytes"].as_u64().unwrap()));
    let on_disk = std::fs::read(std::path::Path::new(&out).join(format!("iterations/{id}/corpus")).join(part["name"].as_str().unwrap())).unwrap();
    assert_eq!(got.body, on_disk, "the download is the file");
    let docs = String::from_utf8(zstd::decode_all(&got.body[..]).unwrap()).unwrap();
    assert!(docs.lines().all(|l| serde_json::from_str::<Value>(l).unwrap()["metadata"]["score"].is_number()));
    for bad in ["../../corpusminer.db", "nothing.jsonl.zst", ".hidden"] {
        let r = request(addr, "GET", &format!("/api/v1/iterations/{id}/corpus/files/{bad}"), &annotator, None, &[]);
        assert!(r.status == 400 || r.status == 404, "{bad}: {}", r.status);
    }

    // The corpus as Parquet, through the API and through `corpusminer export`: the same file.
    let pq = request(addr, "GET", &format!("/api/v1/iterations/{id}/corpus/parquet"), &annotator, None, &[]);
    assert_eq!((pq.status, pq.header("content-type")), (200, Some("application/vnd.apache.parquet")));
    assert!(pq.body.starts_with(b"PAR1") && pq.body.ends_with(b"PAR1"), "a Parquet file");
    let file = f.dir.join("corpus.parquet");
    let exported = corpusminer(&strings(&["export", &id.to_string(), "--out", &out, "--format", "parquet", "--output", &file.to_string_lossy()]), None);
    ok(&exported, "export");
    let said = String::from_utf8_lossy(&exported.stdout).to_string();
    let docs = String::from_utf8(zstd::decode_all(&got.body[..]).unwrap()).unwrap().lines().count();
    assert!(said.contains("documents written") && docs > 0, "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), pq.body, "the API serves what export writes");

    // Metrics count requests by route template; the next iteration starts from this one.
    let m = String::from_utf8(request(addr, "GET", "/metrics", "", None, &[]).body).unwrap();
    assert!(m.contains("corpusminer_http_requests_total") && m.contains("route=\"/api/v1/iterations/{id}\""), "{m}");
    assert!(m.contains("corpusminer_iterations{state=\""), "{m}");
    let next = request(addr, "POST", &format!("/api/v1/iterations/{id}/next"), &admin, None, &[]);
    assert_eq!(next.status, 201, "{}", String::from_utf8_lossy(&next.body));
    let child = next.json()["id"].as_i64().unwrap();
    assert_eq!(request(addr, "DELETE", &format!("/api/v1/iterations/{id}"), &admin, None, &[]).status, 409, "a parent of another iteration is not deleted alone");
    let cancelled = request(addr, "POST", &format!("/api/v1/iterations/{child}/cancel"), &admin, None, &[]);
    assert_eq!(cancelled.status, 200);
    let deleted = request(addr, "DELETE", &format!("/api/v1/iterations/{id}?recursive=true"), &admin, None, &[]);
    assert_eq!(deleted.status, 200, "{}", String::from_utf8_lossy(&deleted.body));
    assert_eq!(request(addr, "GET", "/api/v1/iterations", &admin, None, &[]).json()["total"], 0);
}

/// Two replicas on one PostgreSQL: the one driving an iteration is killed in the middle of its
/// scoring step (after its first shard is committed); the other takes the lease over once it
/// expires and finishes the iteration, and every shard is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_takes_over_an_iteration_whose_driver_was_killed() {
    let Some(f) = fixture() else { return };
    let Some(pg) = corpusminer_storage::testing::PgTestDb::create().await else { return };
    let out = f.dir.join("replicas").to_string_lossy().to_string();
    let store = ["--out", out.as_str(), "--db", pg.url.as_str()];
    let admin = token(&store, "admin", "root");
    let mut args: Vec<&str> = store.to_vec();
    args.extend(["--lease-ttl", "3"]);
    // Replica A aborts (as a SIGKILL would leave it) right after its first shard is committed.
    let mut a = serve(&args, &[("CORPUSMINER_FAULT", "shard_completed:1")]);
    let b = serve(&args, &[]);
    let r = request(&a.addr, "POST", "/api/v1/iterations", &admin, Some(&run_body(&f.run_args)), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_i64().unwrap();
    let a_pid = a.child.id();
    let ms = Metastore::connect(&pg.url).await.unwrap();
    // While A lives, B never drives the iteration: every holder seen is A.
    let mut holders = std::collections::BTreeSet::new();
    let started = Instant::now();
    while a.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(600), "replica A never reached its fault point");
        if let Some(h) = ms.iteration(id).await.unwrap().lease_holder {
            holders.insert(h);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!holders.is_empty() && holders.iter().all(|h| h.contains(&format!(":{a_pid}@"))), "only A held the lease while it lived: {holders:?}");
    assert_eq!(ms.iteration(id).await.unwrap().state, "scoring", "A died in the middle of scoring");
    assert_eq!(ms.shard_counts(id).await.unwrap().done, 1, "A committed one shard");

    let it = tokio::task::spawn_blocking({
        let (addr, admin) = (b.addr.clone(), admin.clone());
        move || wait_for(&addr, &admin, id, &["awaiting_annotation", "complete", "failed"], Duration::from_secs(600))
    })
    .await
    .unwrap();
    assert_ne!(it["state"], "failed", "{it}");
    let shards = ms.shards(id).await.unwrap();
    assert!(shards.iter().all(|s| s.state == "done"), "{shards:?}");
    // Nothing counted twice: the histogram holds exactly the pages of the shards.
    let histogram_pages: i64 = ms.histogram(id).await.unwrap().iter().map(|&(_, pages, _)| pages).sum();
    let shard_pages: i64 = shards.iter().map(|s| s.pages.unwrap_or(0)).sum();
    assert_eq!(histogram_pages, shard_pages);
    assert_eq!(it["report"]["pages"].as_i64(), Some(shard_pages), "{it}");
    let inputs: Value = serde_json::from_str(ms.iteration(id).await.unwrap().inputs_json.as_deref().unwrap()).unwrap();
    assert_eq!(inputs["scoring_runs"].as_array().map(Vec::len), Some(2), "A's scoring run, then B's: {inputs}");
    ms.close().await;
    drop(b);
}

/// SIGTERM while an iteration is being driven: `serve` exits 0 having handed its shard leases
/// and the iteration lease back; a restarted `serve` picks the iteration up and finishes it,
/// every shard counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_serve_finishes_what_a_stopped_one_was_driving() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("restarted").to_string_lossy().to_string();
    let store = ["--out", out.as_str()];
    let admin = token(&store, "admin", "root");
    let args = ["--out", out.as_str(), "--lease-ttl", "2"];
    let mut first = serve(&args, &[]);
    let r = request(&first.addr, "POST", "/api/v1/iterations", &admin, Some(&run_body(&f.run_args)), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_i64().unwrap();
    let it = tokio::task::spawn_blocking({
        let (addr, admin) = (first.addr.clone(), admin.clone());
        move || wait_for(&addr, &admin, id, &["training", "scoring", "selecting", "awaiting_annotation", "complete"], Duration::from_secs(300))
    })
    .await
    .unwrap();
    assert_eq!(unsafe { libc::kill(first.child.id() as i32, libc::SIGTERM) }, 0);
    assert!(first.child.wait().unwrap().success(), "SIGTERM is a clean stop");
    let db = format!("sqlite://{out}/corpusminer.db");
    let ms = Metastore::connect(&db).await.unwrap();
    let state = ms.iteration(id).await.unwrap().state;
    if corpusminer_storage::IterationState::parse(&state).unwrap().is_active() {
        assert_eq!(ms.iteration_lease(id).await.unwrap(), None, "the iteration lease was handed back (it was {})", it["state"]);
        assert_eq!(ms.shard_counts(id).await.unwrap().leased, 0, "no shard stays leased");
    }
    let second = serve(&args, &[]);
    let done = tokio::task::spawn_blocking({
        let (addr, admin) = (second.addr.clone(), admin.clone());
        move || wait_for(&addr, &admin, id, &["awaiting_annotation", "complete", "failed"], Duration::from_secs(600))
    })
    .await
    .unwrap();
    assert_ne!(done["state"], "failed", "{done}");
    let shards = ms.shards(id).await.unwrap();
    let histogram_pages: i64 = ms.histogram(id).await.unwrap().iter().map(|&(_, pages, _)| pages).sum();
    assert_eq!(histogram_pages, shards.iter().map(|s| s.pages.unwrap_or(0)).sum::<i64>(), "every shard counted once");
    ms.close().await;
}
