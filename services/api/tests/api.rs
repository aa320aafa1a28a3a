//! The API on a real server (loopback, a real SQLite or PostgreSQL metastore): auth on every
//! route (no token, wrong role, revoked, valid), bad input answered with a JSON error that
//! changes nothing, paging, sorting and filtering of proposals, and the OpenAPI document.

use corpusminer_api::{router, ApiState};
use corpusminer_storage::metastore::{Proposal, Role};
use corpusminer_storage::Metastore;
use serde_json::Value;

struct Server {
    base: String,
    ms: Metastore,
    admin: String,
    annotator: String,
    worker: String,
    revoked: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<corpusminer_storage::testing::PgTestDb>,
}

async fn start(pg: bool) -> Option<Server> {
    let (ms, dir, pgdb) = if pg {
        let db = corpusminer_storage::testing::PgTestDb::create().await?;
        (Metastore::connect(&db.url).await.unwrap(), None, Some(db))
    } else {
        let dir = tempfile::tempdir().unwrap();
        (Metastore::connect(&dir.path().join("corpusminer.db").to_string_lossy()).await.unwrap(), Some(dir), None)
    };
    let (_, admin) = ms.create_token("root", Role::Admin).await.unwrap();
    let (_, annotator) = ms.create_token("ann", Role::Annotator).await.unwrap();
    let (_, worker) = ms.create_token("w1", Role::Worker).await.unwrap();
    let (gone, revoked) = ms.create_token("old", Role::Admin).await.unwrap();
    ms.revoke_token(gone.id).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(ApiState::new(ms.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Some(Server { base, ms, admin, annotator, worker, revoked, _dir: dir, _pg: pgdb })
}

/// `(status, JSON body)` of a request.
async fn call(s: &Server, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{method} {path}: {status} body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

fn proposal(host: &str, pages: u64, kept: u64) -> Proposal {
    Proposal { host: host.into(), domain: host.into(), pages, kept_pages: kept, tokens: pages * 100, kept_tokens: kept * 100, ratio: kept as f64 / pages as f64, samples: vec![(format!("https://{host}/a"), 0.9)] }
}

async fn seeded(s: &Server) -> i64 {
    let id = s.ms.create_iteration("test-crawl", r#"{"threshold":0.5}"#).await.unwrap();
    s.ms.add_shards(id, &["a.warc.gz".into(), "b.warc.gz".into()]).await.unwrap();
    s.ms.save_proposals(id, &[proposal("math.example.org", 100, 90), proposal("blog.example.com", 50, 10), proposal("mathoverflow.net", 200, 150)]).await.unwrap();
    id
}

async fn auth_and_bad_input(pg: bool) {
    let Some(s) = start(pg).await else { return };
    let id = seeded(&s).await;
    // Health and the document need no token.
    assert_eq!(call(&s, "GET", "/healthz", None, None).await.0, 200);
    assert_eq!(call(&s, "GET", "/readyz", None, None).await.0, 200);
    let (st, doc) = call(&s, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for p in ["/api/v1/iterations", "/api/v1/iterations/{id}", "/api/v1/iterations/{id}/proposals", "/api/v1/iterations/{id}/cancel", "/api/v1/iterations/{id}/next", "/api/v1/iterations/{id}/resume", "/api/v1/iterations/{id}/corpus/files", "/api/v1/iterations/{id}/corpus/files/{name}", "/api/v1/annotations"] {
        assert!(doc["paths"][p].is_object(), "{p} missing from the document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let post = r#"{"annotations":[{"prefix":"https://www.MathOverflow.net/questions/","label":"math","note":"Q&A"}]}"#;
    let routes: [(&str, String, Option<&str>); 5] = [
        ("GET", "/api/v1/iterations".into(), None),
        ("GET", format!("/api/v1/iterations/{id}"), None),
        ("GET", format!("/api/v1/iterations/{id}/proposals"), None),
        ("GET", "/api/v1/annotations".into(), None),
        ("POST", "/api/v1/annotations".into(), Some(post)),
    ];
    for (method, path, body) in &routes {
        let (st, e) = call(&s, method, path, None, *body).await;
        assert_eq!((st, e["error"].as_str()), (401, Some("unauthorized")), "{method} {path} without a token: {e}");
        assert!(e["message"].as_str().unwrap().contains("admin token create"), "{e}");
        assert_eq!(call(&s, method, path, Some(&s.revoked), *body).await.0, 401, "{method} {path} with a revoked token");
        assert_eq!(call(&s, method, path, Some("cm_0000"), *body).await.0, 401, "{method} {path} with a wrong token");
        let (st, e) = call(&s, method, path, Some(&s.worker), *body).await;
        assert_eq!((st, e["error"].as_str()), (403, Some("forbidden")), "{method} {path} as a worker: {e}");
    }
    assert!(s.ms.annotations(true).await.unwrap().is_empty(), "refused requests wrote nothing");
    // The routes that start, steer and delete iterations: admins only, checked before anything.
    let admin_only: [(&str, String, Option<&str>); 4] = [
        ("POST", "/api/v1/iterations".into(), Some(r#"{"input":["x.warc.gz"],"model":"m.bin"}"#)),
        ("POST", format!("/api/v1/iterations/{id}/next"), None),
        ("POST", format!("/api/v1/iterations/{id}/resume"), None),
        ("DELETE", format!("/api/v1/iterations/{id}"), None),
    ];
    for (method, path, body) in &admin_only {
        assert_eq!(call(&s, method, path, None, *body).await.0, 401, "{method} {path} without a token");
        assert_eq!(call(&s, method, path, Some(&s.revoked), *body).await.0, 401, "{method} {path} with a revoked token");
        for t in [&s.annotator, &s.worker] {
            let (st, e) = call(&s, method, path, Some(t), *body).await;
            assert_eq!((st, e["error"].as_str()), (403, Some("forbidden")), "{method} {path}: {e}");
        }
    }
    // This server was started without iteration control: starting is unavailable, not done.
    let (st, e) = call(&s, "POST", "/api/v1/iterations", Some(&s.admin), Some("{}")).await;
    assert_eq!((st, e["error"].as_str()), (503, Some("unavailable")), "{e}");
    let (st, e) = call(&s, "DELETE", &format!("/api/v1/iterations/{id}"), Some(&s.admin), None).await;
    assert_eq!((st, e["error"].as_str()), (503, Some("unavailable")), "a read-only server deletes nothing: {e}");
    // An iteration's corpus is not there before it is done.
    let (st, e) = call(&s, "GET", &format!("/api/v1/iterations/{id}/corpus/files"), Some(&s.annotator), None).await;
    assert_eq!((st, e["error"].as_str()), (409, Some("conflict")), "{e}");
    assert_eq!(s.ms.iteration_ids().await.unwrap(), [id], "refused requests created or deleted nothing");
    assert_eq!(s.ms.iteration(id).await.unwrap().state, "preparing");

    // Bad input: a JSON error naming the field, nothing written.
    let bad: [(&str, &str, Option<&str>, &str); 9] = [
        ("GET", "/api/v1/iterations?limit=0", None, "limit"),
        ("GET", "/api/v1/iterations?limit=abc", None, "query"),
        ("GET", "/api/v1/iterations/xyz", None, "id"),
        ("GET", "/api/v1/iterations/1/proposals?min_ratio=2", None, "min_ratio"),
        ("GET", "/api/v1/iterations/1/proposals?sort=size", None, "query"),
        ("POST", "/api/v1/annotations", Some("{not json"), "body"),
        ("POST", "/api/v1/annotations", Some(r#"{"annotations":[]}"#), "annotations"),
        ("POST", "/api/v1/annotations", Some(r#"{"annotations":[{"prefix":"a.org","label":"math"},{"prefix":"b.org","label":"maybe"}]}"#), "annotations[1].label"),
        ("POST", "/api/v1/annotations", Some(r#"{"annotations":[{"prefix":"a.org","label":"math","colour":"red"}]}"#), "annotations[0].colour"),
    ];
    for (method, path, body, field) in bad {
        let (st, e) = call(&s, method, path, Some(&s.admin), body).await;
        assert_eq!((st, e["error"].as_str(), e["field"].as_str()), (400, Some("bad_request"), Some(field)), "{method} {path} {body:?}: {e}");
    }
    assert!(s.ms.annotations(true).await.unwrap().is_empty(), "a bad request wrote nothing (not even the valid first annotation)");
    let (st, e) = call(&s, "POST", "/api/v1/annotations", Some(&s.admin), Some(&format!(r#"{{"annotations":[{{"prefix":"a.org","label":"math","note":"{}"}}]}}"#, "x".repeat(2 << 20)))).await;
    assert_eq!((st, e["error"].as_str()), (413, Some("payload_too_large")), "{e}");
    assert_eq!(call(&s, "GET", "/api/v1/iterations/999", Some(&s.admin), None).await.0, 404);
    assert_eq!(call(&s, "GET", "/api/v1/nothing", Some(&s.admin), None).await.0, 404);
    assert!(s.ms.annotations(true).await.unwrap().is_empty());

    // Valid: an annotator writes, recorded under the token's name; both roles read.
    let (st, made) = call(&s, "POST", "/api/v1/annotations", Some(&s.annotator), Some(post)).await;
    assert_eq!(st, 201, "{made}");
    assert_eq!((made["items"][0]["prefix"].as_str(), made["items"][0]["annotator"].as_str()), (Some("mathoverflow.net/questions"), Some("ann")));
    let (st, list) = call(&s, "GET", "/api/v1/annotations?history=true", Some(&s.admin), None).await;
    assert_eq!((st, list["total"].as_u64()), (200, Some(1)));
    let (st, it) = call(&s, "GET", &format!("/api/v1/iterations/{id}"), Some(&s.annotator), None).await;
    assert_eq!(st, 200);
    assert_eq!((it["state"].as_str(), it["shards"]["total"].as_u64(), it["shards"]["pending"].as_u64()), (Some("preparing"), Some(2), Some(2)), "{it}");
    assert_eq!(it["config"]["threshold"].as_f64(), Some(0.5));
    let (_, page) = call(&s, "GET", "/api/v1/iterations?limit=1", Some(&s.admin), None).await;
    assert_eq!((page["total"].as_u64(), page["items"].as_array().unwrap().len()), (Some(1), 1));

    // Cancel: admins only; a refused or repeated cancel changes nothing.
    let cancel = format!("/api/v1/iterations/{id}/cancel");
    assert_eq!(call(&s, "POST", &cancel, None, None).await.0, 401);
    assert_eq!(call(&s, "POST", &cancel, Some(&s.revoked), None).await.0, 401);
    for t in [&s.annotator, &s.worker] {
        let (st, e) = call(&s, "POST", &cancel, Some(t), None).await;
        assert_eq!((st, e["error"].as_str()), (403, Some("forbidden")), "{e}");
    }
    assert_eq!(s.ms.iteration(id).await.unwrap().state, "preparing", "a refused cancel changed nothing");
    assert_eq!(call(&s, "POST", "/api/v1/iterations/x/cancel", Some(&s.admin), None).await.1["field"].as_str(), Some("id"));
    assert_eq!(call(&s, "POST", "/api/v1/iterations/999/cancel", Some(&s.admin), None).await.0, 404);
    assert_eq!(call(&s, "GET", &cancel, Some(&s.admin), None).await.0, 405);
    let (st, done) = call(&s, "POST", &cancel, Some(&s.admin), None).await;
    assert_eq!((st, done["was"].as_str(), done["state"].as_str()), (200, Some("preparing"), Some("cancelled")), "{done}");
    let (st, e) = call(&s, "POST", &cancel, Some(&s.admin), None).await;
    assert_eq!((st, e["error"].as_str()), (409, Some("conflict")), "{e}");
    assert_eq!(s.ms.iteration(id).await.unwrap().state, "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_bad_input_on_every_route_sqlite() {
    auth_and_bad_input(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_bad_input_on_every_route_postgres() {
    auth_and_bad_input(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_sort_filter_and_page() {
    let s = start(false).await.unwrap();
    let id = seeded(&s).await;
    let hosts = |v: &Value| v["items"].as_array().unwrap().iter().map(|p| p["host"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let get = |q: String| {
        let s = &s;
        async move {
            let (st, v) = call(s, "GET", &format!("/api/v1/iterations/{id}/proposals{q}"), Some(&s.annotator), None).await;
            assert_eq!(st, 200, "{q}: {v}");
            v
        }
    };
    assert_eq!(hosts(&get("".into()).await), ["math.example.org", "mathoverflow.net", "blog.example.com"], "by ratio, descending");
    assert_eq!(hosts(&get("?sort=pages".into()).await), ["mathoverflow.net", "math.example.org", "blog.example.com"]);
    assert_eq!(hosts(&get("?sort=host".into()).await), ["blog.example.com", "math.example.org", "mathoverflow.net"], "hosts ascending by default");
    assert_eq!(hosts(&get("?sort=kept_pages&ascending=true".into()).await), ["blog.example.com", "math.example.org", "mathoverflow.net"]);
    assert_eq!(hosts(&get("?host=EXAMPLE".into()).await), ["math.example.org", "blog.example.com"]);
    assert_eq!(hosts(&get("?min_ratio=0.5".into()).await), ["math.example.org", "mathoverflow.net"]);
    let page = get("?sort=host&offset=1&limit=1".into()).await;
    assert_eq!((hosts(&page), page["total"].as_u64()), (vec!["math.example.org".to_string()], Some(3)));
    // A path annotated on a host labels the host; `labelled` filters on it.
    call(&s, "POST", "/api/v1/annotations", Some(&s.annotator), Some(r#"{"annotations":[{"prefix":"mathoverflow.net/questions","label":"math"}]}"#)).await;
    assert_eq!(hosts(&get("?labelled=true".into()).await), ["mathoverflow.net"]);
    assert_eq!(get("?labelled=true".into()).await["items"][0]["label"].as_str(), Some("math"));
    assert_eq!(hosts(&get("?labelled=false&sort=host".into()).await), ["blog.example.com", "math.example.org"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_annotators_dispute_and_an_admin_settles() {
    let s = start(false).await.unwrap();
    let post = |token: &str, body: &str| {
        let (s, token, body) = (&s, token.to_string(), body.to_string());
        async move { call(s, "POST", "/api/v1/annotations", Some(&token), Some(&body)).await }
    };
    // Only an admin settles: an annotator's settle is refused and writes nothing.
    let (st, e) = post(&s.annotator, r#"{"annotations":[{"prefix":"a.org","label":"math","settle":true}]}"#).await;
    assert_eq!((st, e["field"].as_str()), (403, Some("annotations[0].settle")), "{e}");
    assert!(s.ms.annotations(true).await.unwrap().is_empty());
    // Two annotators (the annotator and the admin labelling, not settling) disagree on b.org.
    assert_eq!(post(&s.annotator, r#"{"annotations":[{"prefix":"a.org","label":"math"},{"prefix":"b.org","label":"math"}]}"#).await.0, 201);
    assert_eq!(post(&s.admin, r#"{"annotations":[{"prefix":"a.org","label":"math"},{"prefix":"b.org","label":"nonmath"}]}"#).await.0, 201);
    let (_, d) = call(&s, "GET", "/api/v1/annotations/disputes", Some(&s.annotator), None).await;
    assert_eq!(d["disputes"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["disputes"][0]["prefix"], "b.org");
    assert_eq!((d["agreement"][0]["a"].as_str(), d["agreement"][0]["b"].as_str(), d["agreement"][0]["prefixes"].as_u64(), d["agreement"][0]["agreed"].as_u64()), (Some("ann"), Some("root"), Some(2), Some(1)));
    let (_, current) = call(&s, "GET", "/api/v1/annotations", Some(&s.annotator), None).await;
    let prefixes: Vec<&str> = current["items"].as_array().unwrap().iter().map(|a| a["prefix"].as_str().unwrap()).collect();
    assert_eq!(prefixes, ["a.org"], "a disputed prefix decides nothing");
    // The admin settles it.
    assert_eq!(post(&s.admin, r#"{"annotations":[{"prefix":"b.org","label":"nonmath","settle":true}]}"#).await.0, 201);
    let (_, d) = call(&s, "GET", "/api/v1/annotations/disputes", Some(&s.admin), None).await;
    assert!(d["disputes"].as_array().unwrap().is_empty(), "{d}");
    let (_, current) = call(&s, "GET", "/api/v1/annotations", Some(&s.annotator), None).await;
    let b = current["items"].as_array().unwrap().iter().find(|a| a["prefix"] == "b.org").expect("settled b.org decides");
    assert_eq!((b["label"].as_str(), b["settles"].as_bool()), (Some("nonmath"), Some(true)));
    // Undo: only one's own annotation (admins: any); refused deletes change nothing.
    let settled_id = b["id"].as_i64().unwrap();
    let path = format!("/api/v1/annotations/{settled_id}");
    assert_eq!(call(&s, "DELETE", &path, None, None).await.0, 401);
    assert_eq!(call(&s, "DELETE", &path, Some(&s.worker), None).await.0, 403);
    assert_eq!(call(&s, "DELETE", &path, Some(&s.annotator), None).await.0, 404, "not the annotator's own");
    assert_eq!(call(&s, "DELETE", "/api/v1/annotations/x", Some(&s.admin), None).await.1["field"].as_str(), Some("id"));
    let before = s.ms.annotations(true).await.unwrap().len();
    assert_eq!(call(&s, "DELETE", &path, Some(&s.admin), None).await.0, 200);
    assert_eq!(s.ms.annotations(true).await.unwrap().len(), before - 1);
    let (_, d) = call(&s, "GET", "/api/v1/annotations/disputes", Some(&s.admin), None).await;
    assert_eq!(d["disputes"][0]["prefix"], "b.org", "without its settlement b.org is disputed again");
}
