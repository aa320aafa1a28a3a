//! The first hour of a new user, on the real binary and real shards: the summary's numbers add
//! up (records read down to pages scored, each difference named) and are grouped by thousands;
//! `--min-host-pages` only filters what is shown; every annotation says what it did to the
//! next seed, or why it did nothing; `annotate import` names the OS user when `$USER` is unset;
//! pages/s after a resume counts the scoring time of every run.

mod common;

use common::*;
use corpusminer_coordinator::report::group;
use corpusminer_coordinator::{IterationInputs, Report};
use corpusminer_storage::metastore::Metastore;
use std::path::Path;
use std::process::Command;

fn report(out: &Path, iteration: i64) -> Report {
    let path = out.join("iterations").join(iteration.to_string()).join("report.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_summary_adds_up_and_annotations_explain_their_effect() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("out");
    // The fixture's minicrawl shards are clean; a real Common Crawl excerpt (requests,
    // metadata, redirects, non-HTML), a clipped crawl file and one with revisit records bring
    // every stage of the funnel.
    let data = corpusminer_pipeline::testdata::shared_data_dir().expect("the fixture found it");
    let mut args = f.run_args.clone();
    args.push("--input".into());
    for extra in ["commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz", "warc-edge/resiliparse-clipped.warc.gz", "warc-edge/pywb-dupes.warc.gz"] {
        args.push(data.join(extra).display().to_string());
    }
    let run = corpusminer(&with_store(&args, &out, None), None);
    ok(&run, "run");
    let text = stdout(&run);
    let r = report(&out, 1);

    // The funnel adds up to the records read, and the summary shows it with grouped numbers.
    let n = &r.funnel;
    let response_skips: u64 = n.response_skips.iter().map(|s| s.count).sum();
    let page_skips: u64 = n.page_skips.iter().map(|s| s.count).sum();
    assert!(n.records > 300 && !n.response_skips.is_empty() && !n.page_skips.is_empty() && !n.damaged.is_empty(), "every stage has a skip: {n:?}");
    assert_eq!(n.records, r.records, "the funnel starts at the records read");
    assert_eq!(n.records - n.not_responses, n.responses);
    assert_eq!(n.responses - response_skips, n.html_pages);
    assert_eq!(n.html_pages - page_skips, n.pages_scored);
    assert_eq!((n.pages_scored, n.unaccounted), (r.pages, 0), "every record is accounted for");
    for (label, value) in [("WARC records read", n.records), ("= responses", n.responses), ("= HTML pages", n.html_pages), ("= pages scored", n.pages_scored)] {
        let l = text.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label:?} line in\n{text}"));
        assert!(l.contains(&group(value)), "{label}: {l}");
    }
    let scored_line = text.lines().find(|l| l.trim_start().starts_with("= pages scored")).unwrap();
    assert!(group(r.tokens).contains(',') && scored_line.contains(&format!("{} tokens", group(r.tokens))), "tokens are grouped: {scored_line}");
    for s in &n.damaged {
        assert!(text.contains(&s.meaning), "the damage {} is named in\n{text}", s.reason);
    }
    for s in n.response_skips.iter().chain(&n.page_skips) {
        assert!(text.contains(&s.meaning), "the reason {} is said in words in\n{text}", s.reason);
    }
    assert!(!text.contains("bucket"), "no histogram jargon:\n{text}");
    assert!(text.contains("P(math) a page needs to be kept"), "{text}");
    assert!(text.contains(&format!("{:.1}% of tokens scored", 100.0 * r.selection.kept_tokens as f64 / r.tokens as f64)), "{text}");

    // --min-host-pages filters the listing only.
    let huge = corpusminer(&strings(&["status", "1", "--min-host-pages", "1000000", "--out", out.to_str().unwrap()]), None);
    ok(&huge, "status 1");
    let proposed = r.proposed_hosts.len();
    if proposed > 0 {
        assert!(stdout(&huge).contains(&format!("{} proposed hosts with fewer than 1000000 pages are not listed", group(proposed as u64))), "{}", stdout(&huge));
    }
    assert_eq!(report(&out, 1).proposed_hosts.len(), proposed, "the stored proposals do not change");

    // Annotations whose effect is nothing, each for its own reason; imported with $USER unset.
    let host = r.top_hosts.first().expect("a host with kept pages").host.clone();
    let csv = f.dir.join("labels.csv");
    std::fs::write(&csv, format!("prefix,label\nno-such-host.example/maths,math\n{host}/no-such-segment-xyz,math\n{host},nonmath\n")).unwrap();
    let import = Command::new(BIN).args(["annotate", "import", csv.to_str().unwrap(), "--out", out.to_str().unwrap()]).env_remove("USER").env_remove("LOGNAME").env("RUST_LOG", "warn").output().unwrap();
    ok(&import, "annotate import");
    let list = corpusminer(&strings(&["annotate", "list", "--format", "json", "--out", out.to_str().unwrap()]), None);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let os_user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    for a in listed.as_array().unwrap() {
        assert_eq!(a["annotator"], os_user.as_str(), "the annotator is the OS user, never \"unknown\"");
    }
    let named = f.dir.join("named.csv");
    std::fs::write(&named, "prefix,label\nno-such-host.example/other,math\n").unwrap();
    ok(&corpusminer(&strings(&["annotate", "import", named.to_str().unwrap(), "--annotator", "ada", "--out", out.to_str().unwrap()]), None), "import --annotator");
    let list = corpusminer(&strings(&["annotate", "list", "--format", "json", "--out", out.to_str().unwrap()]), None);
    assert!(stdout(&list).contains("\"annotator\":\"ada\"") || stdout(&list).contains("\"annotator\": \"ada\""), "{}", stdout(&list));

    let iterate = corpusminer(&strings(&["iterate", "--workers", "1", "--out", out.to_str().unwrap()]), None);
    ok(&iterate, "iterate");
    let text = stdout(&iterate);
    assert!(text.contains("4 current annotations, none of which changed the seed"), "{text}");
    let explained = [
        ("no-such-host.example/maths", "its host has no scored page in this crawl"),
        ("no-such-host.example/other", "its host has no scored page in this crawl"),
        (&format!("{host}/no-such-segment-xyz"), "none under this prefix"),
        (&host, "no seed page lies under it"),
    ];
    for (prefix, why) in explained {
        let l = text.lines().find(|l| l.split_whitespace().nth(1) == Some(prefix)).unwrap_or_else(|| panic!("no line for {prefix} in\n{text}"));
        assert!(l.contains(why), "{prefix}: {l}");
    }
    let r2 = report(&out, 2);
    assert_eq!((r2.seed_added, r2.seed_removed, r2.annotation_effects.len()), (0, 0, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_per_second_after_a_resume_counts_every_run() {
    let Some(f) = fixture() else { return };
    let out = f.dir.join("killed");
    let killed = corpusminer(&with_store(&f.run_args, &out, None), Some("shard_completed"));
    assert!(!killed.status.success(), "the fault point was reached");
    let o = out.to_str().unwrap();
    // `status` says the process is gone and what to run; a wrong id names what there is.
    let status = corpusminer(&strings(&["status", "--out", o]), None);
    ok(&status, "status");
    assert!(stdout(&status).contains(&format!("iteration 1 was left in scoring by a process that is no longer running: `corpusminer resume 1 --out {o}` goes on from that step")), "{}", stdout(&status));
    let missing = corpusminer(&strings(&["status", "99", "--out", o]), None);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains(&format!("no iteration 99 in the metastore of --out {o}: it holds iteration 1 (`corpusminer status --out {o}` lists them)")), "{err}");
    let resumed = corpusminer(&strings(&["resume", "--workers", "1", "--out", o]), None);
    ok(&resumed, "resume");
    let again = corpusminer(&strings(&["resume", "--out", o]), None);
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("no iteration to resume in --out {o}")), "{}", String::from_utf8_lossy(&again.stderr));

    let ms = Metastore::connect(&format!("sqlite://{}", out.join("corpusminer.db").display())).await.unwrap();
    let inputs: IterationInputs = serde_json::from_str(&ms.iteration(1).await.unwrap().inputs_json.unwrap()).unwrap();
    ms.close().await;
    assert_eq!(inputs.scoring_runs.len(), 2, "{inputs:?}");
    assert_eq!(inputs.scoring_runs[0].seconds, None, "the killed run never finished its step");
    let resumed_run = inputs.scoring_runs[1].seconds.expect("the resumed run finished");
    let r = report(&out, 1);
    assert!(r.scoring_seconds > resumed_run, "the killed run's shard counts too: {} vs {resumed_run}", r.scoring_seconds);
    assert_eq!(r.scoring_runs, 2);
    assert!((r.pages_per_second - r.pages as f64 / r.scoring_seconds).abs() < 1e-6 * r.pages_per_second.max(1.0));
    assert!(stdout(&resumed).contains("s of scoring over 2 runs"), "{}", stdout(&resumed));
}
