//! The scheduler's rules, independent of who ticks: when a schedule's slot is due, what each
//! job kind would start, and how failures back off. `serve` ticks them (the api crate's
//! scheduler), and the metastore claims each slot once across replicas
//! ([`corpusminer_storage::metastore::schedules`]).

use crate::annotation::prefix_on_host;
use chrono::{TimeZone, Utc};
use corpusminer_storage::metastore::schedules::{JobKind, JobRun, JobStart, Schedule, ScheduleSpec};
use corpusminer_storage::metastore::Annotation;
use corpusminer_storage::{resolve, Iteration, IterationState, Metastore, StorageConfig};
use std::str::FromStr;

/// A schedule's cron expression read in its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
}

impl CronSchedule {
    /// Parses `expr` (5 fields `min hour day month weekday`, or 6 with seconds first; names
    /// and ranges as in crontab(5)) in IANA time zone `tz`. Errors say which part is wrong.
    pub fn parse(expr: &str, tz: &str) -> Result<Self, String> {
        let cron = croner::Cron::new(expr).with_seconds_optional().parse().map_err(|e| format!("cron expression {expr:?}: {e}"))?;
        let tz = chrono_tz::Tz::from_str(tz).map_err(|_| format!("unknown time zone {tz:?}: give an IANA name such as UTC or Europe/Paris"))?;
        Ok(CronSchedule { cron, tz })
    }

    /// The first occurrence strictly after `after_ms` (Unix epoch ms), if any.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let t = self.tz.timestamp_millis_opt(after_ms).single()?;
        // croner works in whole seconds: an occurrence at the same second as a fractional
        // `after` is not after it.
        let t = t.with_timezone(&self.tz);
        let next = self.cron.find_next_occurrence(&t, false).ok()?;
        Some(next.with_timezone(&Utc).timestamp_millis())
    }

    /// The latest occurrence in (`after_ms`, `now_ms`]: the slot to run now. Slots missed during
    /// a downtime collapse into this one, so they run once, not once each. Looks back in
    /// growing windows so a per-second schedule after a long downtime costs little.
    pub fn due(&self, after_ms: i64, now_ms: i64) -> Option<i64> {
        let mut window = 60_000i64;
        loop {
            let lo = after_ms.max(now_ms - window);
            let mut t = lo;
            let mut last = None;
            while let Some(next) = self.next_after(t) {
                if next > now_ms {
                    break;
                }
                last = Some(next);
                t = next;
            }
            if last.is_some() || lo == after_ms {
                return last;
            }
            window = window.saturating_mul(8);
        }
    }
}

/// The next occurrence of schedule `spec` after `after_ms`; `None` for one that never fires
/// again (or whose expression no longer parses).
pub fn next_run(spec: &ScheduleSpec, after_ms: i64) -> Option<i64> {
    CronSchedule::parse(&spec.cron, &spec.timezone).ok()?.next_after(after_ms)
}

/// A schedule as its lists show it: when it runs next, and its latest run.
#[derive(Debug, Clone)]
pub struct ScheduleStatus {
    /// The schedule.
    pub schedule: Schedule,
    /// Its next occurrence after now, Unix epoch milliseconds.
    pub next_run_ms: Option<i64>,
    /// Its latest run.
    pub last_run: Option<JobRun>,
}

/// Every schedule with its next occurrence and latest run, oldest schedule first.
pub async fn schedule_statuses(ms: &Metastore) -> Result<Vec<ScheduleStatus>, corpusminer_storage::MetastoreError> {
    let now = Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for schedule in ms.schedules().await? {
        let last_run = ms.job_runs(Some(schedule.id), 1).await?.into_iter().next();
        out.push(ScheduleStatus { next_run_ms: next_run(&schedule.spec, now), schedule, last_run });
    }
    Ok(out)
}

/// Attempts a run gets before it gives up.
pub const MAX_ATTEMPTS: i64 = 5;

/// When attempt `attempts + 1` of a failed run (or delivery) is due: `base_ms` doubled per
/// attempt made, at most an hour later; `None` once `max_attempts` are spent.
pub fn retry_at(now_ms: i64, attempts: i64, base_ms: i64, max_attempts: i64) -> Option<i64> {
    (attempts < max_attempts).then(|| now_ms + (base_ms.saturating_mul(1i64 << (attempts - 1).clamp(0, 20))).min(3_600_000))
}

/// Checks a schedule's settings: the cron expression and time zone, and the fields its kind
/// needs (`template` and `crawl_base` for `mine-new-crawl`, `chain` for
/// `next-when-labelled`, `chain` and optionally `template` for `train`) and no others.
/// `template_keys`: the choices a template of the schedule's kind may hold (`run`'s for
/// `mine-new-crawl`, `train`'s for `train`). Errors: (field, message).
pub fn check_schedule(s: &ScheduleSpec, template_keys: &[String]) -> Result<(), (String, String)> {
    let field = |f: &str, m: String| Err((f.to_string(), m));
    if s.name.trim().is_empty() {
        return field("name", "a schedule needs a name".into());
    }
    if s.name.chars().count() > 100 || s.name.chars().any(char::is_control) {
        return field("name", "a schedule's name is at most 100 characters, none of them control characters".into());
    }
    match CronSchedule::parse(&s.cron, &s.timezone) {
        Err(e) => return field(if e.starts_with("unknown time zone") { "timezone" } else { "cron" }, e),
        Ok(c) if c.next_after(Utc::now().timestamp_millis()).is_none() => return field("cron", format!("cron expression {:?} never fires (a day that no month has?)", s.cron)),
        Ok(_) => {}
    }
    let kind = format!("{} {} schedule", if s.kind.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }, s.kind);
    let need = |has: bool, f: &str| if has { Ok(()) } else { field(f, format!("{kind} needs {f}")) };
    let forbid = |has: bool, f: &str| if has { field(f, format!("{kind} takes no {f}")) } else { Ok(()) };
    match s.kind {
        JobKind::MineNewCrawl => {
            need(s.crawl_base.is_some(), "crawl_base")?;
            forbid(s.chain.is_some(), "chain")?;
            let Some(t) = &s.template else { return field("template", "a mine-new-crawl schedule needs a template: the POST /iterations body without inputs".into()) };
            let Some(obj) = t.as_object() else { return field("template", "the template must be a JSON object of run choices".into()) };
            for k in obj.keys() {
                if matches!(k.as_str(), "input" | "crawl" | "crawl_base" | "shards_file") {
                    return field(&format!("template.{k}"), format!("the job gives the crawl; a template takes no {k}"));
                }
                if !template_keys.contains(k) {
                    return field(&format!("template.{k}"), format!("{k} is not a choice of `corpusminer run`"));
                }
            }
        }
        JobKind::NextWhenLabelled => {
            need(s.chain.is_some(), "chain")?;
            forbid(s.template.is_some(), "template")?;
            forbid(s.crawl_base.is_some(), "crawl_base")?;
        }
        JobKind::Train => {
            need(s.chain.is_some(), "chain")?;
            forbid(s.crawl_base.is_some(), "crawl_base")?;
            if let Some(t) = &s.template {
                let Some(obj) = t.as_object() else { return field("template", "the template must be a JSON object of `corpusminer train` choices".into()) };
                if let Some(k) = obj.keys().find(|k| !template_keys.contains(k)) {
                    return field(&format!("template.{k}"), format!("{k} is not a choice of `corpusminer train` a schedule sets (the job gives source, db and out)"));
                }
            }
        }
        JobKind::ExpireLeases => {
            forbid(s.template.is_some(), "template")?;
            forbid(s.crawl_base.is_some(), "crawl_base")?;
            forbid(s.chain.is_some(), "chain")?;
        }
    }
    Ok(())
}

/// One crawl of a `collinfo.json` (Common Crawl's list of its crawls, newest first).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct CrawlInfo {
    /// `CC-MAIN-2024-10`.
    pub id: String,
    /// `April 2024 Index`.
    #[serde(default)]
    pub name: String,
    /// When its capture started (ISO 8601), when given.
    #[serde(default)]
    pub from: Option<String>,
}

/// The crawls `{base}/collinfo.json` lists (a Common Crawl host, `s3://commoncrawl/`, or a
/// mirror folder). Errors name the file and what is wrong with it.
pub async fn collinfo(base: &str, storage: &StorageConfig) -> anyhow::Result<Vec<CrawlInfo>> {
    let uri = format!("{}/collinfo.json", base.trim_end_matches('/'));
    let (store, key) = resolve(&uri, storage).map_err(|e| anyhow::anyhow!("{}: {}", corpusminer_storage::redact_uri(&uri), corpusminer_storage::error_chain(&e)))?;
    let bytes = store.get(&key).await.map_err(|e| anyhow::anyhow!("reading {}: {}", corpusminer_storage::redact_uri(&uri), corpusminer_storage::error_chain(&e)))?;
    serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{} is not a collinfo.json (a JSON array of {{\"id\": \"CC-MAIN-…\", …}}): {e}", corpusminer_storage::redact_uri(&uri)))
}

/// The newest crawl of `crawls` (by `from`, else by id: `CC-MAIN-YYYY-WW` sorts by time) that
/// is a Common Crawl id, when it is not in `mined`. Only the newest counts: a schedule added
/// today mines the crawls published from now on, not the archive of every crawl before.
pub fn newest_unmined<'a>(crawls: &'a [CrawlInfo], mined: &[String]) -> Option<&'a CrawlInfo> {
    crawls
        .iter()
        .filter(|c| crate::inputs::check_crawl_id(&c.id).is_ok())
        .max_by(|a, b| a.from.as_deref().unwrap_or("").cmp(b.from.as_deref().unwrap_or("")).then_with(|| a.id.cmp(&b.id)))
        .filter(|c| !mined.contains(&c.id))
}

/// The newest iteration of the chain through `id`: from `id`, its newest child, repeatedly.
pub async fn chain_leaf(ms: &Metastore, id: i64) -> anyhow::Result<Iteration> {
    let mut it = ms.iteration(id).await?;
    loop {
        let children = ms.children(it.id).await?;
        match children.iter().max() {
            Some(&c) => it = ms.iteration(c).await?,
            None => return Ok(it),
        }
    }
}

/// The hosts of `proposed` no decided label covers (a label of the host or of a path under it).
pub fn unlabelled_hosts<'a>(proposed: &'a [String], decided: &[Annotation]) -> Vec<&'a String> {
    proposed.iter().filter(|h| !decided.iter().any(|a| prefix_on_host(&a.prefix, h))).collect()
}

/// What a `next-when-labelled` run of the chain through `chain` would do now: start the
/// iteration after the chain's newest one when that one is done, not converged (retention
/// `converge`, the paper's 0.98) and every host it proposed has a decided label; else skip,
/// saying why.
pub async fn next_when_labelled(ms: &Metastore, chain: i64, converge: f64) -> anyhow::Result<(JobStart, String)> {
    let leaf = chain_leaf(ms, chain).await?;
    let state = IterationState::parse(&leaf.state).ok_or_else(|| anyhow::anyhow!("iteration {} has unknown state {:?}", leaf.id, leaf.state))?;
    if !state.is_done() {
        return Ok((JobStart::Skip, format!("iteration {} is {state}", leaf.id)));
    }
    let report: serde_json::Value = leaf.report_json.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default();
    let retention = |k: &str| report["convergence"][k].as_f64();
    if let (Some(p), Some(t)) = (retention("retention_pages"), retention("retention_tokens")) {
        if p >= converge && t >= converge {
            return Ok((JobStart::Skip, format!("the chain converged at iteration {} (retention {:.1}% of pages, {:.1}% of tokens)", leaf.id, 100.0 * p, 100.0 * t)));
        }
    }
    let proposed: Vec<String> = report["proposed_hosts"].as_array().map(|a| a.iter().filter_map(|h| h["host"].as_str().map(str::to_string)).collect()).unwrap_or_default();
    let decided = ms.annotations(false).await?;
    let left = unlabelled_hosts(&proposed, &decided);
    if !left.is_empty() {
        return Ok((JobStart::Skip, format!("{} of the {} hosts iteration {} proposed have no decided label yet", left.len(), proposed.len(), leaf.id)));
    }
    Ok((JobStart::Iteration { crawl: leaf.crawl.clone(), config_json: leaf.config_json.clone(), parent: Some(leaf.id) }, format!("every host iteration {} proposed is labelled", leaf.id)))
}

/// What a `train` run of the chain through `chain` would do now: train on the newest done
/// iteration of the chain (its leaf, else the nearest done one above it); skip when none is
/// done. (The metastore skips an iteration the schedule trained on already.)
pub async fn next_training(ms: &Metastore, chain: i64) -> anyhow::Result<(JobStart, String)> {
    let mut it = chain_leaf(ms, chain).await?;
    loop {
        if IterationState::parse(&it.state).is_some_and(IterationState::is_done) {
            return Ok((JobStart::Train { iteration: it.id }, format!("training on iteration {}'s corpus", it.id)));
        }
        match it.parent_id {
            Some(p) => it = ms.iteration(p).await?,
            None => return Ok((JobStart::Skip, format!("no iteration of the chain through {chain} is done yet"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn due_slots_collapse_after_a_downtime_and_follow_the_time_zone() {
        let every_2s = CronSchedule::parse("*/2 * * * * *", "UTC").unwrap();
        let t0 = ms("2026-12-03T10:00:00Z");
        assert_eq!(every_2s.due(t0, t0 + 1_000), None);
        assert_eq!(every_2s.due(t0, t0 + 2_000), Some(t0 + 2_000));
        // Ten minutes down: one slot, the latest.
        assert_eq!(every_2s.due(t0, t0 + 600_500), Some(t0 + 600_000));
        // 03:00 every day in Paris is 02:00 UTC in winter, 01:00 UTC in summer.
        let paris = CronSchedule::parse("0 3 * * *", "Europe/Paris").unwrap();
        assert_eq!(paris.next_after(ms("2026-12-03T00:00:00Z")), Some(ms("2026-12-03T02:00:00Z")));
        assert_eq!(paris.next_after(ms("2026-07-03T00:00:00Z")), Some(ms("2026-07-03T01:00:00Z")));
        // A year down on a daily schedule is still one slot.
        assert_eq!(paris.due(ms("2025-12-03T00:00:00Z"), ms("2026-12-03T12:00:00Z")), Some(ms("2026-12-03T02:00:00Z")));
        assert!(CronSchedule::parse("61 * * * *", "UTC").unwrap_err().contains("cron expression"));
        assert!(CronSchedule::parse("* * * * *", "Mars/Olympus").unwrap_err().contains("time zone"));
    }

    #[test]
    fn retries_back_off_and_give_up() {
        assert_eq!(retry_at(0, 1, 1_000, MAX_ATTEMPTS), Some(1_000));
        assert_eq!(retry_at(0, 2, 1_000, MAX_ATTEMPTS), Some(2_000));
        assert_eq!(retry_at(0, 4, 1_000, MAX_ATTEMPTS), Some(8_000));
        assert_eq!(retry_at(0, MAX_ATTEMPTS, 1_000, MAX_ATTEMPTS), None);
        assert_eq!(retry_at(0, 3, 3_000_000, MAX_ATTEMPTS), Some(3_600_000));
    }

    #[test]
    fn only_the_newest_crawl_is_mined() {
        let c = |id: &str, from: Option<&str>| CrawlInfo { id: id.into(), name: String::new(), from: from.map(String::from) };
        let crawls = [c("CC-MAIN-2024-18", Some("2024-04-12T00:00:00")), c("CC-MAIN-2024-10", Some("2024-02-20T00:00:00")), c("not-a-crawl", Some("2030-01-01T00:00:00"))];
        assert_eq!(newest_unmined(&crawls, &[]).unwrap().id, "CC-MAIN-2024-18");
        assert_eq!(newest_unmined(&crawls, &["CC-MAIN-2024-10".into()]).unwrap().id, "CC-MAIN-2024-18");
        assert_eq!(newest_unmined(&crawls, &["CC-MAIN-2024-18".into()]), None, "older crawls are not back-filled");
        assert_eq!(newest_unmined(&crawls[1..2], &[]).unwrap().id, "CC-MAIN-2024-10");
    }

    #[test]
    fn schedules_are_checked_by_kind() {
        let spec = |kind, template: Option<serde_json::Value>, crawl_base: Option<&str>, chain| ScheduleSpec {
            name: "n".into(),
            kind,
            cron: "0 * * * *".into(),
            timezone: "UTC".into(),
            template,
            crawl_base: crawl_base.map(String::from),
            chain,
            created_by: "t".into(),
        };
        let keys = vec!["seed".to_string(), "threshold".to_string()];
        let err = |s: ScheduleSpec| check_schedule(&s, &keys).unwrap_err().0;
        assert!(check_schedule(&spec(JobKind::MineNewCrawl, Some(serde_json::json!({"seed": ["s.jsonl"]})), Some("/m"), None), &keys).is_ok());
        assert_eq!(err(spec(JobKind::MineNewCrawl, Some(serde_json::json!({"input": ["x"]})), Some("/m"), None)), "template.input");
        assert_eq!(err(spec(JobKind::MineNewCrawl, Some(serde_json::json!({"sed": 1})), Some("/m"), None)), "template.sed");
        assert_eq!(err(spec(JobKind::MineNewCrawl, None, Some("/m"), None)), "template");
        assert_eq!(err(spec(JobKind::MineNewCrawl, Some(serde_json::json!({})), None, None)), "crawl_base");
        assert_eq!(err(spec(JobKind::NextWhenLabelled, None, None, None)), "chain");
        assert_eq!(err(spec(JobKind::ExpireLeases, None, None, Some(1))), "chain");
        assert!(check_schedule(&spec(JobKind::Train, Some(serde_json::json!({"threshold": 1})), None, Some(1)), &keys).is_ok());
        assert!(check_schedule(&spec(JobKind::Train, None, None, Some(1)), &keys).is_ok());
        assert_eq!(err(spec(JobKind::Train, None, None, None)), "chain");
        assert_eq!(err(spec(JobKind::Train, Some(serde_json::json!({"source": "x"})), None, Some(1))), "template.source");
        let mut bad = spec(JobKind::ExpireLeases, None, None, None);
        bad.timezone = "Nowhere/Else".into();
        assert_eq!(err(bad), "timezone");
        let mut never = spec(JobKind::ExpireLeases, None, None, None);
        never.cron = "0 0 30 2 *".into();
        assert_eq!(check_schedule(&never, &keys).unwrap_err(), ("cron".to_string(), "cron expression \"0 0 30 2 *\" never fires (a day that no month has?)".to_string()));
        let mut named = spec(JobKind::ExpireLeases, None, None, None);
        named.name = "two\nlines".into();
        assert_eq!(err(named), "name");
        assert_eq!(check_schedule(&spec(JobKind::ExpireLeases, None, None, Some(1)), &keys).unwrap_err().1, "an expire-leases schedule takes no chain");
    }
}
