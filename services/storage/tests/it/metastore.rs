//! ONE metastore suite, run against SQLite (a temp file) and PostgreSQL (a fresh database).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corpusminer_storage::metastore::schedules::{JobKind, JobStart, RunState, ScheduleSpec};
use corpusminer_storage::metastore::{HostCount, HostLanguage, IterationState, Label, LanguageBucket, NewAnnotation, Proposal};
use corpusminer_storage::testing::PgTestDb;
use corpusminer_storage::{Backend, HostBucket, Metastore, MetastoreError, ShardResult};

/// Shard URIs shaped like Common Crawl's `warc.paths` entries.
fn shard_uris(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1707947473347.0/warc/\
                 CC-MAIN-20240220211055-20240221001055-{i:05}.warc.gz"
            )
        })
        .collect()
}

fn host(host: &str, bucket: i64, pages: i64, tokens: i64) -> HostBucket {
    let domain = host
        .rsplitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(".");
    HostBucket {
        host: host.into(),
        domain,
        bucket,
        pages,
        tokens,
    }
}

fn result(hist: &[(i64, i64, i64)], hosts: Vec<HostBucket>, skips: &[(&str, u64)]) -> ShardResult {
    ShardResult {
        scored_key: "iterations/1/scored/0.jsonl.zst".into(),
        texts_key: "iterations/1/texts/0.jsonl.zst".into(),
        records: 3 * hist.iter().map(|h| h.1).sum::<i64>(),
        pages: hist.iter().map(|h| h.1).sum(),
        bytes_in: 1_784_360,
        histogram: hist.to_vec(),
        skips: skips.iter().map(|&(r, c)| (r.to_string(), c)).collect(),
        // Every host writes English: its pages are English pages, bucket by bucket.
        languages: hosts.iter().map(|h| LanguageBucket { lang: "en".into(), bucket: h.bucket, pages: h.pages, tokens: h.tokens }).collect(),
        host_languages: hosts.iter().map(|h| HostLanguage { host: h.host.clone(), lang: "en".into(), pages: h.pages, tokens: h.tokens }).collect(),
        hosts,
    }
}

const LEASE: Duration = Duration::from_secs(600);

async fn iteration_fields(ms: Metastore) {
    let id = ms
        .create_iteration("CC-MAIN-2024-10", r#"{"budget_tokens":40000000000}"#)
        .await
        .unwrap();
    let it = ms.iteration(id).await.unwrap();
    assert_eq!(
        (it.crawl.as_str(), it.state.as_str()),
        ("CC-MAIN-2024-10", "preparing")
    );
    assert_eq!(it.config_json, r#"{"budget_tokens":40000000000}"#);
    assert_eq!(
        (it.model_uri.clone(), it.threshold, it.report_json.clone()),
        (None, None, None)
    );
    ms.set_state(id, IterationState::Scoring).await.unwrap();
    ms.set_model(id, "s3://m/model.bin", &"ab".repeat(32), r#"{"f1":0.84}"#)
        .await
        .unwrap();
    ms.set_threshold(id, 0.33, 33).await.unwrap();
    ms.set_report(id, r#"{"kept_pages":12}"#).await.unwrap();
    let it = ms.iteration(id).await.unwrap();
    assert_eq!(it.state, "scoring");
    assert_eq!(it.model_uri.as_deref(), Some("s3://m/model.bin"));
    assert_eq!(it.model_sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(it.validation_json.as_deref(), Some(r#"{"f1":0.84}"#));
    assert_eq!((it.threshold, it.threshold_bucket), (Some(0.33), Some(33)));
    assert_eq!(it.report_json.as_deref(), Some(r#"{"kept_pages":12}"#));
    assert!(it.updated_at >= it.created_at);
    assert!(matches!(
        ms.iteration(id + 1000).await,
        Err(MetastoreError::NotFound { .. })
    ));
    assert!(matches!(
        ms.set_state(id + 1000, IterationState::Failed).await,
        Err(MetastoreError::NotFound { .. })
    ));
    assert!(matches!(
        ms.add_shards(id + 1000, &shard_uris(1)).await,
        Err(MetastoreError::NotFound { .. })
    ));
    assert_eq!(ms.iteration_ids().await.unwrap(), vec![id]);
}

async fn lease_complete_fail_life_cycle(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    let uris = shard_uris(3);
    assert_eq!(ms.add_shards(it, &uris).await.unwrap(), 3);
    assert_eq!(ms.add_shards(it, &uris).await.unwrap(), 0, "idempotent");
    assert_eq!(ms.add_shards(it, &shard_uris(4)).await.unwrap(), 1);
    let c = ms.shard_counts(it).await.unwrap();
    assert_eq!(
        (c.pending, c.leased, c.done, c.failed, c.total()),
        (4, 0, 0, 0, 4)
    );

    let a = ms
        .lease_shard(it, "worker-a", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.uri.as_str(), a.attempts, a.worker.as_str()),
        (uris[0].as_str(), 1, "worker-a")
    );
    assert!(a.expires_at > chrono::Utc::now());
    let b = ms
        .lease_shard(it, "worker-b", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.uri, uris[1]);
    assert_ne!(a.token, b.token);
    let c = ms.shard_counts(it).await.unwrap();
    assert_eq!((c.pending, c.leased), (2, 2));

    let r = result(
        &[(0, 5, 500), (9, 2, 300)],
        vec![host("math.stackexchange.com", 9, 2, 300)],
        &[("not_html", 4)],
    );
    ms.complete_shard(&a, &r).await.unwrap();
    ms.fail_shard(&b, "io", "read failed after 1000 bytes: connection reset", false)
        .await
        .unwrap();
    // Neither can be finished twice.
    assert!(matches!(
        ms.complete_shard(&a, &r).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        ms.fail_shard(&b, "io", "again", false).await,
        Err(MetastoreError::LeaseLost { .. })
    ));

    let rows = ms.shards(it).await.unwrap();
    assert_eq!(rows.len(), 4);
    let (ra, rb) = (&rows[0], &rows[1]);
    assert_eq!(
        (ra.state.as_str(), ra.records, ra.pages, ra.bytes_in),
        ("done", Some(21), Some(7), Some(1_784_360))
    );
    assert_eq!(
        (ra.scored_key.as_deref(), ra.texts_key.as_deref()),
        (Some("iterations/1/scored/0.jsonl.zst"), Some("iterations/1/texts/0.jsonl.zst"))
    );
    assert_eq!(
        (ra.lease_token.clone(), ra.worker.as_deref()),
        (None, Some("worker-a"))
    );
    assert!(ra.finished_at.is_some());
    assert_eq!(
        (rb.state.as_str(), rb.failure_reason.as_deref(), rb.error.as_deref()),
        ("failed", Some("io"), Some("read failed after 1000 bytes: connection reset"))
    );
    assert_eq!(
        ms.histogram(it).await.unwrap(),
        vec![(0, 5, 500), (9, 2, 300)]
    );
    assert_eq!(
        ms.skip_counts(it).await.unwrap(),
        BTreeMap::from([("not_html".to_string(), 4)])
    );

    // The rest, then nothing is left to lease.
    let c1 = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    let c2 = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    assert_eq!(
        (c1.uri.as_str(), c2.uri.as_str()),
        (uris[2].as_str(), shard_uris(4)[3].as_str())
    );
    assert_eq!(ms.lease_shard(it, "w", LEASE).await.unwrap(), None);
    ms.complete_shard(&c1, &ShardResult::default())
        .await
        .unwrap();
    ms.complete_shard(&c2, &ShardResult::default())
        .await
        .unwrap();
    let c = ms.shard_counts(it).await.unwrap();
    assert_eq!((c.pending, c.leased, c.done, c.failed), (0, 0, 3, 1));

    // A failed shard can be put back (attempts start again) and leased again.
    assert_eq!(ms.requeue_failed(it).await.unwrap(), 1);
    let again = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    assert_eq!((again.shard_id, again.attempts), (b.shard_id, 1));
    // A retryable failure puts it back in the queue (reason kept), a final one fails it.
    ms.fail_shard(&again, "io", "reset", true).await.unwrap();
    let row = ms.shards(it).await.unwrap().into_iter().find(|r| r.shard_id == b.shard_id).unwrap();
    assert_eq!((row.state.as_str(), row.failure_reason.as_deref(), row.attempts), ("pending", Some("io"), 1));
    let third = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    assert_eq!((third.shard_id, third.attempts), (b.shard_id, 2));
    ms.fail_shard(&third, "not_warc", "no WARC record", false).await.unwrap();
    assert_eq!(ms.shard_counts(it).await.unwrap().failed, 1);
    assert_eq!(ms.histogram(it).await.unwrap(), vec![(0, 5, 500), (9, 2, 300)], "failures count nothing");
    // Another iteration's shards are separate.
    let other = ms.create_iteration("CC-MAIN-2024-18", "{}").await.unwrap();
    assert_eq!(ms.add_shards(other, &uris).await.unwrap(), 3);
    assert_eq!(ms.lease_shard(it, "w", LEASE).await.unwrap(), None);
}

async fn stale_token_is_rejected_and_writes_nothing(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.add_shards(it, &shard_uris(1)).await.unwrap();
    let lease = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    let forged = corpusminer_storage::Lease {
        token: "0".repeat(32),
        ..lease.clone()
    };
    let r = result(
        &[(3, 1, 10)],
        vec![host("a.example.org", 3, 1, 10)],
        &[("bad_charset", 1)],
    );
    match ms.complete_shard(&forged, &r).await {
        Err(MetastoreError::LeaseLost { shard_id }) => assert_eq!(shard_id, lease.shard_id),
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    assert!(matches!(
        ms.fail_shard(&forged, "io", "x", true).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    assert_eq!(ms.histogram(it).await.unwrap(), vec![]);
    assert_eq!(ms.host_counts(it, 0).await.unwrap(), vec![]);
    assert!(ms.skip_counts(it).await.unwrap().is_empty());
    let row = &ms.shards(it).await.unwrap()[0];
    assert_eq!(
        (row.state.as_str(), row.lease_token.as_deref(), row.records),
        ("leased", Some(lease.token.as_str()), None)
    );
    ms.complete_shard(&lease, &r).await.unwrap();
    assert_eq!(ms.histogram(it).await.unwrap(), vec![(3, 1, 10)]);
}

async fn heartbeats_renew_a_shard_lease_until_another_worker_holds_it(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.add_shards(it, &shard_uris(1)).await.unwrap();
    let mut a = ms.lease_shard(it, "a", Duration::from_millis(300)).await.unwrap().unwrap();
    // Renewed before it runs out, the lease outlives its first term: nobody else gets the shard.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let before = a.expires_at;
        assert!(ms.renew_shard_lease(&mut a, Duration::from_millis(300)).await.unwrap());
        assert!(a.expires_at > before);
        assert!(ms.lease_shard(it, "b", LEASE).await.unwrap().is_none(), "a renewed lease is not taken over");
    }
    // A holder that stops renewing loses the shard; its later heartbeat and completion say so.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = ms.lease_shard(it, "b", LEASE).await.unwrap().expect("an expired lease is taken over");
    assert!(!ms.renew_shard_lease(&mut a, LEASE).await.unwrap(), "the old holder's heartbeat is refused");
    assert!(matches!(ms.complete_shard(&a, &result(&[(50, 1, 10)], vec![], &[])).await, Err(MetastoreError::LeaseLost { .. })));
    ms.complete_shard(&b, &result(&[(50, 1, 10)], vec![], &[])).await.unwrap();
    let mut b = b;
    assert!(!ms.renew_shard_lease(&mut b, LEASE).await.unwrap(), "a finished shard has no lease to renew");
}

async fn expired_lease_is_released_with_a_new_token(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.add_shards(it, &shard_uris(1)).await.unwrap();
    let old = ms
        .lease_shard(it, "slow-worker", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new = ms
        .lease_shard(it, "fast-worker", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.shard_id, old.shard_id);
    assert_ne!(new.token, old.token);
    assert_eq!((old.attempts, new.attempts), (1, 2));
    // The live lease is not handed out again.
    assert_eq!(ms.lease_shard(it, "third", LEASE).await.unwrap(), None);

    let r_old = result(
        &[(1, 100, 1000)],
        vec![host("x.example.org", 1, 100, 1000)],
        &[("truncated_gzip", 1)],
    );
    let r_new = result(
        &[(1, 7, 70)],
        vec![host("x.example.org", 1, 7, 70)],
        &[("truncated_gzip", 2)],
    );
    assert!(matches!(
        ms.complete_shard(&old, &r_old).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        ms.fail_shard(&old, "io", "late", false).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    ms.complete_shard(&new, &r_new).await.unwrap();
    assert!(matches!(
        ms.complete_shard(&old, &r_old).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    assert_eq!(
        ms.histogram(it).await.unwrap(),
        vec![(1, 7, 70)],
        "counted once, by the live lease"
    );
    assert_eq!(ms.skip_counts(it).await.unwrap()["truncated_gzip"], 2);
    let row = &ms.shards(it).await.unwrap()[0];
    assert_eq!(
        (row.state.as_str(), row.worker.as_deref(), row.attempts),
        ("done", Some("fast-worker"), 2)
    );
}

async fn aggregates_add_up_across_shards(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.add_shards(it, &shard_uris(3)).await.unwrap();
    // Shard 1: a realistic host count (~30k hosts) to exercise the batched upserts.
    let many: Vec<HostBucket> = (0..30_000)
        .map(|i| host(&format!("h{i}.example.org"), i % 100, 1, 10 + i % 7))
        .collect();
    let l1 = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    let t = std::time::Instant::now();
    ms.complete_shard(
        &l1,
        &result(
            &[(0, 20_000, 1), (99, 10_000, 2)],
            many.clone(),
            &[("not_html", 5)],
        ),
    )
    .await
    .unwrap();
    eprintln!(
        "{:?}: complete_shard with 30,000 host rows took {:?}",
        ms.backend(),
        t.elapsed()
    );
    // Shard 2: overlaps shard 1 on hosts and buckets; repeats inside one result are summed.
    let l2 = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    let hosts2 = vec![
        host("h1.example.org", 1, 4, 40),
        host("h1.example.org", 1, 1, 10),
        host("h1.example.org", 80, 2, 20),
        host("mathoverflow.net", 95, 9, 900),
    ];
    ms.complete_shard(
        &l2,
        &result(
            &[(0, 1, 1), (0, 2, 2), (50, 3, 3)],
            hosts2,
            &[("not_html", 1), ("bad_charset", 2)],
        ),
    )
    .await
    .unwrap();
    // Shard 3: empty result.
    let l3 = ms.lease_shard(it, "w", LEASE).await.unwrap().unwrap();
    ms.complete_shard(&l3, &ShardResult::default())
        .await
        .unwrap();

    assert_eq!(
        ms.histogram(it).await.unwrap(),
        vec![(0, 20_003, 4), (50, 3, 3), (99, 10_000, 2)]
    );
    assert_eq!(
        ms.skip_counts(it).await.unwrap(),
        BTreeMap::from([("bad_charset".to_string(), 2), ("not_html".to_string(), 6)])
    );
    let counts = ms.host_counts(it, 80).await.unwrap();
    assert_eq!(counts.len(), 30_001);
    // Language counts sum the same pages as the host counts, kept at the same bucket.
    let langs = ms.language_counts(it, 80).await.unwrap();
    assert_eq!(langs.len(), 1);
    let en = &langs[0];
    let sum = |f: fn(&HostCount) -> i64| counts.iter().map(f).sum::<i64>();
    assert_eq!(
        (en.lang.as_str(), en.pages, en.tokens, en.scored_pages, en.kept_pages, en.kept_tokens),
        ("en", sum(|h| h.pages), sum(|h| h.tokens), sum(|h| h.pages), sum(|h| h.kept_pages), sum(|h| h.kept_tokens))
    );
    assert_eq!(ms.host_languages(it).await.unwrap()["h1.example.org"], [("en".to_string(), 8)]);
    let h1 = counts.iter().find(|h| h.host == "h1.example.org").unwrap();
    // Shard 1: bucket 1, 1 page, 11 tokens; shard 2: bucket 1 (5 pages, 50), bucket 80 (2, 20).
    assert_eq!(
        (
            h1.domain.as_str(),
            h1.pages,
            h1.tokens,
            h1.kept_pages,
            h1.kept_tokens
        ),
        ("example.org", 8, 81, 2, 20)
    );
    let mo = counts
        .iter()
        .find(|h| h.host == "mathoverflow.net")
        .unwrap();
    assert_eq!(
        (mo.pages, mo.tokens, mo.kept_pages, mo.kept_tokens),
        (9, 900, 9, 900)
    );
    // Totals over all hosts match the inputs, computed independently here.
    let want_pages: i64 = many.iter().map(|h| h.pages).sum::<i64>() + 16;
    let want_kept: i64 = many
        .iter()
        .filter(|h| h.bucket >= 80)
        .map(|h| h.pages)
        .sum::<i64>()
        + 2
        + 9;
    assert_eq!(counts.iter().map(|h| h.pages).sum::<i64>(), want_pages);
    assert_eq!(counts.iter().map(|h| h.kept_pages).sum::<i64>(), want_kept);
    let hosts_sorted: Vec<&str> = counts.iter().map(|h| h.host.as_str()).collect();
    assert!(hosts_sorted.windows(2).all(|w| w[0] < w[1]), "by host");
}

async fn concurrent_leasing_hands_each_shard_out_once(ms: Metastore) {
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    const SHARDS: usize = 60;
    ms.add_shards(it, &shard_uris(SHARDS)).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..12 {
        let ms = ms.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(lease) = ms
                .lease_shard(it, &format!("worker-{w}"), LEASE)
                .await
                .unwrap()
            {
                // Every completion adds one page to bucket (shard % 5) and to a shared host.
                let b = lease.shard_id % 5;
                let r = result(
                    &[(b, 1, 10)],
                    vec![host("shared.example.org", b, 1, 10)],
                    &[("not_html", 1)],
                );
                ms.complete_shard(&lease, &r).await.unwrap();
                got.push(lease.shard_id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(all.len(), SHARDS, "each shard leased exactly once");
    assert_eq!(unique.len(), SHARDS);
    let c = ms.shard_counts(it).await.unwrap();
    assert_eq!((c.done, c.pending, c.leased), (SHARDS as u64, 0, 0));
    assert!(ms.shards(it).await.unwrap().iter().all(|s| s.attempts == 1));
    let hist = ms.histogram(it).await.unwrap();
    assert_eq!(hist.iter().map(|h| h.1).sum::<i64>(), SHARDS as i64);
    let hosts = ms.host_counts(it, 0).await.unwrap();
    assert_eq!(
        (hosts.len(), hosts[0].pages, hosts[0].tokens),
        (1, SHARDS as i64, 10 * SHARDS as i64)
    );
    assert_eq!(ms.skip_counts(it).await.unwrap()["not_html"], SHARDS as u64);
}

fn proposal(host: &str, pages: u64, kept: u64, samples: &[(&str, f32)]) -> Proposal {
    Proposal {
        host: host.into(),
        domain: host.split_once('.').map_or(host, |(_, d)| d).into(),
        pages,
        kept_pages: kept,
        tokens: pages.saturating_mul(700),
        kept_tokens: kept.saturating_mul(900),
        ratio: kept as f64 / pages as f64,
        samples: samples.iter().map(|&(u, s)| (u.to_string(), s)).collect(),
    }
}

async fn proposals_are_replaced_per_iteration(ms: Metastore) {
    let it1 = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    let it2 = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    assert!(ms.proposals(it1).await.unwrap().is_empty());
    let first = vec![
        proposal(
            "mathoverflow.net",
            40,
            31,
            &[
                ("https://mathoverflow.net/questions/1/x", 0.998),
                ("https://mathoverflow.net/questions/2/y", 0.97),
            ],
        ),
        proposal(
            "math.stackexchange.com",
            120,
            90,
            &[(
                "https://math.stackexchange.com/questions/458323/why",
                0.9991,
            )],
        ),
        proposal("planetmath.org", 10, 9, &[]),
    ];
    ms.save_proposals(it1, &first).await.unwrap();
    ms.save_proposals(it2, &first[..1]).await.unwrap();
    let got = ms.proposals(it1).await.unwrap();
    let hosts: Vec<&str> = got.iter().map(|p| p.host.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "math.stackexchange.com",
            "mathoverflow.net",
            "planetmath.org"
        ],
        "most kept pages first"
    );
    assert_eq!(got[1], first[0], "counts, ratio and samples round-trip");
    assert_eq!(got[0].samples[0].1, 0.9991f32, "scores keep f32 precision");
    assert!(got[2].samples.is_empty());

    // Saving again replaces the iteration's list, and only that iteration's.
    let second = vec![proposal(
        "planetmath.org",
        12,
        11,
        &[("http://planetmath.org/node/1", 0.9)],
    )];
    ms.save_proposals(it1, &second).await.unwrap();
    assert_eq!(ms.proposals(it1).await.unwrap(), second);
    assert_eq!(ms.proposals(it2).await.unwrap(), first[..1].to_vec());
    ms.save_proposals(it1, &[]).await.unwrap();
    assert!(ms.proposals(it1).await.unwrap().is_empty());

    assert!(matches!(
        ms.save_proposals(it2 + 100, &second).await,
        Err(MetastoreError::NotFound { .. })
    ));
    assert!(matches!(
        ms.save_proposals(it1, &[proposal("a.org", i64::MAX as u64 + 1, 1, &[])])
            .await,
        Err(MetastoreError::OutOfRange(_))
    ));
    // A host twice is refused and the earlier list survives (one transaction).
    ms.save_proposals(it1, &second).await.unwrap();
    let twice = vec![second[0].clone(), second[0].clone()];
    assert!(matches!(
        ms.save_proposals(it1, &twice).await,
        Err(MetastoreError::Database(_))
    ));
    assert_eq!(ms.proposals(it1).await.unwrap(), second);
}

fn annotation(
    prefix: &str,
    label: Label,
    who: &str,
    at_ms: i64,
    note: Option<&str>,
) -> NewAnnotation {
    NewAnnotation {
        prefix: prefix.into(),
        label,
        annotator: who.into(),
        created_at: chrono::DateTime::from_timestamp_millis(at_ms).unwrap(),
        note: note.map(String::from),
        settles: false,
    }
}

async fn several_annotators_agree_dispute_and_settle(ms: Metastore) {
    use corpusminer_storage::metastore::{annotation_statuses, disputed_prefixes, pair_agreement};
    let mut rows = vec![
        annotation("a.org", Label::Math, "ann", 1, None),
        annotation("a.org", Label::Math, "bob", 2, None),
        annotation("b.org", Label::Math, "ann", 3, None),
        annotation("b.org", Label::Nonmath, "bob", 4, None),
        annotation("c.org", Label::Nonmath, "ann", 5, None),
        annotation("c.org", Label::Math, "bob", 6, None),
        annotation("d.org", Label::Nonmath, "ann", 7, None),
    ];
    ms.add_annotations(&rows).await.unwrap();
    let decided = |v: Vec<corpusminer_storage::metastore::Annotation>| v.into_iter().map(|a| (a.prefix, a.label, a.annotator)).collect::<Vec<_>>();
    // Agreed and single-annotator prefixes decide; disputed ones do not.
    assert_eq!(decided(ms.annotations(false).await.unwrap()), [("a.org".into(), Label::Math, "bob".into()), ("d.org".into(), Label::Nonmath, "ann".into())]);
    let history = ms.annotations(true).await.unwrap();
    let disputes: Vec<String> = disputed_prefixes(&history).into_iter().map(|d| d.prefix).collect();
    assert_eq!(disputes, ["b.org", "c.org"]);
    // ann and bob labelled a, b, c in common and agreed once: p_o = 1/3; ann math 2/3, bob 2/3:
    // p_e = 4/9 + 1/9 = 5/9, kappa = (1/3 - 5/9) / (4/9) = -0.5.
    let k = pair_agreement(&history);
    assert_eq!((k.len(), k[0].a.as_str(), k[0].b.as_str(), k[0].prefixes, k[0].agreed), (1, "ann", "bob", 3, 1));
    assert!((k[0].kappa.unwrap() + 0.5).abs() < 1e-9, "{k:?}");
    // An admin's settlement decides a disputed prefix; a later change of mind by an annotator
    // does not reopen it.
    let mut settle = annotation("b.org", Label::Nonmath, "root", 8, None);
    settle.settles = true;
    rows.clear();
    rows.push(settle);
    rows.push(annotation("b.org", Label::Math, "bob", 9, None));
    ms.add_annotations(&rows).await.unwrap();
    let now = decided(ms.annotations(false).await.unwrap());
    assert!(now.contains(&("b.org".into(), Label::Nonmath, "root".into())), "{now:?}");
    assert!(!now.iter().any(|(p, _, _)| p == "c.org"), "c.org stays disputed");
    assert_eq!(disputed_prefixes(&ms.annotations(true).await.unwrap()).len(), 1);
    // What each row does now, as `annotate list --history` shows it.
    let history = ms.annotations(true).await.unwrap();
    let statuses = annotation_statuses(&history);
    let got: Vec<(String, String, i64, &str)> = history.iter().map(|a| (a.prefix.clone(), a.annotator.clone(), a.created_at.timestamp_millis(), statuses[&a.id].as_str())).collect();
    let want = [
        ("a.org", "ann", 1, "concurring"),
        ("a.org", "bob", 2, "deciding"),
        ("b.org", "ann", 3, "overruled"),
        ("b.org", "bob", 4, "superseded"),
        ("c.org", "ann", 5, "disputed"),
        ("c.org", "bob", 6, "disputed"),
        ("d.org", "ann", 7, "deciding"),
        ("b.org", "root", 8, "deciding"),
        ("b.org", "bob", 9, "overruled"),
    ];
    assert_eq!(got, want.map(|(p, w, t, s)| (p.to_string(), w.to_string(), t, s)), "{statuses:?}");
    // Undo: an annotator deletes their own row, and the one it superseded decides again; not
    // another annotator's.
    let redo = ms.add_annotations(&[annotation("d.org", Label::Math, "ann", 10, None)]).await.unwrap();
    assert!(matches!(ms.delete_annotation(redo[0], Some("bob")).await, Err(MetastoreError::NotFound { .. })));
    ms.delete_annotation(redo[0], Some("ann")).await.unwrap();
    let d = decided(ms.annotations(false).await.unwrap());
    assert!(d.contains(&("d.org".into(), Label::Nonmath, "ann".into())), "{d:?}");
    assert!(matches!(ms.delete_annotation(redo[0], None).await, Err(MetastoreError::NotFound { .. })));
}

async fn annotations_supersede_and_keep_history(ms: Metastore) {
    assert!(ms.annotations(false).await.unwrap().is_empty());
    let t = 1_717_000_000_000; // 2024-05-29
    let ids = ms
        .add_annotations(&[
            annotation(
                "mathoverflow.net/questions",
                Label::Math,
                "ada",
                t,
                Some("Q&A, research level"),
            ),
            annotation("mathoverflow.net/users", Label::Nonmath, "ada", t, None),
            annotation("math.stackexchange.com", Label::Math, "ada", t + 5, None),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "ids in input order");
    // One annotator: a later annotation supersedes; an older one imported afterwards does not
    // (several annotators: `several_annotators_agree_dispute_and_settle`).
    let later = ms
        .add_annotations(&[
            annotation(
                "mathoverflow.net/users",
                Label::Math,
                "ada",
                t + 60_000,
                Some("profiles list answers"),
            ),
            annotation("math.stackexchange.com", Label::Nonmath, "ada", t - 1, None),
        ])
        .await
        .unwrap();
    let current = ms.annotations(false).await.unwrap();
    let view: Vec<(&str, Label, &str)> = current
        .iter()
        .map(|a| (a.prefix.as_str(), a.label, a.annotator.as_str()))
        .collect();
    assert_eq!(
        view,
        [
            ("math.stackexchange.com", Label::Math, "ada"),
            ("mathoverflow.net/questions", Label::Math, "ada"),
            ("mathoverflow.net/users", Label::Math, "ada"),
        ]
    );
    assert_eq!(current[1].note.as_deref(), Some("Q&A, research level"));
    assert_eq!(current[2].id, later[0]);
    assert_eq!(current[2].created_at.timestamp_millis(), t + 60_000);
    // Same time: the higher id (imported later) wins.
    let tie = ms
        .add_annotations(&[annotation(
            "mathoverflow.net/questions",
            Label::Nonmath,
            "ada",
            t,
            None,
        )])
        .await
        .unwrap();
    let current = ms.annotations(false).await.unwrap();
    assert_eq!((current[1].id, current[1].label), (tie[0], Label::Nonmath));

    let history = ms.annotations(true).await.unwrap();
    assert_eq!(history.len(), 6, "nothing is lost");
    let order: Vec<i64> = history.iter().map(|a| a.id).collect();
    assert_eq!(
        order,
        [later[1], ids[0], ids[1], tie[0], ids[2], later[0]],
        "oldest first, then by id"
    );

    // The schema itself refuses labels other than math|nonmath.
    let before = ms.annotations(true).await.unwrap().len();
    let bad = sqlx::query(
        "INSERT INTO annotations (prefix, label, annotator, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind("x.org")
    .bind("maybe")
    .bind("z")
    .bind(t)
    .execute(ms.pool())
    .await;
    assert!(
        bad.is_err(),
        "the schema refuses labels other than math|nonmath"
    );
    assert_eq!(ms.annotations(true).await.unwrap().len(), before);
}

async fn iteration_state_machine(ms: Metastore) {
    use IterationState::*;
    let first = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    let second = ms.create_iteration_from("CC-MAIN-2024-10", "{}", Some(first)).await.unwrap();
    assert!(matches!(
        ms.create_iteration_from("x", "{}", Some(second + 100)).await,
        Err(MetastoreError::NotFound { .. })
    ));
    assert_eq!(ms.iteration(second).await.unwrap().parent_id, Some(first));
    assert_eq!(ms.latest_iteration().await.unwrap(), Some(second));

    // Compare-and-set: a step that finishes after a cancel does not overwrite it.
    assert!(ms.advance(first, Preparing, PreparingNegatives).await.unwrap());
    assert!(!ms.advance(first, Preparing, Training).await.unwrap());
    assert_eq!(ms.cancel_iteration(first).await.unwrap(), PreparingNegatives);
    assert!(!ms.advance(first, PreparingNegatives, Training).await.unwrap());
    assert_eq!(ms.iteration(first).await.unwrap().state, "cancelled");
    assert!(matches!(ms.cancel_iteration(first).await, Err(MetastoreError::InvalidState { .. })));
    assert!(matches!(ms.reopen_iteration(first).await, Err(MetastoreError::InvalidState { .. })));

    // Failure keeps the state to resume at; reopening restores it and clears the error.
    ms.set_state(second, Scoring).await.unwrap();
    ms.set_inputs(second, r#"{"seed":"s"}"#).await.unwrap();
    assert!(!ms.fail_iteration(second, Training, "not in training").await.unwrap());
    assert!(ms.fail_iteration(second, Scoring, "disk full").await.unwrap());
    let it = ms.iteration(second).await.unwrap();
    assert_eq!((it.state.as_str(), it.error.as_deref(), it.failed_state.as_deref()), ("failed", Some("disk full"), Some("scoring")));
    assert_eq!(it.inputs_json.as_deref(), Some(r#"{"seed":"s"}"#));
    assert_eq!(ms.reopen_iteration(second).await.unwrap(), Scoring);
    assert_eq!(ms.reopen_iteration(second).await.unwrap(), Scoring, "an active iteration reopens as it is");
    assert_eq!(ms.iteration(second).await.unwrap().error, None);

    // Leases of a killed process are handed back; its stale token cannot complete the shard.
    ms.add_shards(second, &shard_uris(2)).await.unwrap();
    let lease = ms.lease_shard(second, "dead", LEASE).await.unwrap().unwrap();
    assert_eq!(ms.requeue_leased(second).await.unwrap(), 1);
    assert!(matches!(
        ms.complete_shard(&lease, &result(&[(10, 1, 5)], vec![], &[])).await,
        Err(MetastoreError::LeaseLost { .. })
    ));
    assert_eq!(ms.shard_counts(second).await.unwrap().pending, 2);

    // Delete: refused while active (nothing changes), then removes every row of the iteration.
    assert!(matches!(ms.delete_iteration(second).await, Err(MetastoreError::InvalidState { .. })));
    assert_eq!(ms.shards(second).await.unwrap().len(), 2);
    // A parent is not deleted while a child grew from it (the chain would lose its start).
    assert_eq!(ms.children(first).await.unwrap(), vec![second]);
    assert!(matches!(ms.delete_iteration(first).await, Err(MetastoreError::InvalidState { .. })));
    assert_eq!(ms.iteration(second).await.unwrap().parent_id, Some(first));
    ms.cancel_iteration(second).await.unwrap();
    ms.delete_iteration(second).await.unwrap();
    ms.delete_iteration(first).await.unwrap();
    assert!(ms.shards(second).await.unwrap().is_empty());
    assert!(ms.iteration_ids().await.unwrap().is_empty());
    assert!(matches!(ms.delete_iteration(second).await, Err(MetastoreError::NotFound { .. })));
}

async fn training_runs(ms: Metastore) {
    use corpusminer_storage::metastore::TrainingProgress;
    let id = ms.start_training_run("out/train", r#"{"steps":300}"#, 300).await.unwrap();
    let run = ms.training_run(id).await.unwrap();
    assert_eq!((run.state.as_str(), run.steps, run.progress), ("running", 300, None));
    let p = TrainingProgress { step: 10, loss: 6.25, tokens_per_s: 4400.5, eta_s: 42.0 };
    ms.training_progress(id, p).await.unwrap();
    assert_eq!(ms.training_run(id).await.unwrap().progress, Some(p));
    ms.finish_training_run(id, Some("train/report.json"), None).await.unwrap();
    let run = ms.training_run(id).await.unwrap();
    assert_eq!((run.state.as_str(), run.report_key.as_deref()), ("done", Some("train/report.json")));
    // A finished run takes no more progress; a missing one is NotFound.
    assert!(matches!(ms.training_progress(id, p).await, Err(MetastoreError::NotFound { .. })));
    assert!(matches!(ms.training_run(id + 1).await, Err(MetastoreError::NotFound { .. })));
    let failed = ms.start_training_run("b", "{}", 5).await.unwrap();
    ms.finish_training_run(failed, None, Some("the loss diverged")).await.unwrap();
    assert_eq!(ms.training_run(failed).await.unwrap().state, "failed");
    let listed: Vec<(i64, String)> = ms.training_runs(10).await.unwrap().into_iter().map(|r| (r.id, r.state)).collect();
    assert_eq!(listed, vec![(failed, "failed".to_string()), (id, "done".to_string())], "newest first");
    assert_eq!(ms.training_runs(1).await.unwrap().len(), 1);
}

async fn api_tokens_are_stored_hashed_and_revoked(ms: Metastore) {
    use corpusminer_storage::metastore::{token_digest, Role, TOKEN_PREFIX};
    let (row, token) = ms.create_token(" alice ", Role::Annotator).await.unwrap();
    assert_eq!((row.name.as_str(), row.role, row.revoked_at_ms), ("alice", Role::Annotator, None));
    assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64, "{token}");
    let (admin, admin_token) = ms.create_token("ci", Role::Admin).await.unwrap();
    assert_ne!(token, admin_token);
    // Only the digest is stored: no column of any row holds the token.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM api_tokens ORDER BY id").fetch_all(ms.pool()).await.unwrap();
    assert_eq!(stored, vec![token_digest(&token), token_digest(&admin_token)]);
    assert_eq!(ms.token_by_secret(&token).await.unwrap().map(|t| t.id), Some(row.id));
    assert_eq!(ms.token_by_secret("cm_wrong").await.unwrap(), None);
    ms.revoke_token(row.id).await.unwrap();
    assert_eq!(ms.token_by_secret(&token).await.unwrap(), None, "a revoked token stops working");
    assert!(matches!(ms.revoke_token(row.id).await, Err(MetastoreError::NotFound { .. })), "revoking twice is an error");
    assert!(matches!(ms.revoke_token(admin.id + 100).await, Err(MetastoreError::NotFound { .. })));
    assert!(matches!(ms.create_token("  ", Role::Admin).await, Err(MetastoreError::InvalidInput(_))));
    let all = ms.tokens().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].revoked_at_ms.is_some() && all[1].revoked_at_ms.is_none());
}

async fn iteration_leases_fence_one_driver(ms: Metastore) {
    use corpusminer_storage::IterationState as S;
    use std::time::Duration;
    let id = ms.create_iteration("c", "{}").await.unwrap();
    let ttl = Duration::from_secs(60);
    // Of many concurrent takers, exactly one gets the lease.
    let takers: Vec<_> = (0..8).map(|i| {
        let ms = ms.clone();
        tokio::spawn(async move { ms.acquire_iteration_lease(id, &format!("host:{i}"), ttl, None).await.unwrap() })
    }).collect();
    let mut held = Vec::new();
    for t in takers {
        held.extend(t.await.unwrap());
    }
    assert_eq!(held.len(), 1, "one lease among concurrent takers");
    let mut a = held.pop().unwrap();
    assert_eq!(ms.iteration(id).await.unwrap().lease_holder.as_deref(), Some(a.holder.as_str()));
    assert!(ms.unleased_active_iterations(Duration::ZERO).await.unwrap().is_empty(), "a held lease is not picked up");
    // Renewal extends it; a wrong token neither takes it nor moves the state.
    let before = a.expires_at_ms;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(ms.renew_iteration_lease(&mut a, ttl).await.unwrap());
    assert!(a.expires_at_ms > before);
    assert!(ms.acquire_iteration_lease(id, "other:1", ttl, Some("not-the-token")).await.unwrap().is_none());
    assert!(ms.advance_leased(&a, S::Preparing, S::PreparingNegatives).await.unwrap());
    // Taken over with the holder's token (a holder known to be gone): the old one is fenced off.
    let b = ms.acquire_iteration_lease(id, "other:1", ttl, Some(&a.token)).await.unwrap().expect("taken over by token");
    assert!(!ms.advance_leased(&a, S::PreparingNegatives, S::Training).await.unwrap(), "the old holder cannot move the iteration");
    assert!(!ms.renew_iteration_lease(&mut a, ttl).await.unwrap(), "nor renew its lease");
    assert_eq!(ms.iteration(id).await.unwrap().state, "preparing_negatives");
    // An expired lease is free to anyone; a released one too, and idle iterations are listed.
    let short = ms.acquire_iteration_lease(id, "x:1", ttl, Some(&b.token)).await.unwrap().unwrap();
    ms.release_iteration_lease(&short).await.unwrap();
    assert_eq!(ms.iteration_lease(id).await.unwrap(), None);
    assert_eq!(ms.unleased_active_iterations(Duration::ZERO).await.unwrap(), [id]);
    assert!(ms.unleased_active_iterations(Duration::from_secs(3600)).await.unwrap().is_empty(), "a row changed just now is left to its creator");
    let brief = ms.acquire_iteration_lease(id, "y:1", Duration::from_millis(1), None).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(ms.acquire_iteration_lease(id, "z:1", ttl, None).await.unwrap().is_some(), "an expired lease is taken");
    assert!(!ms.advance_leased(&brief, S::PreparingNegatives, S::Training).await.unwrap());
    assert!(matches!(ms.acquire_iteration_lease(id + 99, "z:1", ttl, None).await, Err(MetastoreError::NotFound { .. })));
    // Idempotency keys: the first record wins; deleting the iteration drops its key.
    assert_eq!(ms.idempotent_iteration("k").await.unwrap(), None);
    assert_eq!(ms.record_idempotency_key("k", "h1", id).await.unwrap(), (id, "h1".to_string()));
    let other = ms.create_iteration("c", "{}").await.unwrap();
    assert_eq!(ms.record_idempotency_key("k", "h2", other).await.unwrap(), (id, "h1".to_string()), "a second record of a key returns the first iteration and body");
    ms.cancel_iteration(other).await.unwrap();
    ms.cancel_iteration(id).await.unwrap();
    ms.delete_iteration(id).await.unwrap();
    assert_eq!(ms.idempotent_iteration("k").await.unwrap(), None);
}

fn schedule(name: &str, kind: JobKind) -> ScheduleSpec {
    ScheduleSpec { name: name.into(), kind, cron: "*/2 * * * * *".into(), timezone: "UTC".into(), template: None, crawl_base: None, chain: None, created_by: "test".into() }
}

async fn schedule_slots_are_claimed_once(ms: Metastore) {
    let s = ms.add_schedule(&schedule("leases", JobKind::ExpireLeases)).await.unwrap();
    assert!(matches!(ms.add_schedule(&schedule("leases", JobKind::ExpireLeases)).await, Err(MetastoreError::InvalidInput(_))), "names are unique");
    // A shard lease that ran out is released by the run that claims the slot.
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.add_shards(it, &shard_uris(2)).await.unwrap();
    ms.lease_shard(it, "w", Duration::from_millis(1)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Eight replicas race for one slot: one wins, and it did the work.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let ms = ms.clone();
        tasks.push(tokio::spawn(async move { ms.claim_run(s.id, 10_000, &format!("replica-{i}"), &JobStart::ExpireShardLeases, "expire").await.unwrap() }));
    }
    let mut won = Vec::new();
    for t in tasks {
        if let Some(c) = t.await.unwrap() {
            won.push(c);
        }
    }
    assert_eq!(won.len(), 1, "one replica runs a slot");
    assert_eq!(won[0].released, 1);
    assert_eq!(ms.shard_counts(it).await.unwrap().pending, 2);
    assert_eq!(ms.last_slot(s.id).await.unwrap(), Some(10_000));
    // An earlier slot (a replica whose clock lags) is coalesced away.
    assert_eq!(ms.claim_run(s.id, 8_000, "late", &JobStart::Skip, "late").await.unwrap(), None);
    let runs = ms.job_runs(Some(s.id), 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].state, runs[0].attempts, runs[0].outcome.as_deref()), (RunState::Succeeded, 1, Some("released 1 expired shard lease")));

    // An iteration start: the parent awaiting annotation is completed in the same transaction,
    // with its webhook event, and the run names the iteration it made.
    let hook = ms.add_webhook("http://127.0.0.1:9/h", &["iteration.complete".to_string()], "s3cret", "test").await.unwrap();
    ms.set_state(it, IterationState::AwaitingAnnotation).await.unwrap();
    let next = ms.add_schedule(&schedule("next", JobKind::NextWhenLabelled)).await.unwrap();
    let start = JobStart::Iteration { crawl: "CC-MAIN-2024-10".into(), config_json: "{}".into(), parent: Some(it) };
    let c = ms.claim_run(next.id, 20_000, "r", &start, "labelled").await.unwrap().unwrap();
    let child = c.iteration.unwrap();
    assert_eq!(ms.iteration(child).await.unwrap().parent_id, Some(it));
    assert_eq!(ms.iteration(it).await.unwrap().state, "complete");
    assert_eq!(ms.job_runs(Some(next.id), 1).await.unwrap()[0].iteration_id, Some(child));
    let d = ms.deliveries(Some(hook.id), 10).await.unwrap();
    assert_eq!(d.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&d[0].body).unwrap();
    assert_eq!((body["event"].as_str(), body["iteration"].as_i64()), (Some("iteration.complete"), Some(it)));
    // The same start prepared again (a later slot, before the child was seen) is a skip.
    let again = ms.claim_run(next.id, 22_000, "r", &start, "labelled").await.unwrap().unwrap();
    assert_eq!(again.iteration, None);
    let run = &ms.job_runs(Some(next.id), 1).await.unwrap()[0];
    assert_eq!((run.state, run.outcome.clone()), (RunState::Skipped, Some(format!("iteration {it} has a next iteration already: {child}"))));
    // A start that fails (a parent that is gone) leaves no run row: the slot stays claimable.
    let gone = JobStart::Iteration { crawl: "c".into(), config_json: "{}".into(), parent: Some(99_999) };
    assert!(ms.claim_run(next.id, 30_000, "r", &gone, "x").await.is_err());
    assert_eq!(ms.last_slot(next.id).await.unwrap(), Some(22_000));
    ms.remove_schedule(s.id).await.unwrap();
    assert!(ms.job_runs(Some(s.id), 10).await.unwrap().is_empty());
    assert!(matches!(ms.remove_schedule(s.id).await, Err(MetastoreError::NotFound { .. })));
}

async fn failed_runs_are_retried_once_per_attempt_then_given_up(ms: Metastore) {
    let s = ms.add_schedule(&schedule("flaky", JobKind::ExpireLeases)).await.unwrap();
    let hook = ms.add_webhook("http://127.0.0.1:9/h", &["job.failed".to_string()], "s", "test").await.unwrap();
    let past = 1;
    let id = ms.fail_run(s.id, 2_000, "r1", "collinfo.json: connection refused", Some(past)).await.unwrap().unwrap();
    assert_eq!(ms.fail_run(s.id, 2_000, "r2", "again", Some(past)).await.unwrap(), None, "a slot fails once");
    let due = ms.due_retries().await.unwrap();
    assert_eq!((due.len(), due[0].id, due[0].state, due[0].attempts), (1, id, RunState::Failed, 1));
    // Two replicas read the same attempt: one moves it on.
    let (a, b) = tokio::join!(ms.fail_retry(&due[0], "r1", "still down", Some(past)), ms.fail_retry(&due[0], "r2", "still down", Some(past)));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(), 1);
    let due = ms.due_retries().await.unwrap();
    assert_eq!(due[0].attempts, 2);
    assert_eq!(ms.claim_retry(&due[0], "r3", &JobStart::Skip, "stale").await.unwrap().map(|c| c.run_id), Some(id));
    assert_eq!(ms.claim_retry(&due[0], "r4", &JobStart::Skip, "stale").await.unwrap(), None, "a retry is claimed once");
    let run = &ms.job_runs(Some(s.id), 1).await.unwrap()[0];
    assert_eq!((run.state, run.attempts, run.error.as_deref(), run.next_retry_at_ms), (RunState::Skipped, 3, None, None));
    assert!(ms.due_retries().await.unwrap().is_empty());
    // A run that fails with no retry left gives up.
    let id = ms.fail_run(s.id, 4_000, "r1", "bad template", None).await.unwrap().unwrap();
    let run = &ms.job_runs(Some(s.id), 1).await.unwrap()[0];
    assert_eq!((run.id, run.state), (id, RunState::GaveUp));
    // Each failed attempt told the webhook: 1 + 1 (the race's winner) + 1.
    let d = ms.deliveries(Some(hook.id), 10).await.unwrap();
    assert_eq!(d.len(), 3);
    let last: serde_json::Value = serde_json::from_str(&d[0].body).unwrap();
    assert_eq!((last["event"].as_str(), last["schedule"].as_str(), last["error"].as_str(), last["next_retry_at_ms"].is_null()), (Some("job.failed"), Some("flaky"), Some("bad template"), true));
}

async fn webhook_events_are_queued_with_their_transition_and_claimed_once(ms: Metastore) {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches!(ms.add_webhook("http://x/", &e(&["iteration.done"]), "s", "t").await, Err(MetastoreError::InvalidInput(_))));
    assert!(matches!(ms.add_webhook("http://x/", &e(&[]), "s", "t").await, Err(MetastoreError::InvalidInput(_))));
    assert!(matches!(ms.add_webhook("http://x/", &e(&["job.failed"]), "", "t").await, Err(MetastoreError::InvalidInput(_))));
    let both = ms.add_webhook("http://127.0.0.1:9/a", &e(&["iteration.awaiting_annotation", "iteration.converged"]), "s", "t").await.unwrap();
    let other = ms.add_webhook("http://127.0.0.1:9/b", &e(&["iteration.failed"]), "s", "t").await.unwrap();
    let it = ms.create_iteration("CC-MAIN-2024-10", "{}").await.unwrap();
    ms.set_state(it, IterationState::Selecting).await.unwrap();
    ms.set_report(it, r#"{"convergence":{"parent":1,"retention_pages":0.99,"retention_tokens":0.985}}"#).await.unwrap();
    assert!(ms.advance(it, IterationState::Selecting, IterationState::AwaitingAnnotation).await.unwrap());
    assert!(!ms.advance(it, IterationState::Selecting, IterationState::AwaitingAnnotation).await.unwrap(), "a transition that does not happen notifies nobody");
    let d = ms.deliveries(Some(both.id), 10).await.unwrap();
    let events: BTreeSet<_> = d.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(events, BTreeSet::from(["iteration.awaiting_annotation", "iteration.converged"]));
    assert!(ms.deliveries(Some(other.id), 10).await.unwrap().is_empty());
    assert!(ms.webhooks().await.unwrap().iter().all(|w| w.url.starts_with("http://127.0.0.1:9/")));
    // Four replicas claim at once: each delivery goes to one.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let ms = ms.clone();
        tasks.push(tokio::spawn(async move { ms.claim_deliveries(16, 60_000).await.unwrap() }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    let mut ids: Vec<_> = claimed.iter().map(|c| c.delivery.id).collect();
    ids.sort();
    assert_eq!(ids, { let mut x: Vec<_> = d.iter().map(|d| d.id).collect(); x.sort(); x });
    assert_eq!(claimed[0].secret, "s");
    assert!(ms.claim_deliveries(16, 60_000).await.unwrap().is_empty(), "claimed deliveries are not handed out again");
    // A failed attempt is retried when due; a delivered one is done.
    let (first, second) = (ids[0], ids[1]);
    ms.finish_delivery(first, false, Some(500), Some("the receiver answered 500"), Some(1)).await.unwrap();
    ms.finish_delivery(second, true, Some(200), None, None).await.unwrap();
    let again = ms.claim_deliveries(16, 60_000).await.unwrap();
    assert_eq!(again.iter().map(|c| (c.delivery.id, c.delivery.attempts, c.delivery.last_status)).collect::<Vec<_>>(), vec![(first, 1, Some(500))]);
    ms.finish_delivery(first, false, None, Some("timed out"), None).await.unwrap();
    let states: BTreeMap<i64, String> = ms.deliveries(Some(both.id), 10).await.unwrap().into_iter().map(|d| (d.id, d.state)).collect();
    assert_eq!(states, BTreeMap::from([(first, "failed".to_string()), (second, "delivered".to_string())]));
    ms.remove_webhook(both.id).await.unwrap();
    assert!(ms.deliveries(Some(both.id), 10).await.unwrap().is_empty());
}

macro_rules! metastore_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}/nested/metastore.db", dir.path().display());
                    let ms = corpusminer_storage::Metastore::connect(&url).await.unwrap();
                    assert_eq!(ms.backend(), corpusminer_storage::Backend::Sqlite);
                    super::$name(ms.clone()).await;
                    ms.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = corpusminer_storage::testing::PgTestDb::create().await else { return };
                    let ms = corpusminer_storage::Metastore::connect(&db.url).await.unwrap();
                    assert_eq!(ms.backend(), corpusminer_storage::Backend::Postgres);
                    super::$name(ms.clone()).await;
                    ms.close().await;
                }
            )*
        }
    };
}

metastore_suite!(
    iteration_fields,
    training_runs,
    lease_complete_fail_life_cycle,
    stale_token_is_rejected_and_writes_nothing,
    expired_lease_is_released_with_a_new_token,
    heartbeats_renew_a_shard_lease_until_another_worker_holds_it,
    aggregates_add_up_across_shards,
    concurrent_leasing_hands_each_shard_out_once,
    proposals_are_replaced_per_iteration,
    annotations_supersede_and_keep_history,
    iteration_state_machine,
    api_tokens_are_stored_hashed_and_revoked,
    iteration_leases_fence_one_driver,
    several_annotators_agree_dispute_and_settle,
    schedule_slots_are_claimed_once,
    failed_runs_are_retried_once_per_attempt_then_given_up,
    webhook_events_are_queued_with_their_transition_and_claimed_once,
);

#[tokio::test]
async fn connect_urls_wal_mode_and_redaction() {
    let dir = tempfile::tempdir().unwrap();
    // A plain path works and is created with its folder; migrations are idempotent on reconnect.
    let path = dir.path().join("a/b/meta.db");
    let ms = Metastore::connect(path.to_str().unwrap()).await.unwrap();
    let id = ms.create_iteration("c", "{}").await.unwrap();
    ms.close().await;
    let ms = Metastore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(ms.iteration(id).await.unwrap().crawl, "c");
    let row: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(ms.pool())
        .await
        .unwrap();
    assert_eq!(row.0.to_lowercase(), "wal");
    ms.close().await;

    assert!(matches!(
        Metastore::connect("mysql://x/y").await,
        Err(MetastoreError::InvalidUrl { .. })
    ));
    assert_eq!(
        corpusminer_storage::metastore::redact_url("postgres://cm:s3cret@db:5432/cm"),
        "postgres://cm:***@db:5432/cm"
    );
    let err = Metastore::connect("postgres://cm:s3cret@127.0.0.1:1/cm")
        .await
        .unwrap_err();
    assert!(matches!(err, MetastoreError::Connect { .. }), "{err:?}");
    assert!(format!("{err}").contains("opening the metastore postgres://cm:***@127.0.0.1:1/cm"), "{err}");
    assert!(!format!("{err} {err:?}").contains("s3cret"));

    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let ms = Metastore::connect(&db.url).await.unwrap();
    assert_eq!(ms.backend(), Backend::Postgres);
    assert_eq!(ms.redacted_url(), db.url);
    ms.close().await;
}
