//! schemathesis (PyPI, installed by `.ci/start-services.sh` into `.venv-schemathesis`) against a
//! running `corpusminer serve` over a real first iteration: every route of the OpenAPI
//! document gets generated requests, valid and not, and every response is checked against the
//! document (status codes, content types, headers, bodies), 5xx answers are failures, and
//! invalid data must be refused.

mod common;

use common::served_iteration;
use std::path::PathBuf;
use std::process::Command;

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
    // A done iteration, so the examples (id 1) reach real iterations, proposals and corpus files.
    let Some(served) = served_iteration("admin", "schemathesis") else { return };
    let (addr, token) = (&served.addr, &served.token);
    let run = Command::new(&st)
        .args(["run", &format!("http://{addr}/api/v1/openapi.json"), "-H", &format!("Authorization: Bearer {token}")])
        // Every check but positive_data_acceptance: a request valid by the schema may still
        // name an iteration that is not there (404) or not done (409), which the document says.
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "30", "--seed", "7", "--request-timeout", "30", "--phases", "examples,coverage,fuzzing"])
        .args(["--no-color", "--warnings", "off", "--generation-database", "none"])
        // Its report folder and caches go to the test's temporary folder, not the checkout.
        .current_dir(&served.fixture.dir)
        .output()
        .expect("schemathesis runs");
    drop(served);
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "schemathesis found failures:\n{text}");
    println!("{}", text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
}
