//! What a person watching an iteration sees: on a terminal, a spinner with the step and its
//! sub-step (reading seed files, drawing negatives, training epoch k of n), then a shard bar
//! with pages/s and an ETA; log lines go through the bar ([`LogWriter`]) so they never break it.
//! Without a terminal (stderr piped to a file, a scheduler), a progress line goes to the log
//! every [`LOG_EVERY`] and at every step change.

use corpusminer_worker::{grouped, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Without a terminal, how often a progress line goes to the log (besides one per step).
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Scoring time before a pages/s figure is shown (unless a shard is already done): the first
/// pages of a run, over a few milliseconds, would give an absurd rate.
pub const RATE_AFTER: Duration = Duration::from_secs(1);

/// How often the bar and the counters are refreshed.
const REFRESH: Duration = Duration::from_millis(200);

/// The bar log lines are printed above while it is shown (see [`LogWriter`]).
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Where `tracing` writes: stderr, above the progress bar while one is shown (the bar is
/// cleared, the line written, the bar drawn again), so a log line never breaks the bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| std::io::stderr().write_all(buf)).map(|()| buf.len()),
            _ => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// "4s", "3m 05s", "2h 07m": a duration to plan by, to the second under an hour.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The step's name (`preparing`, …, `scoring`, `selecting`); empty before the first.
    pub step: String,
    /// What the step is doing now.
    pub detail: String,
    /// Shards finished (done or failed), by every run of the iteration.
    pub shards: u64,
    /// Shards of the iteration; 0 until scoring starts.
    pub shards_total: u64,
    /// Pages scored by this process.
    pub pages: u64,
    /// Shard bytes read by this process.
    pub bytes: u64,
}

impl Snapshot {
    /// The counters of `p` now.
    pub fn of(p: &Progress) -> Self {
        let step = p.step();
        Snapshot {
            step: step.name,
            detail: step.detail,
            shards: p.shards.load(Ordering::Relaxed),
            shards_total: p.shards_total.load(Ordering::Relaxed),
            pages: p.pages.load(Ordering::Relaxed),
            bytes: p.bytes.load(Ordering::Relaxed),
        }
    }

    /// Whether the shard bar applies (scoring, with the shard count known).
    pub fn scoring(&self) -> bool {
        self.step == "scoring" && self.shards_total > 0
    }
}

/// When scoring started in this process, and what was done before it (a resumed iteration's
/// earlier shards do not count towards the rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoringClock {
    /// When this process started scoring.
    pub started: Instant,
    /// Shards finished before (by an earlier run).
    pub shards_before: u64,
}

impl ScoringClock {
    /// Pages per second of this run, once there is something to measure: [`RATE_AFTER`] of
    /// scoring, or a shard done.
    pub fn rate(&self, now: Instant, s: &Snapshot) -> Option<f64> {
        let secs = now.saturating_duration_since(self.started);
        let measured = secs >= RATE_AFTER || s.shards > self.shards_before;
        (measured && !secs.is_zero()).then(|| s.pages as f64 / secs.as_secs_f64())
    }

    /// Time left: this run's time per finished shard times the shards left; `None` before this
    /// run finished one.
    pub fn eta(&self, now: Instant, s: &Snapshot) -> Option<Duration> {
        let done = s.shards.saturating_sub(self.shards_before);
        if done == 0 {
            return None;
        }
        let left = s.shards_total.saturating_sub(s.shards);
        Some(now.saturating_duration_since(self.started).mul_f64(left as f64 / done as f64))
    }

    /// "3 of 8 shards, 12,345 pages, 41.2 MB, 850 pages/s, ETA 4m 10s" (the rate and ETA once
    /// known).
    pub fn text(&self, now: Instant, s: &Snapshot) -> String {
        let mut t = format!("{} pages, {:.1} MB", grouped(s.pages), s.bytes as f64 / 1e6);
        if let Some(rate) = self.rate(now, s) {
            t.push_str(&format!(", {} pages/s", grouped(rate.round() as u64)));
        }
        if s.shards < s.shards_total {
            match self.eta(now, s) {
                Some(eta) => t.push_str(&format!(", ETA {}", duration_text(eta))),
                None => t.push_str(", ETA after the first shard"),
            }
        }
        t
    }
}

/// A step and its detail in one line: "preparing: reading seed file 1 of 2 (…)".
fn step_text(s: &Snapshot) -> String {
    match (s.step.as_str(), s.detail.as_str()) {
        ("", _) => "starting".into(),
        (step, "") => step.into(),
        (step, detail) => format!("{step}: {detail}"),
    }
}

/// The log's progress lines when there is no terminal: one at every step change (and when the
/// shard count of scoring is known), and every [`LOG_EVERY`] within a step.
#[derive(Debug, Default)]
pub struct LogLines {
    /// The step (and whether its shards were counted) of the last line, and when it was logged.
    last: Option<((String, bool), Instant)>,
}

impl LogLines {
    /// The line to log now, if one is due.
    pub fn due(&mut self, now: Instant, s: &Snapshot, clock: Option<&ScoringClock>) -> Option<String> {
        if s.step.is_empty() {
            return None;
        }
        let key = (s.step.clone(), s.scoring());
        let due = match &self.last {
            None => true,
            Some((last, at)) => *last != key || now.saturating_duration_since(*at) >= LOG_EVERY,
        };
        if !due {
            return None;
        }
        self.last = Some((key, now));
        Some(line(now, s, clock))
    }
}

/// The progress line of `s`: the step, and while scoring its shards, pages, rate and ETA.
pub fn line(now: Instant, s: &Snapshot, clock: Option<&ScoringClock>) -> String {
    match clock {
        Some(c) if s.scoring() => format!("scoring: {} of {} shards done, {}", s.shards, s.shards_total, c.text(now, s)),
        _ => step_text(s),
    }
}

/// Scoring in this process as [`show`] saw it, read by [`done`] when the iteration ends.
#[derive(Debug, Default)]
pub(crate) struct Scoring {
    /// When scoring started, once it did.
    clock: Option<ScoringClock>,
    /// Whether the line of the finished scoring was logged.
    logged: bool,
}

/// [`Scoring`], shared by [`show`] and [`done`].
pub(crate) type SharedScoring = Arc<Mutex<Scoring>>;

/// The line of a finished scoring, `now` its end: "scored: 8 of 8 shards done, …".
fn scored_line(now: Instant, s: &Snapshot, clock: Option<&ScoringClock>) -> String {
    match clock {
        Some(c) => format!("scored: {} of {} shards done, {}", s.shards, s.shards_total, c.text(now, s)),
        None => format!("scored: {} of {} shards done, {} pages", s.shards, s.shards_total, grouped(s.pages)),
    }
}

/// Shows the progress of iteration `id` until aborted: on `bar` (hidden without a terminal)
/// and, with `log`, as lines in the log. Log lines go through the bar meanwhile.
pub(crate) async fn show(bar: ProgressBar, progress: Arc<Progress>, id: i64, log: bool, shared: SharedScoring) {
    let spinner = ProgressStyle::with_template("{spinner} iteration {prefix} {msg} ({elapsed})").expect("valid template");
    let scoring = ProgressStyle::with_template("{spinner} iteration {prefix} [{bar:30}] {pos}/{len} shards, {msg} ({elapsed})")
        .expect("valid template")
        .progress_chars("=> ");
    bar.set_style(spinner.clone());
    bar.set_prefix(id.to_string());
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    let (mut shown_step, mut clock, mut lines, mut spinning) = (None::<String>, None::<ScoringClock>, LogLines::default(), true);
    loop {
        let (now, s) = (Instant::now(), Snapshot::of(&progress));
        if shown_step.as_deref() != Some(s.step.as_str()) {
            // Each step's elapsed time counts from its start.
            bar.reset_elapsed();
            shown_step = Some(s.step.clone());
        }
        if s.scoring() {
            spinning = false;
            let c = *clock.get_or_insert_with(|| {
                bar.set_style(scoring.clone());
                bar.reset_elapsed();
                let c = ScoringClock { started: now, shards_before: s.shards };
                shared.lock().unwrap_or_else(|e| e.into_inner()).clock = Some(c);
                c
            });
            bar.set_length(s.shards_total);
            bar.set_position(s.shards);
            bar.set_message(c.text(now, &s));
        } else {
            if clock.is_some() && !spinning {
                bar.set_style(spinner.clone());
                spinning = true;
                if log {
                    // Scoring just ended: its line, with the rate over scoring alone.
                    shared.lock().unwrap_or_else(|e| e.into_inner()).logged = true;
                    tracing::info!(iteration = id, "progress: {}", scored_line(now, &s, clock.as_ref()));
                }
            }
            bar.set_message(step_text(&s));
        }
        bar.tick();
        if log {
            if let Some(l) = lines.due(now, &s, clock.as_ref()) {
                tracing::info!(iteration = id, "progress: {l}");
            }
        }
        tokio::time::sleep(REFRESH).await;
    }
}

/// When the iteration ends: the bar taken out of the log's way and, without a terminal, the
/// line of the finished scoring when [`show`] did not log it.
pub(crate) fn done(progress: &Progress, id: i64, log: bool, shared: &SharedScoring) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let s = Snapshot::of(progress);
    let scoring = shared.lock().unwrap_or_else(|e| e.into_inner());
    if log && s.shards_total > 0 && !scoring.logged {
        tracing::info!(iteration = id, "progress: {}", scored_line(Instant::now(), &s, scoring.clock.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_plans() {
        let t = |s| duration_text(Duration::from_secs(s));
        assert_eq!([t(0), t(59), t(60), t(185), t(3599), t(3600), t(7620), t(90_000)], ["0s", "59s", "1m 00s", "3m 05s", "59m 59s", "1h 00m", "2h 07m", "25h 00m"]);
    }

    fn scoring(shards: u64, total: u64, pages: u64) -> Snapshot {
        Snapshot { step: "scoring".into(), shards, shards_total: total, pages, bytes: 2_500_000, ..Default::default() }
    }

    #[test]
    fn no_rate_on_the_first_tick_and_an_eta_after_the_first_shard() {
        let t0 = Instant::now();
        let c = ScoringClock { started: t0, shards_before: 2 };
        // 50 ms in, 40 pages: no rate (it would read 800 pages/s), no ETA yet.
        let first = c.text(t0 + Duration::from_millis(50), &scoring(2, 10, 40));
        assert_eq!(first, "40 pages, 2.5 MB, ETA after the first shard");
        // A second in: a rate, still no ETA (no shard of this run done).
        assert_eq!(c.text(t0 + Duration::from_secs(2), &scoring(2, 10, 3_000)), "3,000 pages, 2.5 MB, 1,500 pages/s, ETA after the first shard");
        // 2 shards of this run in 60 s, 6 left: 3 minutes.
        let s = scoring(4, 10, 12_000);
        assert_eq!(c.eta(t0 + Duration::from_secs(60), &s), Some(Duration::from_secs(180)));
        assert_eq!(c.text(t0 + Duration::from_secs(60), &s), "12,000 pages, 2.5 MB, 200 pages/s, ETA 3m 00s");
        // A shard done before a second passed: the rate shows.
        assert!(c.rate(t0 + Duration::from_millis(500), &scoring(3, 10, 100)).is_some());
        // All done: no ETA.
        assert_eq!(c.eta(t0 + Duration::from_secs(90), &scoring(10, 10, 1)), Some(Duration::ZERO));
        assert_eq!(c.text(t0 + Duration::from_secs(100), &scoring(10, 10, 1_000)), "1,000 pages, 2.5 MB, 10 pages/s");
    }

    #[test]
    fn log_lines_at_each_step_and_every_few_seconds() {
        let t0 = Instant::now();
        let mut lines = LogLines::default();
        let step = |name: &str, detail: &str| Snapshot { step: name.into(), detail: detail.into(), ..Default::default() };
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(lines.due(at(0), &Snapshot::default(), None), None, "nothing before the first step");
        assert_eq!(lines.due(at(0), &step("preparing", "reading seed file 1 of 2 (a.jsonl), 0 documents so far"), None).as_deref(), Some("preparing: reading seed file 1 of 2 (a.jsonl), 0 documents so far"));
        assert_eq!(lines.due(at(3), &step("preparing", "reading seed file 2 of 2"), None), None, "same step, under LOG_EVERY");
        assert_eq!(lines.due(at(4), &step("training", "epoch 1 of 10 (3%)"), None).as_deref(), Some("training: epoch 1 of 10 (3%)"));
        assert_eq!(lines.due(at(13), &step("training", "x"), None), None);
        assert_eq!(lines.due(at(14), &step("training", "epoch 6 of 10 (50%)"), None).as_deref(), Some("training: epoch 6 of 10 (50%)"));
        // Scoring before its shards are counted, then at once with them.
        assert_eq!(lines.due(at(19), &step("scoring", ""), None).as_deref(), Some("scoring"));
        let c = ScoringClock { started: at(20), shards_before: 0 };
        assert_eq!(lines.due(at(20), &scoring(0, 4, 0), Some(&c)).as_deref(), Some("scoring: 0 of 4 shards done, 0 pages, 2.5 MB, ETA after the first shard"));
        assert_eq!(lines.due(at(29), &scoring(1, 4, 4_000), Some(&c)), None);
        assert_eq!(lines.due(at(40), &scoring(1, 4, 5_000), Some(&c)).as_deref(), Some("scoring: 1 of 4 shards done, 5,000 pages, 2.5 MB, 250 pages/s, ETA 1m 00s"));
    }
}
