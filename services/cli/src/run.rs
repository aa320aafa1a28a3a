//! `corpusminer run`: the first iteration of a chain, in one process, coordinator and workers
//! together (`corpusminer iterate` runs the next ones, `resume` one that stopped).

use clap::Args;
use corpusminer_coordinator::filters::{parse_benchmark_arg, CorpusFilters, NearDupSettings};
use corpusminer_coordinator::iteration::default_db_url;
use corpusminer_coordinator::{create_first, Report, RunConfig, Selector, TrainOverrides};
use corpusminer_pipeline::decontam::BenchmarkSpec;
use corpusminer_storage::{Metastore, StorageConfig};

/// Arguments of `corpusminer run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Seed (positive) documents: JSONL (plain, .gz, .zst) or text files. Repeatable.
    #[arg(long = "seed", value_name = "FILE", num_args = 1.., required_unless_present = "model")]
    pub seeds: Vec<String>,
    /// Negative documents, same formats as --seed. Repeatable.
    #[arg(long = "negatives", value_name = "FILE", num_args = 1.., required_unless_present_any = ["model", "negatives_from_crawl"])]
    pub negatives: Vec<String>,
    /// Draw N negatives at random (seeded) from the crawl's own pages, as the paper did; adds to
    /// --negatives.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub negatives_from_crawl: usize,
    /// Shards read (a seeded sample) to draw --negatives-from-crawl pages from.
    #[arg(long, value_name = "K", default_value_t = 4)]
    pub negative_shards: usize,
    /// Shards: local paths or globs, s3://bucket/key, or https:// URLs. Repeatable.
    #[arg(long = "input", value_name = "SHARD", num_args = 1..)]
    pub inputs: Vec<String>,
    /// Read this crawl's shard listing (warc.paths.gz), e.g. CC-MAIN-2024-10.
    #[arg(long, value_name = "CC-MAIN-YYYY-WW")]
    pub crawl: Option<String>,
    /// Where --crawl listings and shards are read from: Common Crawl's HTTPS host, or a mirror
    /// (s3://commoncrawl/, a local folder with the same layout).
    #[arg(long, default_value = corpusminer_coordinator::inputs::COMMON_CRAWL_BASE, env = "CORPUSMINER_CRAWL_BASE", hide_env_values = true)]
    pub crawl_base: String,
    /// Take only N shards of --crawl, drawn at random with --random-seed.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Name recorded as the crawl of --input shards.
    #[arg(long)]
    pub crawl_name: Option<String>,
    /// Output folder (or s3:// prefix with --db): corpus/, report.json, iterations/.
    #[arg(long, default_value = "out")]
    pub out: String,
    /// Metastore: sqlite://FILE or postgres://USER@HOST/DB. Default: SQLite in --out.
    #[arg(long, env = "CORPUSMINER_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// Start another chain in a metastore that already holds one (by default a second `run`
    /// into a used --out is refused: `corpusminer iterate` continues the chain there).
    #[arg(long)]
    pub new_chain: bool,
    /// Keep the best pages whose tokens fit in N.
    #[arg(long, value_name = "N", conflicts_with = "threshold")]
    pub token_budget: Option<u64>,
    /// Keep pages scoring at least S (P(math), 0..1). Without this or --token-budget, the
    /// threshold that maximised F1 on the classifier's validation split is used.
    #[arg(long, value_name = "S")]
    pub threshold: Option<f64>,
    /// Reuse a trained fastText model (.bin) instead of training one.
    #[arg(long, value_name = "FILE")]
    pub model: Option<String>,
    /// A Hugging Face tokenizer.json: token budgets and counts use its tokens instead of
    /// whitespace-separated words.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<String>,
    /// Labels TSV (columns url and label = math|nonmath): the report adds precision and recall.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<String>,
    /// Propose a host for annotation when more than this share of its pages is kept.
    #[arg(long, default_value_t = 0.10)]
    pub domain_ratio: f64,
    #[command(flatten)]
    pub summary: crate::iterate::SummaryArgs,
    /// Score only pages in these languages (ISO 639-1 codes, comma-separated: `en,zh`); the
    /// others are counted per language and skipped as language_not_selected. Default: every
    /// language. `und` names pages with too little prose to tell.
    #[arg(long, value_name = "CODES", value_parser = parse_languages)]
    pub languages: Option<Languages>,
    /// Store the text of pages scoring at least this (0: all pages). Lower than any threshold
    /// you will select at.
    #[arg(long, default_value_t = 0.0)]
    pub text_floor: f32,
    /// Seed of every random draw: shard sample, training split, fastText.
    #[arg(long, default_value_t = 42)]
    pub random_seed: u64,
    /// JSON fields holding a document's text, tried in order; `a+b` joins two fields.
    /// The defaults read dolma and CCNet (raw_content) text, GSM8K, StackMathQA, MATH, TAL-SCQ5K (problem+answer_analysis),
    /// Ape210K (original_text+equation) and CMATH-style question-only files.
    #[arg(long, value_delimiter = ',', default_value = "text,raw_content,question+answer,Q+A,problem+solution,problem+answer_analysis,original_text+equation,question")]
    pub text_fields: Vec<String>,
    /// Plain-text --seed/--negatives files hold one document per line (default: per blank-line
    /// separated block).
    #[arg(long)]
    pub doc_per_line: bool,
    /// Start from the paper's fastText settings (dim 256, lr 0.1, wordNgrams 3, minCount 3,
    /// epoch 3, 2M buckets) instead of settings adapted to the seed's size.
    #[arg(long)]
    pub paper_settings: bool,
    /// fastText embedding dimension.
    #[arg(long)]
    pub dim: Option<u32>,
    /// fastText learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// fastText epochs.
    #[arg(long)]
    pub epoch: Option<u32>,
    /// fastText word n-gram length.
    #[arg(long)]
    pub word_ngrams: Option<u32>,
    /// fastText minimum word count.
    #[arg(long)]
    pub min_count: Option<u32>,
    /// fastText hash buckets (model size = buckets x dim x 4 bytes).
    #[arg(long)]
    pub bucket: Option<u32>,
    /// fastText training threads (1 keeps training reproducible).
    #[arg(long)]
    pub train_threads: Option<u32>,
    /// Shards scored at once (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// S3 endpoint for S3-compatible servers (path-style addressing). AWS_ENDPOINT_URL also works.
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
    /// Attempts to resume a broken shard stream (within one attempt at the shard).
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    /// Attempts at a shard whose stream breaks for good before it is failed (each failed
    /// attempt puts it back in the queue). An empty or non-WARC shard fails at once.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_attempts: u32,
    /// Near-duplicate removal of the kept pages: two pages whose word 5-gram sets have an
    /// estimated Jaccard similarity (MinHash, 14 bands x 8 rows) of at least J are one page, and
    /// the higher-scoring one is kept. Below about 0.7, 14 x 8 banding misses many such pairs.
    #[arg(long, value_name = "J", default_value_t = 0.8)]
    pub near_dup_threshold: f64,
    /// No near-duplicate removal (exact URL and text dedup still run).
    #[arg(long)]
    pub no_near_dup: bool,
    /// Memory budget of near-duplicate removal, in LSH band rows (24 bytes each) held at once;
    /// band rows are split into enough partitions on disk that each fits.
    #[arg(long, value_name = "ROWS", default_value_t = 4_000_000)]
    pub near_dup_max_rows: usize,
    /// A decontamination benchmark, NAME=PATH[:FIELD+FIELD]: a JSONL file whose FIELDS (default:
    /// question+answer, problem+solution or text, whichever the first record has) are benchmark
    /// texts. A paragraph sharing a 10-gram with one (or containing a whole 3-9-word one) is
    /// removed. Repeatable; a NAME of a default benchmark (gsm8k, math, math500) replaces it.
    #[arg(long = "benchmark", value_name = "NAME=PATH[:FIELDS]", value_parser = parse_benchmark_arg)]
    pub benchmarks: Vec<BenchmarkSpec>,
    /// Do not decontaminate against the default benchmarks (GSM8K test, MATH test, MATH-500,
    /// compiled into the binary); with no --benchmark either, nothing is decontaminated.
    #[arg(long)]
    pub no_default_benchmarks: bool,
    /// A document that loses more than this share (0..1) of its characters to decontamination
    /// is dropped whole.
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    pub decontam_drop_fraction: f64,
}

impl RunArgs {
    /// The typed config of this run.
    pub fn config(&self) -> RunConfig {
        let selector = match (self.token_budget, self.threshold) {
            (Some(n), _) => Some(Selector::TokenBudget(n)),
            (None, Some(s)) => Some(Selector::Threshold(s)),
            (None, None) => None,
        };
        let mut storage = StorageConfig::default();
        storage.s3_endpoint = self.s3_endpoint.clone();
        RunConfig {
            seeds: self.seeds.clone(),
            negatives: self.negatives.clone(),
            negatives_from_crawl: self.negatives_from_crawl,
            negative_shards: self.negative_shards,
            inputs: self.inputs.clone(),
            crawl: self.crawl.clone(),
            crawl_base: self.crawl_base.clone(),
            shards: self.shards,
            sample_seed: self.random_seed,
            crawl_name: self.crawl_name.clone(),
            out: self.out.clone(),
            db: self.db.clone(),
            selector,
            model: self.model.clone(),
            tokenizer: self.tokenizer.clone(),
            labels: self.labels.clone(),
            domain_ratio: self.domain_ratio,
            text_floor: self.text_floor,
            languages: self.languages.clone().map(|l| l.0),
            paper_settings: self.paper_settings,
            train: TrainOverrides {
                dim: self.dim,
                lr: self.lr,
                epoch: self.epoch,
                word_ngrams: self.word_ngrams,
                min_count: self.min_count,
                bucket: self.bucket,
                threads: self.train_threads,
            },
            text_fields: self.text_fields.clone(),
            doc_per_line: self.doc_per_line,
            storage,
            workers: crate::iterate::default_workers(self.workers),
            filters: CorpusFilters {
                near_dup: (!self.no_near_dup).then_some(NearDupSettings {
                    threshold: self.near_dup_threshold,
                    max_rows_in_memory: self.near_dup_max_rows,
                    ..NearDupSettings::default()
                }),
                default_benchmarks: !self.no_default_benchmarks,
                benchmarks: self.benchmarks.clone(),
                drop_fraction: self.decontam_drop_fraction,
                ..CorpusFilters::default()
            },
        }
    }
}

/// Runs iteration 1 of a new chain; with `show_progress` a progress bar on stderr.
///
/// Every argument and input is checked before anything is created (no output folder, no
/// metastore, no iteration): a refused command leaves nothing behind.
pub async fn run(args: RunArgs, show_progress: bool) -> anyhow::Result<Report> {
    let checked = args.clone();
    let cfg = tokio::task::spawn_blocking(move || checked_config(&checked)).await??;
    let mut printable = serde_json::to_value(&cfg)?;
    printable["storage"] = serde_json::to_value(cfg.storage.redacted())?;
    corpusminer_storage::redact_json(&mut printable);
    tracing::info!(config = %printable, "corpusminer run");
    let db = match &cfg.db {
        Some(db) => db.clone(),
        None => default_db_url(&cfg.out)?,
    };
    let ms = Metastore::connect(&db).await?;
    tracing::info!(db = %ms.redacted_url(), "connected");
    let result = async {
        let existing = ms.iteration_ids().await?;
        if !existing.is_empty() && !args.new_chain {
            let loc = crate::domains::store_flags(&args.out, args.db.as_deref());
            anyhow::bail!(
                "{} already holds iterations ({}): continue that chain with `corpusminer iterate {loc}`, start another chain beside it with `run --new-chain`, or give another --out",
                if args.db.is_some() { "the metastore of --db" } else { "--out" },
                existing.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
            );
        }
        let id = create_first(&ms, &cfg).await?;
        tracing::info!(iteration = id, "iteration created");
        let mut opts = crate::iterate::drive_options(cfg.workers, args.retries, args.max_attempts, false, crate::iterate::out_override(&args.out, args.db.as_deref()));
        opts.store_flags = crate::domains::store_flags(&args.out, args.db.as_deref());
        // This process keeps the credentials the stored config is stripped of.
        opts.live_config = Some(cfg.clone());
        let outcome = crate::iterate::drive_shown(&ms, id, None, opts, show_progress).await?;
        outcome.report.ok_or_else(|| anyhow::anyhow!("iteration {id} ended {} without a report", outcome.state))
    }
    .await;
    ms.close().await;
    result
}

/// The configuration of `args` once every check has passed: values that cannot mean anything
/// ([`RunArgs::validate`]), shards, seed, negatives, model or labels that are not there; paths
/// made absolute. Benchmarks are found and read in full now, before any scoring, so a missing
/// one stops here; the config names the files used. Blocking (reads the file system). The
/// first flag an error names is the one at fault.
pub fn checked_config(args: &RunArgs) -> anyhow::Result<RunConfig> {
    args.validate()?;
    let mut cfg = args.config().absolute()?;
    check_inputs(&cfg)?;
    cfg.filters = cfg.filters.load()?.settings;
    Ok(cfg)
}

impl RunArgs {
    /// Refuses values that cannot mean anything, before anything is created: each error names
    /// the flag, the value and what it must be.
    pub fn validate(&self) -> anyhow::Result<()> {
        let share = |flag: &str, v: f64, lo_open: bool, hi_open: bool| -> anyhow::Result<()> {
            let ok = v.is_finite() && (if lo_open { v > 0.0 } else { v >= 0.0 }) && (if hi_open { v < 1.0 } else { v <= 1.0 });
            let range = format!("{}0, 1{}", if lo_open { "(" } else { "[" }, if hi_open { ")" } else { "]" });
            anyhow::ensure!(ok, "{flag} {v} is not in {range}");
            Ok(())
        };
        if let Some(t) = self.threshold {
            share("--threshold", t, false, false)?;
        }
        if let Some(0) = self.token_budget {
            anyhow::bail!("--token-budget 0 would keep no page: give a positive number of tokens");
        }
        if let Some(crawl) = &self.crawl {
            corpusminer_coordinator::inputs::check_crawl_id(crawl).map_err(|e| anyhow::anyhow!("--crawl: {e}"))?;
        }
        if self.crawl.is_none() && self.inputs.is_empty() {
            anyhow::bail!("no shards: give --input SHARD… or --crawl CC-MAIN-YYYY-WW");
        }
        if let Some(0) = self.shards {
            anyhow::bail!("--shards 0 would score nothing: give at least 1");
        }
        share("--domain-ratio", self.domain_ratio, false, true)?;
        share("--text-floor", self.text_floor as f64, false, false)?;
        share("--near-dup-threshold", self.near_dup_threshold, true, false)?;
        share("--decontam-drop-fraction", self.decontam_drop_fraction, false, false)?;
        let positive = [
            ("--workers", self.workers.map(|v| v as u64)),
            ("--retries", Some(self.retries as u64)),
            ("--max-attempts", Some(self.max_attempts as u64)),
            ("--near-dup-max-rows", Some(self.near_dup_max_rows as u64)),
            ("--negative-shards", (self.negatives_from_crawl > 0).then_some(self.negative_shards as u64)),
            ("--dim", self.dim.map(u64::from)),
            ("--epoch", self.epoch.map(u64::from)),
            ("--word-ngrams", self.word_ngrams.map(u64::from)),
            ("--bucket", self.bucket.map(u64::from)),
            ("--train-threads", self.train_threads.map(u64::from)),
        ];
        for (flag, v) in positive {
            if v == Some(0) {
                anyhow::bail!("{flag} 0 is not allowed: give at least 1");
            }
        }
        if let Some(lr) = self.lr {
            anyhow::ensure!(lr.is_finite() && lr > 0.0, "--lr {lr} is not a positive learning rate");
        }
        Ok(())
    }
}

/// Refuses, before an iteration is created, what would only fail it later: no shard matching
/// `--input`, a local seed, negatives, model or labels file that is not there.
fn check_inputs(cfg: &RunConfig) -> anyhow::Result<()> {
    if !cfg.inputs.is_empty() && cfg.crawl.is_none() {
        let shards = corpusminer_coordinator::inputs::expand_inputs(&cfg.inputs)?;
        anyhow::ensure!(!shards.is_empty(), "no shard matches --input {}", cfg.inputs.join(" "));
    }
    let local = |p: &String| !p.contains("://");
    for (flag, path) in cfg.seeds.iter().map(|p| ("--seed", p)).chain(cfg.negatives.iter().map(|p| ("--negatives", p))).chain(cfg.model.iter().map(|p| ("--model", p))).chain(cfg.labels.iter().map(|p| ("--labels", p))) {
        if local(path) && !std::path::Path::new(path).is_file() {
            anyhow::bail!("{flag} {path}: no such file");
        }
    }
    Ok(())
}

/// This machine's host name (lease owner names).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "worker".into())
}

#[cfg(test)]
mod tests {
    use super::{BenchmarkSpec, CorpusFilters};
    use crate::{Cli, Command};
    use clap::Parser;

    fn config(extra: &[&str]) -> corpusminer_coordinator::RunConfig {
        let mut argv = vec!["corpusminer", "run", "--model", "m.bin", "--input", "s.warc.gz"];
        argv.extend(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(a) => a.config(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filter_flags_reach_the_config() {
        let f = config(&[]).filters;
        assert_eq!(f, CorpusFilters::default());
        let f = config(&[
            "--near-dup-threshold",
            "0.7",
            "--near-dup-max-rows",
            "100000",
            "--benchmark",
            "aime=/data/aime.jsonl:problem+solution",
            "--benchmark",
            "gsm8k=local/gsm8k.jsonl",
            "--no-default-benchmarks",
            "--decontam-drop-fraction",
            "0.25",
        ])
        .filters;
        let nd = f.near_dup.unwrap();
        assert_eq!((nd.threshold, nd.max_rows_in_memory, nd.bands, nd.rows), (0.7, 100_000, 14, 8));
        assert_eq!(f.benchmarks, [BenchmarkSpec::new("aime", "/data/aime.jsonl", &["problem", "solution"]), BenchmarkSpec::new("gsm8k", "local/gsm8k.jsonl", &[])]);
        assert!(!f.default_benchmarks);
        assert_eq!(f.drop_fraction, 0.25);
        assert!(config(&["--no-near-dup"]).filters.near_dup.is_none());
        let mut argv = vec!["corpusminer", "run", "--model", "m", "--input", "s", "--benchmark", "Bad=x"];
        assert!(Cli::try_parse_from(&argv).is_err());
        argv.pop();
        argv.push("x");
        assert!(Cli::try_parse_from(&argv).is_err());
    }

    fn parse(extra: &[&str]) -> super::RunArgs {
        let mut argv = vec!["corpusminer", "run", "--model", "m.bin", "--input", "s.warc.gz"];
        argv.extend(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn meaningless_values_are_refused_with_the_flag_named() {
        parse(&[]).validate().unwrap();
        for (args, msg) in [
            (&["--threshold", "2"][..], "--threshold 2 is not in [0, 1]"),
            (&["--threshold", "NaN"][..], "--threshold NaN is not in [0, 1]"),
            (&["--token-budget", "0"][..], "--token-budget 0 would keep no page"),
            (&["--crawl", "CC-MAIN-202é10"][..], "--crawl: crawl id \"CC-MAIN-202é10\" is not of the form CC-MAIN-YYYY-WW"),
            (&["--shards", "0"][..], "--shards 0 would score nothing"),
            (&["--domain-ratio", "1"][..], "--domain-ratio 1 is not in [0, 1)"),
            (&["--near-dup-threshold", "0"][..], "--near-dup-threshold 0 is not in (0, 1]"),
            (&["--workers", "0"][..], "--workers 0 is not allowed"),
            (&["--max-attempts", "0"][..], "--max-attempts 0 is not allowed"),
            (&["--lr=-1"][..], "--lr -1 is not a positive learning rate"),
        ] {
            let err = parse(args).validate().expect_err(&format!("{args:?} must be refused")).to_string();
            assert!(err.contains(msg), "{args:?}: {err}");
        }
    }

    #[test]
    fn env_backed_values_never_show_in_help() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        std::env::set_var("CORPUSMINER_DB", "postgres://u:hunter2@db/x");
        let help = cmd.find_subcommand_mut("run").unwrap().render_long_help().to_string();
        assert!(help.contains("CORPUSMINER_DB") && !help.contains("hunter2"), "{help}");
        for sub in ["iterate", "resume", "status", "delete"] {
            let help = Cli::command().find_subcommand_mut(sub).unwrap().render_long_help().to_string();
            assert!(!help.contains("hunter2"), "{sub}: {help}");
        }
        std::env::remove_var("CORPUSMINER_DB");
    }
}

/// A parsed `--languages` list ([`corpusminer_pipeline::lang::parse_languages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Languages(pub Vec<String>);

fn parse_languages(s: &str) -> Result<Languages, String> {
    corpusminer_pipeline::lang::parse_languages(s).map(Languages)
}
