//! The `corpusminer` command line: one typed config from flags and environment, a subcommand
//! per role. `main.rs` only builds the runtime; tests call [`execute`] directly.

pub mod annotate;
pub mod bench;
pub mod bench_corpus;
pub mod domains;
pub mod export;
pub mod iterate;
pub mod progress;
mod run;
pub mod run_request;
pub mod schedule;
pub mod serve;
pub mod train;

use clap::{Args, Parser, Subcommand};
pub use annotate::{annotate, AnnotateCommand};
pub use bench::{bench, BenchArgs, BenchResult};
pub use domains::{domains, DomainsCommand};
pub use iterate::{DeleteArgs, IterateArgs, IterationArgs, ResumeArgs, StatusArgs, SummaryArgs};
pub use run::RunArgs;

/// corpusminer: mine a domain corpus (mathematics first) out of Common Crawl, the way
/// DeepSeekMath built its math corpus: a fastText classifier trained on a seed corpus scores every
/// page of a crawl, the best pages are kept, and hosts where many pages were kept are proposed
/// for annotation.
#[derive(Debug, Parser)]
#[command(name = "corpusminer", version, propagate_version = true)]
pub struct Cli {
    /// More logging (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the first iteration of a chain in one process: list shards, train the classifier (or
    /// load --model), score every page, select by token budget or threshold, propose hosts, and
    /// write the corpus, its manifest and a report.
    Run(Box<RunArgs>),
    /// Run the next iteration: the seed grows by the unkept pages under prefixes annotated math
    /// and loses those under prefixes annotated not math; negatives are drawn anew. With
    /// --until-converged, repeat until retention reaches --converge (or --max-iterations).
    Iterate(IterateArgs),
    /// Resume an iteration a killed or failed process left, at the step it stopped in.
    Resume(ResumeArgs),
    /// Cancel an iteration: a process running it stops at its next shard or step.
    Cancel(IterationArgs),
    /// Delete a finished or cancelled iteration: its files in the output store and its rows
    /// (refused for an iteration others grew from, unless --recursive deletes them too).
    Delete(DeleteArgs),
    /// The iterations of the metastore (state, pages, kept, retention), or one in detail.
    Status(StatusArgs),
    /// Measure text extraction on ../shared/data: token F1 against the article reference texts,
    /// formula recall on the math pages, and character F1 on the Chinese article and forum pages.
    EvalExtraction(EvalArgs),
    /// Benchmark the worker pipeline stage by stage (gzip, WARC, HTTP, charset, HTML to text,
    /// language identification, normalisation, scoring) on one core and on all cores, optionally beside the peers
    /// (fastwarc + resiliparse + fastText, datatrove) on the same bytes; or, with
    /// `--corpus-rows N`, corpus writing on a synthetic iteration of N scored pages (peak RSS).
    Bench(BenchArgs),
    /// Hosts proposed for annotation (kept ratio above --domain-ratio): list or export them with
    /// their counts and best kept pages.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// URL path prefixes marked math or not math: import them from a CSV or JSON file, list them.
    #[command(subcommand)]
    Annotate(AnnotateCommand),
    /// Train a small decoder-only transformer on corpus snapshots (weighted sources, streamed),
    /// with checkpoints, bits-per-byte evaluation on held-out math and web text, a report and
    /// a plot; or `train compare` corpora the paper's way, `train derive` the corpora to compare
    /// against, `train export` a Hugging Face folder.
    Train(train::TrainArgs),
    /// Sample text from a checkpoint or an exported model (temperature, top-p, seed).
    Generate(train::GenerateArgs),
    /// Serve the HTTP API (JSON under /api/v1, OpenAPI document at /api/v1/openapi.json, metrics at
    /// /metrics) and the web UI (/ui) on the metastore of --out or --db, and drive the iterations
    /// started there; every route but health and metrics needs a token from `admin token create`.
    Serve(serve::ServeArgs),
    /// Administration: the API's bearer tokens.
    #[command(subcommand)]
    Admin(serve::AdminCommand),
    /// Scheduled jobs `serve` runs (cron with a time zone, once per slot across replicas): add,
    /// list, remove, and their runs.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Write an iteration's corpus in another format: Parquet, the dolma fields as columns.
    Export(export::ExportArgs),
}

/// Arguments of `eval-extraction`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The shared data folder (holding html-extraction/ and html-math/).
    #[arg(long, env = "CORPUSMINER_SHARED_DATA", default_value = DEFAULT_DATA)]
    pub data: std::path::PathBuf,
    /// Print one line per page.
    #[arg(long)]
    pub per_page: bool,
}

/// Where `--data` (the shared data folder) is by default: beside the checkout, as
/// `cargo run` from the repository root sees it.
pub const DEFAULT_DATA: &str = "../shared/data";

/// Checks that `dir`, the shared data folder given as `--data`, as `CORPUSMINER_SHARED_DATA`
/// or by default ([`DEFAULT_DATA`]), holds `needs` (paths relative to it). The error names the
/// folder as it was given and where from, the absolute path it was looked for at, what it
/// lacks, and what to give instead.
pub fn check_data_dir(dir: &std::path::Path, needs: &[&str]) -> anyhow::Result<()> {
    let Some(lacks) = corpusminer_pipeline::testdata::data_dir_lacks(dir, needs) else { return Ok(()) };
    let given = if std::env::var_os("CORPUSMINER_SHARED_DATA").is_some_and(|v| std::path::Path::new(&v) == dir) {
        format!("CORPUSMINER_SHARED_DATA={}", dir.display())
    } else if dir == std::path::Path::new(DEFAULT_DATA) {
        format!("{DEFAULT_DATA} (the default --data)")
    } else {
        format!("--data {}", dir.display())
    };
    // Where that is, `..` resolved by name (the folder may not exist, so not canonicalized).
    let mut at = std::path::PathBuf::new();
    for part in std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).components() {
        match part {
            std::path::Component::ParentDir => {
                at.pop();
            }
            std::path::Component::CurDir => {}
            other => at.push(other),
        }
    }
    let at = at.display();
    anyhow::bail!(
        "the shared data folder {given}, looked for at {at}, {lacks}: give --data DIR or set CORPUSMINER_SHARED_DATA to the shared `data` folder (the one holding PROVENANCE.md, {})",
        {
            let mut folders: Vec<&str> = needs.iter().map(|n| n.split('/').next().unwrap_or(n)).filter(|n| *n != "PROVENANCE.md").collect();
            folders.dedup();
            folders.join(", ")
        }
    )
}

/// Sets up `tracing` to stderr (above the progress bar while one is shown): info for
/// corpusminer, warn for libraries, unless RUST_LOG is set.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "warn,corpusminer_cli={level},corpusminer_coordinator={level},corpusminer_worker={level},corpusminer_storage={level},corpusminer_pipeline={level}"
        ))
    });
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(progress::LogWriter).with_ansi(std::io::stderr().is_terminal()).with_target(false).try_init();
}

/// Runs one iteration without a progress bar (for tests and embedding) and returns its report.
pub async fn run_iteration(args: RunArgs) -> anyhow::Result<corpusminer_coordinator::Report> {
    run::run(args, false).await
}

/// How a command that ran to its end went: everything done, or an iteration whose corpus
/// covers only some shards because others failed (exit status 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything done (exit status 0).
    Done,
    /// Some shards failed; the corpus covers the rest (exit status 3).
    ShardsFailed,
}

impl Finished {
    /// `ShardsFailed` when any of `reports` has failed shards.
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a corpusminer_coordinator::Report>) -> Self {
        if reports.into_iter().any(|r| r.shards_failed > 0) {
            Finished::ShardsFailed
        } else {
            Finished::Done
        }
    }

    /// The process exit status: 0 or 3 (an error is 1).
    pub fn exit_code(self) -> u8 {
        match self {
            Finished::Done => 0,
            Finished::ShardsFailed => 3,
        }
    }
}

/// Runs a parsed command line. `run`, `iterate` and `resume` answer [`Finished::ShardsFailed`]
/// when an iteration's corpus lacks failed shards; an iteration whose every shard failed is an
/// error (it fails, and `resume` retries it).
pub async fn execute(cli: Cli) -> anyhow::Result<Finished> {
    let done = Ok(Finished::Done);
    match cli.command {
        Command::Run(args) => {
            let loc = domains::store_flags(&args.out, args.db.as_deref());
            let min_host_pages = args.summary.min_host_pages;
            let report = run::run(*args, true).await?;
            println!("{}", report.summary(min_host_pages));
            if report.shards_failed > 0 {
                println!(
                    "{} of {} shards failed (listed above); the corpus covers the rest. `corpusminer resume {} {loc}` retries them",
                    report.shards_failed,
                    report.shards_failed + report.shards_done,
                    report.iteration
                );
            }
            if !report.proposed_hosts.is_empty() {
                println!(
                    "{} hosts proposed for annotation: review them with `corpusminer domains list {loc}`, label URL prefixes with `corpusminer annotate import FILE {loc}`, then run `corpusminer iterate {loc}`",
                    report.proposed_hosts.len()
                );
            }
            Ok(Finished::of([&report]))
        }
        Command::Iterate(args) => {
            let (text, reports) = iterate::iterate(args, true).await?;
            print!("{text}");
            Ok(Finished::of(&reports))
        }
        Command::Resume(args) => {
            let (text, report) = iterate::resume(args, true).await?;
            print!("{text}");
            Ok(Finished::of(report.as_ref()))
        }
        Command::Cancel(args) => {
            print!("{}", iterate::cancel(args).await?);
            done
        }
        Command::Delete(args) => {
            print!("{}", iterate::delete(args).await?);
            done
        }
        Command::Status(args) => {
            print!("{}", iterate::status(args).await?);
            done
        }
        Command::Serve(args) => {
            serve::serve(args).await?;
            done
        }
        Command::Admin(cmd) => {
            print!("{}", serve::admin(cmd).await?);
            done
        }
        Command::Schedule(cmd) => {
            print!("{}", schedule::schedule(cmd).await?);
            done
        }
        Command::Export(args) => {
            print!("{}", export::export(args).await?);
            done
        }
        Command::EvalExtraction(args) => {
            check_data_dir(&args.data, &["html-extraction/ground-truth.json", "html-extraction/html", "html-math/INDEX.tsv"])?;
            let data = args.data.clone();
            let report = tokio::task::spawn_blocking(move || corpusminer_pipeline::extract::eval::evaluate(&data)).await??;
            println!("{}", if args.per_page { report.to_string() } else { report.summary() });
            done
        }
        Command::Bench(args) if args.corpus.corpus_rows.is_some() => {
            check_data_dir(&args.data, &["html-extraction/ground-truth.json"])?;
            bench_corpus::bench_corpus(&args.corpus, &args.data, args.json.as_deref()).await?;
            done
        }
        Command::Bench(args) => {
            if args.inputs.is_empty() {
                check_data_dir(&args.data, &["minicrawl"])?;
            }
            tokio::task::spawn_blocking(move || bench::bench(args)).await??;
            done
        }
        Command::Domains(cmd) => {
            print!("{}", domains(cmd).await?);
            done
        }
        Command::Annotate(cmd) => {
            print!("{}", annotate(cmd).await?);
            done
        }
        Command::Train(args) => {
            print!("{}", train::train(args).await?);
            done
        }
        Command::Generate(args) => {
            println!("{}", tokio::task::spawn_blocking(move || train::generate_text(args)).await??);
            done
        }
    }
}
