//! Kill-and-resume: the real binary is aborted (CORPUSMINER_FAULT: abort(), no cleanup, what a
//! SIGKILL leaves) at every state of an iteration and inside its steps; `corpusminer resume`
//! then finishes it, and the corpus equals an uninterrupted run's (same id, text and score).
//! Every point runs on SQLite; a sample runs on PostgreSQL. Small settings keep it fast.

mod common;

use common::*;
use corpusminer_storage::metastore::{IterationState, Metastore};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (fault point, the state the killed iteration is left in).
const POINTS: &[(&str, IterationState)] = &[
    ("preparing", IterationState::Preparing),
    ("preparing_negatives", IterationState::PreparingNegatives),
    ("training", IterationState::Training),
    ("model_stored", IterationState::Training),
    ("scoring", IterationState::Scoring),
    ("shard_leased", IterationState::Scoring),
    ("shard_completed", IterationState::Scoring),
    ("selecting", IterationState::Selecting),
    ("corpus_written", IterationState::Selecting),
];

/// Kills at `point`, checks the state left behind, resumes, and compares with `reference`.
async fn kill_and_resume(f: &Fixture, name: &str, point: &str, left_in: IterationState, db: Option<&str>, reference: &BTreeSet<(String, String, u32)>) {
    let out = f.dir.join(name);
    let killed = corpusminer(&with_store(&f.run_args, &out, db), Some(point));
    assert!(!killed.status.success(), "{point}: the fault point was never reached");
    assert!(String::from_utf8_lossy(&killed.stderr).contains("fault injected"), "{point}: {}", String::from_utf8_lossy(&killed.stderr));
    let db_url = db.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}", out.join("corpusminer.db").display()));
    assert_eq!(state(&db_url).await, left_in.as_str(), "{point}: state left behind");
    let id = newest(&db_url).await;
    let resume = vec!["resume".to_string(), id.to_string()];
    let resumed = corpusminer(&with_store(&resume, &out, db), None);
    ok(&resumed, &format!("resume after {point}"));
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("iteration"), "{point}: resume prints the report");
    let s = state(&db_url).await;
    assert!(s == "complete" || s == "awaiting_annotation", "{point}: resumed iteration is {s}");
    assert_eq!(&corpus(&out, id), reference, "{point}: resumed corpus differs from the uninterrupted run's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_state_resumes_to_the_uninterrupted_result() {
    let Some(f) = fixture() else { return };
    let reference_out = f.dir.join("reference");
    let reference = corpusminer(&with_store(&f.run_args, &reference_out, None), None);
    ok(&reference, "uninterrupted run");
    let reference = corpus(&reference_out, 1);
    assert!(reference.len() >= 3, "the reference run keeps pages ({})", reference.len());

    for (point, left_in) in POINTS {
        kill_and_resume(&f, &format!("sqlite-{point}"), point, *left_in, None, &reference).await;
    }

    // A sample on PostgreSQL: mid-scoring and mid-selection.
    // A fresh database per point: one metastore holds one chain.
    for (point, left_in) in [("shard_completed", IterationState::Scoring), ("corpus_written", IterationState::Selecting)] {
        let Some(pg) = corpusminer_storage::testing::PgTestDb::create().await else { return };
        kill_and_resume(&f, &format!("pg-{point}"), point, left_in, Some(&pg.url), &reference).await;
    }
}

/// Annotations marking the hosts of the labelled math pages of the fixture's shards as math.
fn math_hosts_csv(dir: &Path) -> PathBuf {
    let data = corpusminer_pipeline::testdata::shared_data_dir().unwrap();
    let labels = std::fs::read_to_string(data.join("minicrawl/LABELS.tsv")).unwrap();
    let mut hosts = BTreeSet::new();
    for l in labels.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        if (f[0].ends_with("00000.warc.gz") || f[0].ends_with("00003.warc.gz")) && f[2] == "math" {
            hosts.insert(f[1].split('/').nth(2).unwrap().trim_start_matches("www.").to_string());
        }
    }
    let path = dir.join("math-hosts.csv");
    let rows: Vec<String> = hosts.iter().map(|h| format!("{h},math")).collect();
    std::fs::write(&path, format!("prefix,label\n{}\n", rows.join("\n"))).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grown_iteration_killed_after_seed_growth_resumes_to_the_uninterrupted_result() {
    let Some(f) = fixture() else { return };
    let marks = math_hosts_csv(&f.dir);
    let mut results = Vec::new();
    for fault in [None, Some("preparing_negatives"), Some("selecting")] {
        let out = f.dir.join(format!("grown-{}", fault.unwrap_or("reference")));
        let store = |v: &[&str]| with_store(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &out, None);
        ok(&corpusminer(&with_store(&f.run_args, &out, None), None), "iteration 1");
        ok(&corpusminer(&store(&["annotate", "import", marks.to_str().unwrap()]), None), "annotate import");
        let next = corpusminer(&store(&["iterate"]), fault);
        if let Some(point) = fault {
            assert!(!next.status.success(), "{point}: not reached");
            let db = format!("sqlite://{}", out.join("corpusminer.db").display());
            assert_eq!(state(&db).await, point);
            ok(&corpusminer(&store(&["resume"]), None), &format!("resume after {point}"));
        } else {
            ok(&next, "iterate");
        }
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("iterations/2/seed_manifest.json")).unwrap()).unwrap();
        results.push((manifest["added"].clone(), corpus(&out, 2)));
    }
    assert!(!results[0].0.as_array().unwrap().is_empty(), "iteration 2 adds annotated pages to its seed");
    assert!(results.iter().all(|r| r == &results[0]), "a resumed iteration 2 equals the uninterrupted one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_resume_and_delete_removes_rows_and_files() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("cancel");
    let store = |v: &[&str]| with_store(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &out, None);
    let killed = corpusminer(&with_store(&f.run_args, &out, None), Some("scoring"));
    assert!(!killed.status.success());
    let db = format!("sqlite://{}", out.join("corpusminer.db").display());

    // Deleting an active iteration is refused and changes nothing.
    let refused = corpusminer(&store(&["delete", "1"]), None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cancel it first"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(state(&db).await, "scoring");
    assert!(out.join("iterations/1/model.bin").is_file());

    // A live process holding the iteration's lease (this test, on this machine) blocks a second run.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let ms = Metastore::connect(&db).await.unwrap();
    let killed_lease = ms.iteration_lease(1).await.unwrap().expect("the killed process held the iteration's lease");
    let lease = ms.acquire_iteration_lease(1, &format!("{host}:{}", std::process::id()), std::time::Duration::from_secs(60), Some(&killed_lease.token)).await.unwrap();
    assert!(lease.is_some(), "a gone holder's lease is taken over by its token");
    let blocked = corpusminer(&store(&["resume", "1"]), None);
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("is being run by process"), "{}", String::from_utf8_lossy(&blocked.stderr));
    ms.close().await;
    assert_eq!(state(&db).await, "scoring", "a refused resume changes nothing");

    ok(&corpusminer(&store(&["cancel", "1"]), None), "cancel");
    assert_eq!(state(&db).await, "cancelled");
    let again = corpusminer(&store(&["resume", "1"]), None);
    assert!(!again.status.success(), "a cancelled iteration is not resumed");
    assert!(!corpusminer(&store(&["cancel", "1"]), None).status.success(), "cancelling twice is an error");
    let status = corpusminer(&store(&["status"]), None);
    ok(&status, "status");
    assert!(String::from_utf8_lossy(&status.stdout).contains("cancelled"));

    let deleted = corpusminer(&store(&["delete", "1"]), None);
    ok(&deleted, "delete");
    assert_eq!(files_under(&out.join("iterations/1")), 0, "the iteration's files are removed");
    let ms = Metastore::connect(&db).await.unwrap();
    assert!(ms.iteration_ids().await.unwrap().is_empty());
    assert!(ms.shards(1).await.unwrap().is_empty());
}

#[test]
fn bad_arguments_are_refused_before_an_iteration_exists() {
    let Some(f) = fixture() else { return };
    let cases: [(&str, &[&str], &str); 3] = [
        ("threshold", &["--threshold", "2"], "--threshold 2 is not in [0, 1]"),
        ("seed", &["--seed", "/nonexistent/seed.jsonl"], "no such file"),
        ("input", &["--input", "/nonexistent/*.warc.gz"], "--input /nonexistent/*.warc.gz: no file matches it"),
    ];
    for (name, extra, message) in cases {
        let out = f.dir.join(format!("bad-{name}"));
        let mut args = f.run_args.clone();
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = corpusminer(&with_store(&args, &out, None), None);
        assert!(!o.status.success(), "{name}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(message), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!out.exists(), "{name}: a refused run creates nothing, not even its output folder");
    }
    let o = corpusminer(&["status".into(), "--db".into(), f.dir.join("typo.db").display().to_string()], None);
    assert!(!o.status.success() && !f.dir.join("typo.db").exists(), "a read-only command creates no metastore");
}

