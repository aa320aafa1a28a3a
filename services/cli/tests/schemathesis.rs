//! schemathesis (PyPI, installed by `.ci/start-services.sh` into `.venv-schemathesis`) against a
//! running `corpusminer serve` over a real first iteration: every route of the OpenAPI
//! document gets generated requests, valid and not, and every response is checked against the
//! document (status codes, content types, headers, bodies), 5xx answers are failures, and
//! invalid data must be refused.

mod common;

use common::{corpusminer, fixture, ok, strings, with_store};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `st`: `CORPUSMINER_SCHEMATHESIS`, else the repository's `.venv-schemathesis`.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("CORPUSMINER_SCHEMATHESIS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-schemathesis/bin/st"));
    if path.is_file() {
        return Some(path);
    }
    let why = format!("schemathesis not found at {} (`bash .ci/start-services.sh` installs it)", path.display());
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}

#[test]
fn every_response_matches_the_openapi_document() {
    let Some(st) = schemathesis() else { return };
    let Some(f) = fixture() else { return };
    let out = f.dir.join("out");
    // A done iteration, so the examples (id 1) reach real iterations, proposals and corpus files.
    ok(&corpusminer(&with_store(&f.run_args, &out, None), None), "run");
    let out_s = out.to_string_lossy().to_string();
    let made = corpusminer(&strings(&["admin", "token", "create", "--out", &out_s, "--role", "admin", "--name", "schemathesis"]), None);
    ok(&made, "token create");
    let token = String::from_utf8(made.stdout).unwrap().lines().next().unwrap().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_corpusminer"))
        .args(["serve", "--out", &out_s, "--listen", "127.0.0.1:0", "--workers", "1"])
        .env("RUST_LOG", "warn")
        .env_remove("CORPUSMINER_DB")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = BufReader::new(server.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on http://").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string))
        .expect("serve printed its address");
    let run = Command::new(&st)
        .args(["run", &format!("http://{addr}/api/v1/openapi.json"), "-H", &format!("Authorization: Bearer {token}")])
        // Every check but positive_data_acceptance: a request valid by the schema may still
        // name an iteration that is not there (404) or not done (409), which the document says.
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "30", "--seed", "7", "--request-timeout", "30", "--phases", "examples,coverage,fuzzing"])
        .args(["--no-color", "--warnings", "off", "--generation-database", "none"])
        // Its report folder and caches go to the test's temporary folder, not the checkout.
        .current_dir(&f.dir)
        .output()
        .expect("schemathesis runs");
    let _ = server.kill();
    let _ = server.wait();
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "schemathesis found failures:\n{text}");
    println!("{}", text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
}
