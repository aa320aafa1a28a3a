//! `corpusminer train` (train a small model on corpus snapshots), `train compare` (the same model
//! and token budget on several corpora over several seeds: the paper's Table 1 question at this
//! machine's scale, arXiv 2402.03300 §2.2), `train derive` (the corpora to compare against: pages
//! just below an iteration's threshold, random pages), `train export` (a Hugging Face Llama
//! folder) and `generate` (sample text from a checkpoint or an export).

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use corpusminer_storage::metastore::TrainingProgress;
use corpusminer_storage::StorageConfig;
use corpusminer_trainer::compare::{compare, CompareJob};
use corpusminer_trainer::derive::{derive_corpus, DerivedKind};
use corpusminer_trainer::eval::{jsonl_set, math_sets, EvalKind, EvalSet};
use corpusminer_trainer::export::{export, generate, load_export, Sampling};
use corpusminer_trainer::{checkpoint, tokenizer, ModelConfig, SourceSpec, TokenizerSource, TrainJob, TrainSettings};
use std::path::{Path, PathBuf};

/// `corpusminer train …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrainArgs {
    /// A subcommand; without one, train.
    #[command(subcommand)]
    pub command: Option<TrainCommand>,
    /// Training sources: NAME=URI or NAME=URI@WEIGHT, URI a corpus folder holding manifest.json
    /// (out/iterations/1/corpus, s3://bucket/run/iterations/1/corpus) or the manifest. Sequences
    /// are drawn from the sources by weight (the paper mixed its math corpus at 56%).
    #[arg(long = "source", value_name = "NAME=URI[@W]")]
    pub sources: Vec<String>,
    /// Resume from this checkpoint (the same sources and settings; its tokenizer.json beside it).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Steps between checkpoints (0: at the end only).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: u64,
    /// Record the run and its progress (step, loss, tokens/s, ETA; at most once a second) in
    /// this metastore (sqlite://FILE or postgres://…), so `serve` can show it.
    #[arg(long, env = "CORPUSMINER_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// Also put report.json and loss.svg into this object-store folder (a path or s3://…); the
    /// metastore row names the report's URI.
    #[arg(long)]
    pub report_to: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `train` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the same model with the same token budget on two or more corpora, over several
    /// seeds, and print the table: corpus, tokens, math bits per byte (mean ± sd), general bits
    /// per byte.
    Compare(CompareArgs),
    /// Write a corpus to compare an iteration's against, from its scored pages: those just
    /// below its threshold, or a random sample of all pages, up to the corpus's token count.
    Derive(DeriveArgs),
    /// Export a checkpoint as a Hugging Face Llama folder: config.json, model.safetensors,
    /// tokenizer.json.
    Export(ExportArgs),
    /// Training speed of the preset shapes on this machine: tokens/s, forward / backward /
    /// update time per step, and peak memory, on random token batches (fp32, eager).
    Bench(BenchTrainArgs),
}

/// `train bench`.
#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    /// Shapes to measure.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Size::Tiny, Size::Small, Size::Base])]
    pub sizes: Vec<Size>,
    /// Vocabulary.
    #[arg(long, default_value_t = 4096)]
    pub vocab_size: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Timed steps per shape (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Threads candle computes with (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The model, the optimiser, the tokenizer and the evaluation: shared by `train` and `compare`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The model's shape as JSON (Llama names: hidden_size, intermediate_size,
    /// num_hidden_layers, num_attention_heads, max_position_embeddings, vocab_size (replaced by
    /// the tokenizer's)); default: --size.
    #[arg(long)]
    pub model_config: Option<PathBuf>,
    /// A preset shape when no --model-config: tiny (64 wide, 2 layers), small (128, 4), base (256, 6).
    #[arg(long, value_enum, default_value_t = Size::Small)]
    pub size: Size,
    /// Optimiser steps.
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    /// Sequences per step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Peak learning rate (warm-up, then the paper's steps: 31.6% at 80% of the steps, 10% at 90%).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 30)]
    pub warmup: u64,
    /// AdamW weight decay (matrices only).
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub grad_clip: f64,
    /// Seed of the initial weights and the data order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A tokenizer.json to use instead of training a byte-level BPE.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Vocabulary of the trained BPE.
    #[arg(long, default_value_t = 4096)]
    pub vocab_size: usize,
    /// Megabytes of text from the start of each source to train the BPE on.
    #[arg(long, default_value_t = 4.0)]
    pub tokenizer_sample_mb: f64,
    /// Steps between evaluations (0: at the end only).
    #[arg(long, default_value_t = 50)]
    pub eval_every: u64,
    /// Problems from each math benchmark (GSM8K test, MATH test) and pages of general text scored.
    #[arg(long, default_value_t = 200)]
    pub eval_docs: usize,
    /// General web text held out from training (dolma JSONL, .gz or .zst): by default the
    /// negatives of ../shared/data.
    #[arg(long, num_args = 1.., default_values = [
        "../shared/data/negatives/dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz",
        "../shared/data/negatives/dolma-cc_en_head-0091.jsonl.gz",
        "../shared/data/negatives/dolma-cc_en_head-0174.jsonl.gz",
    ])]
    pub general_eval: Vec<PathBuf>,
    /// Threads candle computes with (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Local folder for the tokenizer, checkpoints, report.json and loss.svg.
    #[arg(long, default_value = "out/train")]
    pub out: PathBuf,
    /// S3-compatible endpoint (http://host:port, path-style) for s3:// sources.
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
}

/// Preset model shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Size {
    /// 64 wide, 2 layers, 2 heads.
    Tiny,
    /// 128 wide, 4 layers, 4 heads.
    Small,
    /// 256 wide, 6 layers, 8 heads.
    Base,
}

/// `train compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The corpora: NAME=URI, two or more (the first is compared against the others).
    #[arg(long = "corpus", value_name = "NAME=URI", required = true, num_args = 1)]
    pub corpora: Vec<String>,
    /// Seeds, one run per corpus and seed.
    #[arg(long, value_delimiter = ',', default_values_t = [1u64, 2, 3])]
    pub seeds: Vec<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which derived corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeriveKindArg {
    /// Pages scoring under the threshold, best first.
    BelowThreshold,
    /// A seeded random sample of all scored pages.
    Random,
}

/// `train derive`.
#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// The iteration's folder (out/iterations/1, or s3://…/iterations/1).
    #[arg(long)]
    pub iteration: String,
    /// Which pages.
    #[arg(long, value_enum)]
    pub kind: DeriveKindArg,
    /// Seed of the random sample.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Local folder to write docs.jsonl.zst and manifest.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// S3-compatible endpoint for an s3:// iteration.
    #[arg(long, env = "CORPUSMINER_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
}

/// `train export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The checkpoint (tokenizer.json beside it).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Folder to write config.json, model.safetensors and tokenizer.json into.
    #[arg(long)]
    pub out: PathBuf,
}

/// `corpusminer generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A checkpoint file (tokenizer.json beside it) or an export folder (config.json, …).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to continue.
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Softmax temperature (0: greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Nucleus sampling: the smallest set of tokens whose probability reaches this.
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 200)]
    pub max_tokens: usize,
}

fn storage(endpoint: &Option<String>) -> StorageConfig {
    let mut s = StorageConfig::default();
    s.s3_endpoint = endpoint.clone();
    s
}

impl Size {
    /// The preset's shape (SwiGLU width 8/3 of the model's, rounded down to a multiple of 8).
    fn config(self, vocab_size: usize, context: usize) -> ModelConfig {
        let (d, l, h) = match self {
            Size::Tiny => (64, 2, 2),
            Size::Small => (128, 4, 4),
            Size::Base => (256, 6, 8),
        };
        ModelConfig {
            vocab_size,
            hidden_size: d,
            intermediate_size: d * 8 / 3 / 8 * 8,
            num_hidden_layers: l,
            num_attention_heads: h,
            max_position_embeddings: context,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-5,
        }
    }
}

impl CommonArgs {
    fn model(&self) -> anyhow::Result<ModelConfig> {
        if let Some(p) = &self.model_config {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            return Ok(ModelConfig::from_json(&text)?);
        }
        Ok(self.size.config(self.vocab_size, self.seq_len))
    }

    fn eval_sets(&self) -> anyhow::Result<Vec<EvalSet>> {
        let mut sets = math_sets(self.eval_docs)?;
        let present: Vec<&PathBuf> = self.general_eval.iter().filter(|p| p.is_file()).collect();
        if present.is_empty() {
            tracing::warn!("no general evaluation text found ({:?}): general bits per byte are not measured", self.general_eval);
        } else {
            sets.push(jsonl_set("web", EvalKind::General, &present, self.eval_docs, 4000)?);
        }
        Ok(sets)
    }

    fn job(&self, sources: Vec<SourceSpec>) -> anyhow::Result<TrainJob> {
        if let Some(n) = self.threads {
            // Read by candle (and rayon) when their thread pools start: before any tensor work.
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        }
        let settings = TrainSettings {
            batch_size: self.batch_size,
            seq_len: self.seq_len,
            steps: self.steps,
            peak_lr: self.lr,
            warmup_steps: self.warmup,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
            seed: self.seed,
            ..TrainSettings::default()
        };
        Ok(TrainJob {
            model: self.model()?,
            settings,
            sources,
            storage: storage(&self.s3_endpoint),
            tokenizer: match &self.tokenizer {
                Some(p) => TokenizerSource::File(p.clone()),
                None => TokenizerSource::Train { vocab_size: self.vocab_size, sample_bytes: (self.tokenizer_sample_mb * 1e6) as usize },
            },
            out_dir: self.out.clone(),
            eval_sets: self.eval_sets()?,
            eval_every: self.eval_every,
            checkpoint_every: 0,
            resume: None,
            stop_after: None,
            dtype: candle_core::DType::F32,
            write_report: true,
        })
    }
}

fn progress_bar(steps: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}").expect("template").progress_chars("=> "));
    bar
}

fn parse_sources(specs: &[String]) -> anyhow::Result<Vec<SourceSpec>> {
    specs.iter().map(|s| s.parse::<SourceSpec>().map_err(anyhow::Error::from)).collect()
}

/// Runs `train` or one of its subcommands; returns what to print.
pub async fn train(args: TrainArgs) -> anyhow::Result<String> {
    match args.command {
        Some(TrainCommand::Compare(c)) => return run_compare(c).await,
        Some(TrainCommand::Derive(d)) => return run_derive(d).await,
        Some(TrainCommand::Export(e)) => return run_export(e),
        Some(TrainCommand::Bench(b)) => return tokio::task::spawn_blocking(move || run_bench(b)).await?,
        None => {}
    }
    if args.sources.is_empty() {
        anyhow::bail!("give at least one --source NAME=URI (an iteration's corpus folder), or a subcommand");
    }
    let mut job = args.common.job(parse_sources(&args.sources)?)?;
    job.resume = args.resume;
    job.checkpoint_every = args.checkpoint_every;
    let ms = match &args.db {
        Some(url) => Some(corpusminer_storage::Metastore::connect(url).await.with_context(|| format!("metastore {}", corpusminer_storage::redact_uri(url)))?),
        None => None,
    };
    let run_id = match &ms {
        Some(ms) => Some(ms.start_training_run(&job.out_dir.display().to_string(), &serde_json::to_string(&job.settings)?, job.settings.steps).await?),
        None => None,
    };
    let handle = tokio::runtime::Handle::current();
    let bar = progress_bar(job.settings.steps);
    bar.set_prefix("train");
    let result = {
        let bar = bar.clone();
        let job = job.clone();
        let ms = ms.clone();
        tokio::task::spawn_blocking(move || {
            let mut last_write = std::time::Instant::now() - std::time::Duration::from_secs(2);
            corpusminer_trainer::train(&job, &handle, &mut |p| {
                bar.set_position(p.step);
                bar.set_message(format!("loss {:.3}  {:.0} tok/s  ETA {:.0}s", p.loss, p.tokens_per_s, p.eta_s));
                if let (Some(ms), Some(id)) = (&ms, run_id) {
                    if last_write.elapsed().as_secs_f64() >= 1.0 || p.step == p.steps {
                        last_write = std::time::Instant::now();
                        let row = TrainingProgress { step: p.step, loss: p.loss, tokens_per_s: p.tokens_per_s, eta_s: p.eta_s };
                        if let Err(e) = handle.block_on(ms.training_progress(id, row)) {
                            tracing::warn!("recording training progress: {e}");
                        }
                    }
                }
            })
        })
        .await?
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if let (Some(ms), Some(id)) = (&ms, run_id) {
                ms.finish_training_run(id, None, Some(&e.to_string())).await?;
            }
            return Err(e.into());
        }
    };
    let mut report_uri = job.out_dir.join("report.json").display().to_string();
    if let Some(to) = &args.report_to {
        let store = corpusminer_storage::resolve_root(to, &storage(&args.common.s3_endpoint))?;
        for name in ["report.json", "loss.svg"] {
            store.put_file(name, &job.out_dir.join(name)).await?;
        }
        report_uri = format!("{}report.json", store.uri());
    }
    if let (Some(ms), Some(id)) = (&ms, run_id) {
        ms.finish_training_run(id, Some(&report_uri), None).await?;
    }
    bar.finish_and_clear();
    let mut out = String::new();
    use std::fmt::Write;
    let first = report.steps.first().map(|s| s.loss).unwrap_or(f64::NAN);
    let last = report.steps.last().map(|s| s.loss).unwrap_or(f64::NAN);
    writeln!(out, "model: {} parameters ({} wide, {} layers, vocab {})", report.parameters, report.model.hidden_size, report.model.num_hidden_layers, report.model.vocab_size)?;
    writeln!(out, "trained {} steps, {} tokens, {:.0} tokens/s on {} threads ({:.0} s)", report.steps.len(), report.tokens, report.tokens_per_s, report.threads, report.train_seconds)?;
    writeln!(out, "loss {first:.4} -> {last:.4} nats/token")?;
    for u in &report.usage {
        writeln!(out, "source {}: {} tokens trained, {} passes over its {} manifest tokens", u.name, u.tokens, u.epochs, u.manifest_tokens)?;
    }
    let last_step = report.evals.last().map(|e| e.step);
    for e in report.evals.iter().filter(|e| Some(e.step) == last_step) {
        writeln!(out, "eval {}: {:.4} bits per byte", e.set, e.bpb)?;
    }
    writeln!(out, "report: {report_uri}, plot: {}, checkpoint: {}", job.out_dir.join("loss.svg").display(), job.out_dir.join("checkpoint.safetensors").display())?;
    Ok(out)
}

async fn run_compare(c: CompareArgs) -> anyhow::Result<String> {
    let corpora = parse_sources(&c.corpora)?;
    let base = c.common.job(Vec::new())?;
    let job = CompareJob { corpora, seeds: c.seeds, base };
    let handle = tokio::runtime::Handle::current();
    let bar = progress_bar(job.base.settings.steps);
    let report = {
        let bar = bar.clone();
        let job = job.clone();
        tokio::task::spawn_blocking(move || {
            compare(&job, &handle, &mut |corpus, seed, p| {
                bar.set_prefix(format!("{corpus} seed {seed}"));
                bar.set_position(p.step);
                bar.set_message(format!("loss {:.3}  {:.0} tok/s", p.loss, p.tokens_per_s));
            })
        })
        .await??
    };
    bar.finish_and_clear();
    Ok(format!("{}\n{}compare.json: {}\n", report.table(), report.verdict(), job.base.out_dir.join("compare.json").display()))
}

async fn run_derive(d: DeriveArgs) -> anyhow::Result<String> {
    let kind = match d.kind {
        DeriveKindArg::BelowThreshold => DerivedKind::BelowThreshold,
        DeriveKindArg::Random => DerivedKind::Random { seed: d.seed },
    };
    let r = derive_corpus(&d.iteration, &storage(&d.s3_endpoint), kind, &d.out).await?;
    Ok(format!(
        "{}: {} documents, {} tokens (target {}, threshold {:.4}, scores {:.4}..{:.4}; {} duplicates and {} contaminated pages left out)\n",
        d.out.display(),
        r.manifest.documents,
        r.manifest.tokens,
        r.target_tokens,
        r.threshold,
        r.score_range.1,
        r.score_range.0,
        r.duplicates,
        r.decontaminated
    ))
}

fn run_bench(b: BenchTrainArgs) -> anyhow::Result<String> {
    if let Some(n) = b.threads {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    use std::fmt::Write;
    let mut out = format!(
        "candle, fp32, {} threads, batch {} x {} tokens, vocab {}\n{:<6} {:>11} {:>10} {:>11} {:>12} {:>10} {:>12}\n",
        candle_core::utils::get_num_threads(),
        b.batch_size,
        b.seq_len,
        b.vocab_size,
        "size",
        "parameters",
        "tokens/s",
        "forward ms",
        "backward ms",
        "update ms",
        "peak RSS MB"
    );
    for size in &b.sizes {
        let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let t = corpusminer_trainer::bench::bench_model(&size.config(b.vocab_size, b.seq_len), b.batch_size, b.seq_len, b.steps)?;
        let peak = crate::bench_corpus::status_mb("VmHWM:");
        writeln!(
            out,
            "{:<6} {:>11} {:>10.0} {:>11.1} {:>12.1} {:>10.1} {:>12}",
            format!("{size:?}").to_lowercase(),
            t.parameters,
            t.tokens_per_s,
            t.forward_ms,
            t.backward_ms,
            t.update_ms,
            if peak_reset { format!("{peak:.0}") } else { format!("{peak:.0} (process)") }
        )?;
    }
    Ok(out)
}

fn run_export(e: ExportArgs) -> anyhow::Result<String> {
    let ck = checkpoint::load(&e.checkpoint, &candle_core::Device::Cpu)?;
    let tok = tokenizer::load(&e.checkpoint.with_file_name("tokenizer.json"))?;
    export(&ck.model, &tok, &e.out)?;
    Ok(format!("exported step {} to {} (config.json, model.safetensors, tokenizer.json)\n", ck.state.step, e.out.display()))
}

fn load_any(path: &Path) -> anyhow::Result<(corpusminer_trainer::Model, tokenizers::Tokenizer)> {
    if path.is_dir() {
        return Ok(load_export(path, &candle_core::Device::Cpu)?);
    }
    let ck = checkpoint::load(path, &candle_core::Device::Cpu)?;
    Ok((ck.model, tokenizer::load(&path.with_file_name("tokenizer.json"))?))
}

/// Runs `generate`: the prompt's continuation.
pub fn generate_text(g: GenerateArgs) -> anyhow::Result<String> {
    let (model, tok) = load_any(&g.model)?;
    let s = Sampling { temperature: g.temperature, top_p: g.top_p, seed: g.seed, max_tokens: g.max_tokens };
    Ok(generate(&model, &tok, &g.prompt, s)?)
}

#[cfg(test)]
mod tests {
    use crate::{Cli, Command};
    use clap::Parser;

    #[test]
    fn train_and_its_subcommands_parse() {
        let cli = Cli::try_parse_from(["corpusminer", "train", "--source", "m=out/iterations/1/corpus@0.56", "--steps", "7", "--size", "tiny"]).unwrap();
        let Command::Train(t) = cli.command else { panic!("not train") };
        assert!(t.command.is_none());
        assert_eq!((t.sources.len(), t.common.steps), (1, 7));
        let cli = Cli::try_parse_from(["corpusminer", "train", "compare", "--corpus", "a=x", "--corpus", "b=y"]).unwrap();
        let Command::Train(t) = cli.command else { panic!("not train") };
        let Some(super::TrainCommand::Compare(c)) = t.command else { panic!("not compare") };
        assert_eq!((c.corpora.len(), c.seeds.clone()), (2, vec![1, 2, 3]), "three seeds by default");
        let cli = Cli::try_parse_from(["corpusminer", "generate", "--model", "out/train/checkpoint.safetensors", "--top-p", "0.9"]).unwrap();
        assert!(matches!(cli.command, Command::Generate(g) if g.top_p == 0.9));
        // The job built from the flags: the preset shape, the context the sequence length.
        let cli = Cli::try_parse_from(["corpusminer", "train", "--source", "m=x", "--size", "base", "--seq-len", "64"]).unwrap();
        let Command::Train(t) = cli.command else { panic!("not train") };
        let m = t.common.model().unwrap();
        assert_eq!((m.hidden_size, m.num_hidden_layers, m.intermediate_size, m.max_position_embeddings), (256, 6, 680, 64));
    }
}
