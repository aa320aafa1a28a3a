//! `corpusminer admin token …` and `corpusminer serve` as processes: a token made by the CLI
//! opens the API, a revoked one no longer does, and SIGTERM stops the server cleanly.

mod common;

use common::{corpusminer, ok, strings};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

/// `(status, body)` of `GET path` with `token`, over a plain TCP connection.
fn get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

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
