//! The scheduler `serve` runs: every tick it runs each schedule's due slot and each failed run
//! whose retry is due (the rules are [`corpusminer_coordinator::scheduler`]'s; the metastore
//! claims each slot once across replicas), then sends the webhook deliveries that are due.

use crate::control::{Control, FieldError, RunRequest};
use corpusminer_coordinator::scheduler::{self, CronSchedule};
use corpusminer_storage::metastore::schedules::{DueDelivery, JobKind, JobRun, JobStart, Schedule, ScheduleSpec};
use corpusminer_storage::{Metastore, StorageConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// How the scheduler ticks.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Time between ticks.
    pub tick: Duration,
    /// First retry delay of a failed run or delivery, doubled per attempt (at most an hour).
    pub retry_base: Duration,
    /// This process, as written into the runs it claims (`host:pid`).
    pub holder: String,
    /// Retention at which `next-when-labelled` stops a chain (the paper's 0.98).
    pub converge: f64,
    /// Object-store settings for reading crawl bases.
    pub storage: StorageConfig,
    /// The binary `train` runs start as a process of its own (this one's).
    pub exe: std::path::PathBuf,
}

/// Attempts at a webhook delivery before it is marked failed.
pub const DELIVERY_ATTEMPTS: i64 = 8;

/// Timeout of one webhook request.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Header carrying `sha256=` + the hex HMAC-SHA256 of the body under the webhook's secret.
pub const SIGNATURE_HEADER: &str = "x-corpusminer-signature-256";

/// The signature header's value for `body` under `secret`: `sha256=<hex HMAC-SHA256>`
/// (RFC 2104), the way GitHub signs webhooks, so receivers verify with the usual code.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Ticks until the task is aborted.
pub async fn run(ms: Metastore, control: Arc<Control>, settings: SchedulerSettings) {
    let client = reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).user_agent(concat!("corpusminer/", env!("CARGO_PKG_VERSION"))).build().expect("an HTTP client");
    loop {
        if let Err(e) = tick(&ms, &control, &settings).await {
            tracing::warn!(error = %format!("{e:#}"), "scheduler tick failed; trying again next tick");
        }
        if let Err(e) = deliver(&ms, &client, &settings).await {
            tracing::warn!(error = %format!("{e:#}"), "webhook deliveries failed; trying again next tick");
        }
        tokio::time::sleep(settings.tick).await;
    }
}

/// One tick: each schedule's due slot, then each due retry.
pub async fn tick(ms: &Metastore, control: &Control, settings: &SchedulerSettings) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    for s in ms.schedules().await? {
        let cron = match CronSchedule::parse(&s.spec.cron, &s.spec.timezone) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(schedule = %s.spec.name, error = %e, "schedule skipped");
                continue;
            }
        };
        let after = ms.last_slot(s.id).await?.unwrap_or(s.created_at_ms);
        if let Some(slot) = cron.due(after, now) {
            attempt(ms, control, settings, &s, Attempt::First(slot)).await?;
        }
    }
    for run in ms.due_retries().await? {
        let s = ms.schedule(run.schedule_id).await?;
        attempt(ms, control, settings, &s, Attempt::Retry(run)).await?;
    }
    Ok(())
}

enum Attempt {
    First(i64),
    Retry(JobRun),
}

async fn attempt(ms: &Metastore, control: &Control, settings: &SchedulerSettings, s: &Schedule, attempt: Attempt) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let base = settings.retry_base.as_millis() as i64;
    let holder = settings.holder.as_str();
    let name = s.spec.name.as_str();
    match prepare(ms, control, settings, s).await {
        Err(e) => {
            let error = format!("{e:#}");
            match attempt {
                Attempt::First(slot) => {
                    if ms.fail_run(s.id, slot, holder, &error, scheduler::retry_at(now, 1, base, scheduler::MAX_ATTEMPTS)).await?.is_some() {
                        tracing::warn!(schedule = name, slot, error = %error, "job failed; it will be retried");
                    }
                }
                Attempt::Retry(run) => {
                    let retry = scheduler::retry_at(now, run.attempts + 1, base, scheduler::MAX_ATTEMPTS);
                    if ms.fail_retry(&run, holder, &error, retry).await? {
                        tracing::warn!(schedule = name, run = run.id, attempts = run.attempts + 1, gave_up = retry.is_none(), error = %error, "job failed again");
                    }
                }
            }
        }
        Ok(Prepared { start, outcome, live, train }) => {
            let claimed = match &attempt {
                Attempt::First(slot) => ms.claim_run(s.id, *slot, holder, &start, &outcome).await?,
                Attempt::Retry(run) => ms.claim_retry(run, holder, &start, &outcome).await?,
            };
            if let Some(c) = claimed {
                tracing::info!(schedule = name, run = c.run_id, iteration = ?c.iteration, train = ?c.train, outcome = %outcome, "job ran");
                if let Some(id) = c.iteration {
                    control.drivers.start(id, false, live);
                }
                if let (Some(iteration), Some(argv)) = (c.train, train) {
                    let run = ClaimedRun {
                        ms: ms.clone(),
                        id: c.run_id,
                        attempts: match &attempt {
                            Attempt::First(_) => 1,
                            Attempt::Retry(run) => run.attempts + 1,
                        },
                        retry_base_ms: base,
                    };
                    if let Err(e) = launch_training(&settings.exe, &argv, name, iteration, run.clone()) {
                        run.failed(&format!("starting `corpusminer train`: {e:#}")).await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// What a run of a schedule would do now.
struct Prepared {
    /// What its claiming transaction does.
    start: JobStart,
    /// What it does, in words.
    outcome: String,
    /// The live config of a new iteration (with credentials) to drive it with.
    live: Option<corpusminer_coordinator::RunConfig>,
    /// The arguments of the `corpusminer train` process to start once claimed.
    train: Option<Vec<String>>,
}

impl Prepared {
    fn of(start: JobStart, outcome: String) -> Self {
        Prepared { start, outcome, live: None, train: None }
    }
}

/// A claimed run whose work goes on after its claim (a training process): what marks it
/// failed, with a retry, when that work fails.
#[derive(Clone)]
struct ClaimedRun {
    ms: Metastore,
    id: i64,
    attempts: i64,
    retry_base_ms: i64,
}

impl ClaimedRun {
    /// Records the run failed with `error` (retried with backoff, or given up) and sends
    /// `job.failed`; a store error is logged.
    async fn failed(&self, error: &str) {
        let retry = scheduler::retry_at(chrono::Utc::now().timestamp_millis(), self.attempts, self.retry_base_ms, scheduler::MAX_ATTEMPTS);
        tracing::warn!(run = self.id, error = %error, retry_at = ?retry, "job failed after its claim");
        if let Err(e) = self.ms.fail_claimed_run(self.id, error, retry).await {
            tracing::warn!(run = self.id, error = %e, "the failed job run could not be recorded");
        }
    }
}

/// Starts `exe ARGV` (a `corpusminer train`) as a process of its own, its output in a log file
/// beside its `--out` folder; a task reaps it: a process that fails fails `run` (so it is
/// retried, and `job.failed` is sent). The process outlives this server: it records its
/// progress and end in the metastore itself.
fn launch_training(exe: &std::path::Path, argv: &[String], schedule: &str, iteration: i64, run: ClaimedRun) -> anyhow::Result<u32> {
    let out = argv.iter().find_map(|a| a.strip_prefix("--out=")).ok_or_else(|| anyhow::anyhow!("no --out in {argv:?}"))?;
    let log_path = std::path::PathBuf::from(format!("{out}.log"));
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let log = std::fs::File::create(&log_path).map_err(|e| anyhow::anyhow!("creating {}: {e}", log_path.display()))?;
    let mut child = tokio::process::Command::new(exe)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("{}: {e}", exe.display()))?;
    let pid = child.id().unwrap_or_default();
    tracing::info!(schedule, iteration, pid, log = %log_path.display(), "training started");
    let schedule = schedule.to_string();
    tokio::spawn(async move {
        match child.wait().await {
            Ok(status) if status.success() => tracing::info!(schedule = %schedule, iteration, pid, "training finished"),
            Ok(status) => run.failed(&format!("`corpusminer train` on iteration {iteration} ended with {status}; its log: {}", log_path.display())).await,
            Err(e) => run.failed(&format!("`corpusminer train` on iteration {iteration} (pid {pid}) was lost: {e}")).await,
        }
    });
    Ok(pid)
}

/// The chain a `next-when-labelled` or `train` schedule follows.
fn chain_of(s: &Schedule) -> anyhow::Result<i64> {
    s.spec.chain.ok_or_else(|| anyhow::anyhow!("schedule {} names no chain", s.spec.name))
}

/// What a run of `s` would do now.
async fn prepare(ms: &Metastore, control: &Control, settings: &SchedulerSettings, s: &Schedule) -> anyhow::Result<Prepared> {
    match s.spec.kind {
        JobKind::ExpireLeases => Ok(Prepared::of(JobStart::ExpireShardLeases, "expired shard leases released".into())),
        JobKind::NextWhenLabelled => {
            let chain = chain_of(s)?;
            let (start, outcome) = scheduler::next_when_labelled(ms, chain, settings.converge).await?;
            Ok(Prepared::of(start, outcome))
        }
        JobKind::Train => {
            let chain = chain_of(s)?;
            let (start, outcome) = scheduler::next_training(ms, chain).await?;
            let JobStart::Train { iteration } = start else { return Ok(Prepared::of(start, outcome)) };
            let template = s.spec.template_fields();
            let argv = control.run_request.train_command(&template, iteration, &s.spec.name).map_err(|e| anyhow::anyhow!("the template: {}: {}", e.field, e.message))?;
            Ok(Prepared { start, outcome, live: None, train: Some(argv) })
        }
        JobKind::MineNewCrawl => {
            let base = s.spec.crawl_base.clone().ok_or_else(|| anyhow::anyhow!("schedule {} names no crawl base", s.spec.name))?;
            let crawls = scheduler::collinfo(&base, &settings.storage).await?;
            let mined = ms.mined_crawls().await?;
            let Some(crawl) = scheduler::newest_unmined(&crawls, &mined) else {
                return Ok(Prepared::of(JobStart::Skip, format!("the newest crawl of {base}/collinfo.json ({} listed) is mined already", crawls.len())));
            };
            let mut body = s.spec.template_fields();
            body.insert("crawl".into(), crawl.id.clone().into());
            body.insert("crawl_base".into(), base.clone().into());
            let parser = control.run_request.clone();
            let cfg = tokio::task::spawn_blocking(move || parser.config(&body)).await?.map_err(|e| anyhow::anyhow!("the template with crawl {}: {}: {}", crawl.id, e.field, e.message))?;
            let config_json = corpusminer_coordinator::driver::stored_config(&cfg)?;
            Ok(Prepared { start: JobStart::Iteration { crawl: crawl.id.clone(), config_json, parent: None }, outcome: format!("{} is new in {base}/collinfo.json", crawl.id), live: Some(cfg), train: None })
        }
    }
}

/// Checks what a schedule's first run would need, before it is stored: a `mine-new-crawl`
/// template is read as `POST /iterations` reads its body (with a stand-in crawl) and the crawl
/// base's `collinfo.json` is read; a `train` template is read as `corpusminer train` reads its
/// flags. Blocking parts run off the runtime. Errors: (field, message), the field
/// `template.<name>` or `crawl_base`.
pub async fn check_template(run_request: Arc<dyn RunRequest>, spec: &ScheduleSpec, storage: &StorageConfig) -> Result<(), (String, String)> {
    let template = spec.template_fields();
    let in_template = |e: FieldError| (if e.field == "body" { "template".to_string() } else { format!("template.{}", e.field) }, e.message);
    match spec.kind {
        JobKind::MineNewCrawl => {
            let base = spec.crawl_base.clone().unwrap_or_default();
            let mut body = template;
            body.insert("crawl".into(), "CC-MAIN-2000-01".into());
            body.insert("crawl_base".into(), base.clone().into());
            let checked = tokio::task::spawn_blocking(move || run_request.config(&body)).await.map_err(|e| ("template".to_string(), e.to_string()))?;
            checked.map_err(in_template)?;
            scheduler::collinfo(&base, storage).await.map_err(|e| ("crawl_base".to_string(), format!("{e:#}")))?;
        }
        JobKind::Train => {
            run_request.train_command(&template, 1, &spec.name).map_err(in_template)?;
        }
        JobKind::NextWhenLabelled | JobKind::ExpireLeases => {}
    }
    Ok(())
}

/// Sends the deliveries that are due, each claimed by this replica for twice the timeout.
pub async fn deliver(ms: &Metastore, client: &reqwest::Client, settings: &SchedulerSettings) -> anyhow::Result<()> {
    let due = ms.claim_deliveries(16, 2 * DELIVERY_TIMEOUT.as_millis() as i64).await?;
    for d in due {
        let (ok, status, error) = send(client, &d).await;
        let now = chrono::Utc::now().timestamp_millis();
        let retry = (!ok).then(|| scheduler::retry_at(now, d.delivery.attempts + 1, settings.retry_base.as_millis() as i64, DELIVERY_ATTEMPTS)).flatten();
        ms.finish_delivery(d.delivery.id, ok, status, error.as_deref(), retry).await?;
        if ok {
            tracing::info!(delivery = d.delivery.id, event = %d.delivery.event, url = %corpusminer_storage::redact_uri(&d.url), "webhook delivered");
        } else {
            tracing::warn!(delivery = d.delivery.id, event = %d.delivery.event, url = %corpusminer_storage::redact_uri(&d.url), status = ?status, error = ?error, retry_at = ?retry, "webhook delivery failed");
        }
    }
    Ok(())
}

async fn send(client: &reqwest::Client, d: &DueDelivery) -> (bool, Option<u16>, Option<String>) {
    let sent = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("x-corpusminer-event", &d.delivery.event)
        .header("x-corpusminer-delivery", d.delivery.id.to_string())
        .header(SIGNATURE_HEADER, signature(&d.secret, d.delivery.body.as_bytes()))
        .body(d.delivery.body.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => (true, Some(r.status().as_u16()), None),
        Ok(r) => (false, Some(r.status().as_u16()), Some(format!("the receiver answered {}", r.status()))),
        Err(e) => (false, None, Some(corpusminer_storage::redact_text(&e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(super::signature("Jefe", b"what do ya want for nothing?"), "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
