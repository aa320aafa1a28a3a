//! Timing (wall and this thread's CPU time), resident memory, and the markdown tables printed.

/// One timed run: CPU seconds of the calling thread.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// CPU seconds of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): what the work cost one core,
    /// whatever else the machine was running meanwhile.
    pub cpu: f64,
}

impl Timing {
    /// `amount` per CPU second of the thread (the per-core rate).
    pub fn per_cpu_s(&self, amount: f64) -> f64 {
        amount / self.cpu.max(1e-9)
    }
}

/// CPU seconds this thread has used so far.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `f` `runs` times (at least once) on this thread and returns the last result with the
/// fastest run's timing (least CPU time): the figure least disturbed by other load.
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, Timing) {
    let mut best: Option<Timing> = None;
    let mut out = None;
    for _ in 0..runs.max(1) {
        let c0 = thread_cpu_seconds();
        let r = f();
        let t = Timing {
            cpu: thread_cpu_seconds() - c0,
        };
        if best.is_none_or(|b| t.cpu < b.cpu) {
            best = Some(t);
        }
        out = Some(r);
    }
    (
        out.expect("ran at least once"),
        best.expect("ran at least once"),
    )
}

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`), 0 if unknown.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One-minute load average, for the record of how busy the machine was.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Megabytes (10^6 bytes).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A markdown table: a title line, a header row, rows of cells, and notes under it.
#[derive(Debug, Default)]
pub struct Table {
    /// Printed as a `###` heading above the table.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells, one `Vec` per row, as many as `header`.
    pub rows: Vec<Vec<String>>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// An empty table with a title and column names.
    pub fn new(title: &str, header: &[&str]) -> Self {
        Table {
            title: title.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Appends a note line.
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// Prints the table as markdown, columns padded to their widest cell.
    pub fn print(&self) {
        let n = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "{:<w$}",
                        cells.get(i).map_or("", |s| s.as_str()),
                        w = width[i]
                    )
                })
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        println!("\n### {}\n", self.title);
        println!("{}", line(&self.header));
        println!(
            "|{}|",
            width
                .iter()
                .map(|w| "-".repeat(w + 2))
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            println!("{}", line(r));
        }
        if !self.notes.is_empty() {
            println!();
            for l in &self.notes {
                println!("{l}");
            }
        }
    }
}

/// Formats a float with `d` decimals.
pub fn f(x: f64, d: usize) -> String {
    format!("{x:.d$}")
}

/// Formats a count with thousands separators.
pub fn n(x: u64) -> String {
    let digits = x.to_string();
    let head = digits.len() % 3;
    let mut groups: Vec<&str> = Vec::new();
    if head > 0 {
        groups.push(&digits[..head]);
    }
    groups.extend(
        digits.as_bytes()[head..]
            .chunks(3)
            .map(|c| std::str::from_utf8(c).expect("ASCII digits")),
    );
    groups.join(",")
}

/// The build's configuration that matters to the figures: the optional alternatives built, and
/// whether zlib-rs has runtime CPU feature detection (its `std` feature, turned on by flate2's
/// `runtime_detection` or by fastwarc; the main workspace builds it without).
pub fn build_config() -> String {
    let on = |b: bool| if b { "yes" } else { "no" };
    format!(
        "zlib-rs runtime CPU detection: {}; fastwarc built: {}; zlib-ng built: {}",
        on(cfg!(feature = "runtime-detection") || cfg!(feature = "fastwarc")),
        on(cfg!(feature = "fastwarc")),
        on(cfg!(feature = "zlib-ng"))
    )
}
