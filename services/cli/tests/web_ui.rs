//! The web UI in a real browser (Debian's Chromium driven by playwright-core, both installed by
//! `.ci/start-services.sh`): sign in with a token, open a proposed host of a real iteration and
//! label two prefixes with the keyboard; the labels are in the store under the token's name,
//! a session cookie without the UI's header writes nothing, and signing out ends the session;
//! the dashboard lists the schedules.
//! Every page visited is checked for WCAG AA contrast.

mod common;

use common::served_iteration;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

const UI_TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui");

/// Chromium and playwright-core, or why they are missing (a failure under CI).
fn browser() -> Option<()> {
    let chromium = std::path::Path::new("/usr/bin/chromium").is_file();
    let playwright = PathBuf::from(UI_TESTS).join("node_modules/playwright-core").is_dir();
    if chromium && playwright {
        return Some(());
    }
    let why = format!("chromium present: {chromium}, playwright-core in {UI_TESTS}/node_modules: {playwright} (`bash .ci/start-services.sh` installs both)");
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}

fn raw(addr: &str, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    (resp.split_whitespace().nth(1).unwrap().parse().unwrap(), resp)
}

/// Signs in with `token` as the login form does; returns the session cookie's value.
fn sign_in(addr: &str, token: &str) -> String {
    let body = format!("token={token}");
    let (status, resp) = raw(addr, &format!("POST /ui/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    assert_eq!(status, 303, "{resp}");
    let cookie = resp.lines().find_map(|l| l.strip_prefix("set-cookie: cm_session=")).unwrap_or_else(|| panic!("a session cookie: {resp}"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

#[test]
fn an_annotator_labels_prefixes_with_the_keyboard() {
    let Some(()) = browser() else { return };
    let Some(served) = served_iteration("annotator", "ada") else { return };
    let (addr, token) = (served.addr.clone(), served.token.clone());
    // Signing in exchanges the token for a session secret: the cookie never carries the token,
    // and the token is no session.
    let session = sign_in(&addr, &token);
    assert!(session.starts_with("cms_") && !session.contains(&token), "{session}");
    let get = |cookie: &str| raw(&addr, &format!("GET /api/v1/iterations HTTP/1.1\r\nHost: {addr}\r\nCookie: cm_session={cookie}\r\nConnection: close\r\n\r\n")).0;
    assert_eq!(get(&session), 200);
    assert_eq!(get(&token), 401, "a token in the session cookie is no session");
    // Signing out ends the session on the server, not only in the browser.
    let other = sign_in(&addr, &token);
    let (status, _) = raw(&addr, &format!("POST /ui/logout HTTP/1.1\r\nHost: {addr}\r\nCookie: cm_session={other}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 303);
    assert_eq!(get(&other), 401, "a signed-out session is refused");
    assert_eq!(get(&session), 200, "other sessions of the token live on");
    // A session cookie alone never authorises a write (no UI header): refused, nothing stored.
    let body = r#"{"annotations":[{"prefix":"forged.example.org","label":"math"}]}"#;
    let (status, _) = raw(&addr, &format!("POST /api/v1/annotations HTTP/1.1\r\nHost: {addr}\r\nCookie: cm_session={session}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    assert_eq!(status, 403);
    // The dashboard lists the schedules (one added by an admin), with their next run.
    let admin = common::token(&["--out", &served.out.to_string_lossy()], "admin", "root");
    let schedule = serde_json::json!({"name": "nightly-leases", "kind": "expire-leases", "cron": "0 3 * * *", "timezone": "Europe/Paris"});
    assert_eq!(common::request(&addr, "POST", "/api/v1/schedules", &admin, Some(&schedule), &[]).status, 201);
    let (status, dashboard) = raw(&addr, &format!("GET /ui/iterations HTTP/1.1\r\nHost: {addr}\r\nCookie: cm_session={session}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200);
    assert!(dashboard.contains("nightly-leases") && dashboard.contains("0 3 * * *") && dashboard.contains("Europe/Paris") && dashboard.contains("not run yet"), "{dashboard}");

    let shots = std::env::var_os("CORPUSMINER_UI_SHOTS").map(PathBuf::from).unwrap_or_else(|| served.fixture.dir.join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    // The page with the most fractions: the browser must show its formulas as MathML.
    let texts = served.out.join("iterations/1/texts");
    let with_math = std::fs::read_dir(&texts)
        .unwrap()
        .flat_map(|e| String::from_utf8(zstd::decode_all(&std::fs::read(e.unwrap().path()).unwrap()[..]).unwrap()).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
        .max_by_key(|v| v["text"].as_str().unwrap().matches("\\frac{").count())
        .expect("minicrawl pages with text");
    let math_page = format!("/ui/iterations/1/pages/{}", with_math["id"].as_str().unwrap());
    let run = Command::new("node").arg(format!("{UI_TESTS}/annotate.mjs")).args([&format!("http://{addr}"), &token, &shots.to_string_lossy().to_string(), &math_page]).current_dir(UI_TESTS).output().expect("node runs");
    let out = served.out.clone();
    assert!(run.status.success(), "the browser run failed:\n{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let said: serde_json::Value = serde_json::from_slice(run.stdout.split(|&b| b == b'\n').find(|l| l.starts_with(b"{")).unwrap()).unwrap();
    let html = raw(&addr, &format!("GET /ui/iterations HTTP/1.1\r\nHost: {addr}\r\nCookie: cm_session={session}\r\nConnection: close\r\n\r\n")).1;
    assert!(!html.contains("data-action"), "an annotator gets no admin buttons");

    // An admin starts the next iteration from the dashboard.
    let made = common::corpusminer(&common::strings(&["admin", "token", "create", "--out", &out.to_string_lossy(), "--role", "admin", "--name", "root"]), None);
    common::ok(&made, "admin token");
    let admin = String::from_utf8(made.stdout).unwrap().lines().next().unwrap().to_string();
    // The admin labels ada's first prefix the other way: a dispute, settled from the page.
    let first = said["labelled"][0][0].as_str().unwrap().to_string();
    let body = format!(r#"{{"annotations":[{{"prefix":"{first}","label":"nonmath"}}]}}"#);
    let (status, _) = raw(&addr, &format!("POST /api/v1/annotations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    assert_eq!(status, 201);
    let dash = Command::new("node").arg(format!("{UI_TESTS}/admin.mjs")).args([&format!("http://{addr}"), &admin, &shots.to_string_lossy().to_string()]).current_dir(UI_TESTS).output().expect("node runs");
    assert!(dash.status.success(), "the admin browser run failed:\n{}\n{}", String::from_utf8_lossy(&dash.stdout), String::from_utf8_lossy(&dash.stderr));
    let timed: serde_json::Value = serde_json::from_slice(dash.stdout.split(|&b| b == b'\n').find(|l| l.starts_with(b"{")).unwrap()).unwrap();
    assert_eq!(timed["labels"], 50);
    println!("iteration 2 on the dashboard: {}", timed["progress"]);
    println!("50 labels by keyboard: {:.0} ms in all, p50 {:.1} ms, p99 {:.1} ms per key press", timed["total_ms"].as_f64().unwrap(), timed["p50_ms"].as_f64().unwrap(), timed["p99_ms"].as_f64().unwrap());
    assert!(said["math_elements"].as_u64().unwrap() > 0, "formulas are rendered as MathML: {said}");
    for shot in ["iterations.png", "host.png", "host-help.png", "page.png", "math.png", "dashboard-admin.png", "disputes.png", "chain.png"] {
        assert!(std::fs::metadata(shots.join(shot)).map(|m| m.len() > 1000).unwrap_or(false), "{shot} was taken");
    }

    // What the browser labelled is in the store, under the token's name.
    let db = format!("sqlite://{}", out.join("corpusminer.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let annotations = rt.block_on(async {
        let ms = corpusminer_storage::Metastore::connect(&db).await.unwrap();
        let a = ms.annotations(false).await.unwrap();
        ms.close().await;
        a
    });
    let got: Vec<(String, String, String)> = annotations.iter().map(|a| (a.prefix.clone(), a.label.as_str().to_string(), a.annotator.clone())).collect();
    let want: Vec<(String, String, String)> = said["labelled"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string(), "ada".to_string())).collect();
    // ada's second label stands; her first was disputed by the admin and settled as math.
    assert!(got.contains(&want[1]), "{:?} not in {got:?}", want[1]);
    assert!(got.contains(&(first.clone(), "math".to_string(), "root".to_string())), "the settlement decides {first}: {got:?}");
    assert!(annotations.iter().any(|a| a.prefix == first && a.settles));
    // The undone label is gone from the history: ada made 3 rows (m, n, n again), less the undone one.
    let ada_rows = rt.block_on(async {
        let ms = corpusminer_storage::Metastore::connect(&db).await.unwrap();
        let h = ms.annotations(true).await.unwrap();
        ms.close().await;
        h.into_iter().filter(|a| a.annotator == "ada").count()
    });
    assert_eq!(ada_rows, 2, "undo deleted the label it took back");
}
