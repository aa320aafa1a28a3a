//! Issue 4, part 2 end to end: `corpusminer run` on the real minicrawl proposes hosts with sample
//! pages; `domains list` / `domains export` show them; `annotate import` (twice, the second
//! superseding one prefix) and `annotate list` keep the current labels and the history.

use clap::Parser;
use corpusminer_cli::{Cli, Command};
use corpusminer_coordinator::annotation::{prefix_matches, ProposalsExport};
use corpusminer_e2e::*;
use corpusminer_storage::metastore::{Label, Metastore};
use std::collections::{BTreeMap, HashMap};

/// Runs `corpusminer ARGS…` through the real parser and returns its stdout.
async fn cli(args: &[&str]) -> anyhow::Result<String> {
    let mut argv = vec!["corpusminer"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv)
        .expect("valid command line")
        .command
    {
        Command::Domains(cmd) => corpusminer_cli::domains(cmd).await,
        Command::Annotate(cmd) => corpusminer_cli::annotate(cmd).await,
        other => panic!("not a domains/annotate command: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_with_samples_then_annotations_supersede_and_keep_history() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.display().to_string();

    // Nothing run yet: listing is an error that says what to do, not an empty new database.
    let err = cli(&["domains", "list", "--out", &out_s])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("corpusminer run"), "{err}");
    assert!(!out.join("corpusminer.db").exists());

    // A fast run: the minicrawl's four shards, a small model, a fixed threshold.
    let mut args = seed_and_negatives(&data);
    args.push("--input".into());
    args.push(data.join("minicrawl/*.warc.gz").display().to_string());
    args.extend(
        [
            "--out",
            &out_s,
            "--threshold",
            "0.5",
            "--epoch",
            "2",
            "--dim",
            "16",
            "--bucket",
            "20000",
            "--crawl-name",
            "MINICRAWL-dev",
        ]
        .map(String::from),
    );
    let report = corpusminer_cli::run_iteration(run_args(&args))
        .await
        .expect("run succeeds");
    assert_eq!(report.shards_failed, 0);
    assert!(
        !report.proposed_hosts.is_empty(),
        "some minicrawl host passes the 10% rule"
    );

    // The stored proposals are the report's proposed hosts, with samples from the scored pages.
    let db = format!("sqlite://{}", out.join("corpusminer.db").display());
    let ms = Metastore::connect(&db).await.unwrap();
    let proposals = ms.proposals(report.iteration).await.unwrap();
    ms.close().await;
    let hosts: Vec<&str> = proposals.iter().map(|p| p.host.as_str()).collect();
    let report_hosts: Vec<&str> = report
        .proposed_hosts
        .iter()
        .map(|h| h.host.as_str())
        .collect();
    assert_eq!(hosts, report_hosts);
    let labels: HashMap<String, bool> = corpusminer_coordinator::corpus::parse_labels(
        &std::fs::read_to_string(data.join("minicrawl/LABELS.tsv")).unwrap(),
    )
    .unwrap();
    let mut math_samples = 0;
    for (p, h) in proposals.iter().zip(&report.proposed_hosts) {
        assert_eq!(
            (p.pages, p.kept_pages, p.tokens, p.kept_tokens),
            (h.pages, h.kept_pages, h.tokens, h.kept_tokens)
        );
        assert!(p.ratio > 0.10, "{} ratio {}", p.host, p.ratio);
        assert!(
            !p.samples.is_empty() && p.samples.len() <= 5.min(p.kept_pages as usize),
            "{}: {} samples for {} kept pages",
            p.host,
            p.samples.len(),
            p.kept_pages
        );
        assert!(
            p.samples.windows(2).all(|w| w[0].1 >= w[1].1),
            "{}: samples best first",
            p.host
        );
        for (url, score) in &p.samples {
            assert!(
                *score as f64 >= report.selection.threshold - 1e-6,
                "{url} scored {score}, under the threshold"
            );
            let hd = corpusminer_pipeline::domain::host_domain(url).expect("sample URL parses");
            assert_eq!(hd.host, p.host, "sample {url} belongs to its host");
            assert!(
                prefix_matches(&p.host, url),
                "the host prefix covers its own sample {url}"
            );
            assert!(labels.contains_key(url), "{url} is a minicrawl page");
            math_samples += labels[url] as usize;
        }
    }
    assert!(math_samples > 0, "proposed hosts show labelled math pages");

    // `domains list`: one line per proposed host with kept/pages, ratio and the top sample.
    let table = cli(&["domains", "list", "--out", &out_s]).await.unwrap();
    assert!(
        table.starts_with(&format!(
            "iteration {} (MINICRAWL-dev, awaiting_annotation",
            report.iteration
        )),
        "{table}"
    );
    for p in &proposals {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{} ", p.host)))
            .unwrap_or_else(|| panic!("{} listed in\n{table}", p.host));
        assert!(
            line.contains(&format!("{}/{}", p.kept_pages, p.pages)),
            "{line}"
        );
        assert!(line.contains(&format!("{:.1}%", p.ratio * 100.0)), "{line}");
        assert!(line.contains(&format!("{:.3}", p.samples[0].1)), "{line}");
        assert!(
            line.contains(&p.samples[0].0) || p.samples[0].0.chars().count() > 100,
            "{line}"
        );
    }
    assert_eq!(
        table,
        cli(&[
            "domains",
            "list",
            "--db",
            &db,
            "--iteration",
            &report.iteration.to_string()
        ])
        .await
        .unwrap()
    );

    // `domains export`: JSON to a file, CSV to stdout, the same content.
    let json_path = tmp.path().join("proposals.json");
    let printed = cli(&[
        "domains",
        "export",
        "--out",
        &out_s,
        "--format",
        "json",
        "--output",
        json_path.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert!(printed.is_empty());
    let export: ProposalsExport =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(export.iteration, report.iteration);
    assert_eq!(export.proposals.len(), proposals.len());
    for (e, p) in export.proposals.iter().zip(&proposals) {
        assert_eq!(
            (e.host.as_str(), e.kept_pages, e.samples.len()),
            (p.host.as_str(), p.kept_pages, p.samples.len())
        );
        assert_eq!(
            (e.samples[0].url.as_str(), e.samples[0].score),
            (p.samples[0].0.as_str(), p.samples[0].1)
        );
    }
    let csv = cli(&["domains", "export", "--out", &out_s, "--format", "csv"])
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("iteration,host,domain,pages,kept_pages,tokens,kept_tokens,ratio,samples")
    );
    assert_eq!(lines.count(), proposals.len());
    assert!(
        csv.contains(&format!(
            "{},{},{},{},{},",
            report.iteration,
            proposals[0].host,
            proposals[0].domain,
            proposals[0].pages,
            proposals[0].kept_pages
        )),
        "{csv}"
    );

    // Annotations from a file, written as a person would: URLs, www., trailing slashes.
    let h0 = &proposals[0].host;
    let first = tmp.path().join("marks.csv");
    std::fs::write(
        &first,
        format!(
            "prefix,label,note\n\
             https://www.{h0}/,math,\"whole host, {n} kept pages\"\n\
             https://mathoverflow.net/questions/,math,\n\
             mathoverflow.net/users,nonmath,profiles\n",
            n = proposals[0].kept_pages
        ),
    )
    .unwrap();
    let msg = cli(&[
        "annotate",
        "import",
        first.to_str().unwrap(),
        "--out",
        &out_s,
        "--annotator",
        "ada",
    ])
    .await
    .unwrap();
    assert!(msg.starts_with("imported 3 annotations"), "{msg}");
    // The second file relabels one prefix (later, by the same annotator: several annotators'
    // labels are combined, see the store's tests) and adds one.
    let second = tmp.path().join("review.json");
    std::fs::write(
        &second,
        r#"[{"prefix": "http://MathOverflow.net/users", "label": "math", "annotator": "ada", "note": "users pages list answers", "created_at": "2099-01-01T00:00:00Z"},
            {"prefix": "mathoverflow.net/tags", "label": "nonmath"}]"#,
    )
    .unwrap();
    let msg = cli(&[
        "annotate",
        "import",
        second.to_str().unwrap(),
        "--out",
        &out_s,
        "--annotator",
        "carol",
    ])
    .await
    .unwrap();
    assert!(msg.starts_with("imported 2 annotations"), "{msg}");
    // A file with one bad row stores nothing, and says which line.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "prefix,label\nmathoverflow.net/help,nonmath\nmathoverflow.net/about,unsure\n",
    )
    .unwrap();
    let err = cli(&["annotate", "import", bad.to_str().unwrap(), "--out", &out_s])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3") && err.contains("unsure"), "{err}");

    // Current: one row per prefix, the latest wins.
    let json = cli(&["annotate", "list", "--out", &out_s, "--format", "json"])
        .await
        .unwrap();
    let current: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let view: BTreeMap<&str, (&str, &str)> = current
        .iter()
        .map(|a| {
            (
                a["prefix"].as_str().unwrap(),
                (
                    a["label"].as_str().unwrap(),
                    a["annotator"].as_str().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<&str, (&str, &str)> = [
        (h0.as_str(), ("math", "ada")),
        ("mathoverflow.net/questions", ("math", "ada")),
        ("mathoverflow.net/users", ("math", "ada")),
        ("mathoverflow.net/tags", ("nonmath", "carol")),
    ]
    .into_iter()
    .collect();
    assert_eq!(view, expected);
    assert!(current.iter().all(|a| a["current"] == true));
    let table = cli(&["annotate", "list", "--out", &out_s]).await.unwrap();
    assert_eq!(table.lines().count(), 1 + 4, "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("mathoverflow.net/users ")
                && l.contains(" math ")
                && l.contains("ada")
                && l.contains("users pages list answers")),
        "{table}"
    );

    // History: all five, oldest first; the superseded one marked.
    let json = cli(&[
        "annotate",
        "list",
        "--history",
        "--out",
        &out_s,
        "--format",
        "json",
    ])
    .await
    .unwrap();
    let history: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(history.len(), 5);
    let superseded: Vec<_> = history.iter().filter(|a| a["current"] == false).collect();
    assert_eq!(superseded.len(), 1);
    assert_eq!(
        (
            superseded[0]["prefix"].as_str(),
            superseded[0]["label"].as_str(),
            superseded[0]["note"].as_str()
        ),
        (
            Some("mathoverflow.net/users"),
            Some("nonmath"),
            Some("profiles")
        )
    );
    assert_eq!(
        history.last().unwrap()["annotator"],
        "ada",
        "the 2099 annotation is the newest"
    );
    let table = cli(&["annotate", "list", "--history", "--out", &out_s])
        .await
        .unwrap();
    let status = |l: &str| l.split_whitespace().nth(5).map(String::from);
    assert_eq!(
        table
            .lines()
            .filter(|l| status(l).as_deref() == Some("superseded"))
            .count(),
        1,
        "{table}"
    );
    assert_eq!(
        table
            .lines()
            .filter(|l| status(l).as_deref() == Some("deciding"))
            .count(),
        4,
        "one annotator: every current label decides its prefix\n{table}"
    );

    // The stored labels decide the proposed host's sample pages.
    let ms = Metastore::connect(&db).await.unwrap();
    let current = ms.annotations(false).await.unwrap();
    ms.close().await;
    for (url, _) in &proposals[0].samples {
        let a = corpusminer_coordinator::annotation::label_of(url, &current).expect("annotated");
        assert_eq!((a.prefix.as_str(), a.label), (h0.as_str(), Label::Math));
    }
}
