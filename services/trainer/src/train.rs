//! The training loop: sources → tokenizer → packed, mixed batches → forward, backward, clipped
//! AdamW update on the paper's schedule → periodic evaluation and checkpoints → report.

use crate::checkpoint::{self, CheckpointState};
use crate::config::{ModelConfig, TrainSettings};
use crate::data::{sample_texts, Mixture, Snapshot, SourceSpec};
use crate::error::TrainerError;
use crate::eval::{self, EvalKind, EvalSet};
use crate::model::Model;
use crate::optim::{learning_rate, AdamW};
use crate::report::{self, EvalRecord, SourceUsage, StepRecord, TrainReport};
use crate::tokenizer;
use candle_core::{DType, Device, Tensor};
use corpusminer_storage::StorageConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokenizers::Tokenizer;

/// Where the tokenizer comes from.
#[derive(Debug, Clone)]
pub enum TokenizerSource {
    /// A `tokenizer.json` (it must have the end-of-document token).
    File(PathBuf),
    /// A byte-level BPE of this many tokens trained on up to `sample_bytes` of each source.
    Train {
        /// Vocabulary size.
        vocab_size: usize,
        /// Bytes of text sampled from the start of each source.
        sample_bytes: usize,
    },
}

/// One training run.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// The model's shape; `vocab_size` is replaced by the tokenizer's.
    pub model: ModelConfig,
    /// Optimiser, schedule, batch and seed.
    pub settings: TrainSettings,
    /// The sources and their weights.
    pub sources: Vec<SourceSpec>,
    /// How to reach them.
    pub storage: StorageConfig,
    /// The tokenizer.
    pub tokenizer: TokenizerSource,
    /// Local folder for `tokenizer.json`, checkpoints, `report.json` and `loss.svg`.
    pub out_dir: PathBuf,
    /// Held-out sets, scored every `eval_every` steps and at the end.
    pub eval_sets: Vec<EvalSet>,
    /// Steps between evaluations (0: at the end only).
    pub eval_every: u64,
    /// Steps between checkpoints (0: at the end only); the newest is `checkpoint.safetensors`.
    pub checkpoint_every: u64,
    /// Resume from this checkpoint (its tokenizer is `tokenizer.json` beside it unless
    /// [`TrainJob::tokenizer`] names a file).
    pub resume: Option<PathBuf>,
    /// Stop after this step, as if killed there (the resume test); `None`: run all steps.
    pub stop_after: Option<u64>,
    /// Parameter dtype (F32 for training; F64 for exactness tests).
    pub dtype: DType,
    /// Write `report.json` and `loss.svg` at the end.
    pub write_report: bool,
}

/// Progress after a step, for a progress bar or the metastore.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Steps in the run.
    pub steps: u64,
    /// The step's loss (nats per token).
    pub loss: f64,
    /// Mean tokens per second so far.
    pub tokens_per_s: f64,
    /// Seconds left at that rate.
    pub eta_s: f64,
}

/// The tokenizer of `job`: loaded, or trained on the sources' starts; saved as
/// `out_dir/tokenizer.json` either way, so the checkpoints beside it are self-contained.
pub fn prepare_tokenizer(job: &TrainJob, snapshots: &[Arc<Snapshot>], handle: &tokio::runtime::Handle) -> Result<Tokenizer, TrainerError> {
    let file = match (&job.tokenizer, &job.resume) {
        (TokenizerSource::File(p), _) => Some(p.clone()),
        (TokenizerSource::Train { .. }, Some(ck)) => Some(ck.with_file_name("tokenizer.json")),
        _ => None,
    };
    let tok = match (file, &job.tokenizer) {
        (Some(p), _) => tokenizer::load(&p)?,
        (None, &TokenizerSource::Train { vocab_size, sample_bytes }) => tokenizer::train_bpe(sample_texts(snapshots, handle, sample_bytes)?.iter(), vocab_size)?,
        (None, TokenizerSource::File(_)) => unreachable!("a file source always names a file"),
    };
    std::fs::create_dir_all(&job.out_dir).map_err(|e| TrainerError::io(&job.out_dir, e))?;
    let path = job.out_dir.join("tokenizer.json");
    tok.save(&path, false).map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", path.display())))?;
    Ok(tok)
}

/// Scores every set at `step`.
fn evaluate(model: &Model, tok: &Tokenizer, sets: &[EvalSet], seq_len: usize, batch: usize, step: u64) -> Result<Vec<EvalRecord>, TrainerError> {
    sets.iter()
        .map(|s| {
            let score = eval::score(model, tok, s, seq_len, batch)?;
            Ok(EvalRecord { step, set: s.name.clone(), kind: s.kind, score, bpb: score.per_byte() })
        })
        .collect()
}

/// The device runs train on: the first CUDA GPU when the crate is built with the `cuda` feature
/// and one is there, else the CPU.
pub fn device() -> Device {
    if cfg!(feature = "cuda") {
        Device::new_cuda(0).unwrap_or(Device::Cpu)
    } else {
        Device::Cpu
    }
}

/// Runs `job`, calling `on_step` after every step. Call it off the async runtime (it blocks on
/// `handle` to stream the sources). Returns the report (also written to `out_dir` when
/// [`TrainJob::write_report`]).
pub fn train(job: &TrainJob, handle: &tokio::runtime::Handle, on_step: &mut dyn FnMut(&Progress)) -> Result<TrainReport, TrainerError> {
    let device = device();
    let s = &job.settings;
    let mut snapshots = Vec::new();
    for src in &job.sources {
        snapshots.push(Arc::new(handle.block_on(Snapshot::open(&src.uri, &job.storage))?));
    }
    let tok = prepare_tokenizer(job, &snapshots, handle)?;
    let eos = tokenizer::eos_id(&tok)?;
    let (model, mut opt, mut history, mut evals, start, position) = match &job.resume {
        Some(path) => {
            let ck = checkpoint::load(path, &device)?;
            if ck.state.sources.len() != job.sources.len() || ck.state.settings != *s {
                return Err(TrainerError::Config(format!("{}: the checkpoint's sources or settings differ from this run's", path.display())));
            }
            (ck.model, ck.opt, ck.state.history, ck.state.evals, ck.state.step, Some(ck.state.data))
        }
        None => {
            let mut config = job.model.clone();
            config.vocab_size = tok.get_vocab_size(true);
            config.validate()?;
            s.validate(&config)?;
            let model = Model::new(&config, s.seed, job.dtype, &device)?;
            let opt = AdamW::new(model.params(), s)?;
            (model, opt, Vec::new(), Vec::new(), 0, None)
        }
    };
    let mut mixture = Mixture::new(&job.sources, snapshots.clone(), handle, eos, s.seq_len + 1, s.seed, position)?;
    let stop = job.stop_after.unwrap_or(s.steps).min(s.steps);
    let eval_batch = s.batch_size;
    let tokens_per_step = (s.batch_size * s.seq_len) as f64;
    let mut train_seconds = 0.0;
    let save = |step: u64, model: &Model, opt: &AdamW, mixture: &Mixture, history: &[StepRecord], evals: &[EvalRecord]| -> Result<(), TrainerError> {
        let state = CheckpointState {
            step,
            adam_t: opt.t,
            data: mixture.position(),
            model: model.config().clone(),
            settings: s.clone(),
            sources: job.sources.clone(),
            history: history.to_vec(),
            evals: evals.to_vec(),
        };
        checkpoint::save(&job.out_dir.join("checkpoints").join(format!("step-{step:06}.safetensors")), model, opt, &state)?;
        checkpoint::save(&job.out_dir.join("checkpoint.safetensors"), model, opt, &state)
    };
    for step in start..stop {
        let t0 = Instant::now();
        let (ids, _) = mixture.next_batch(&tok, s.batch_size)?;
        let batch = Tensor::from_vec(ids, (s.batch_size, s.seq_len + 1), &device)?;
        let loss = model.loss(&batch)?;
        let grads = loss.backward()?;
        let lr = learning_rate(step, s.steps, s.warmup_steps, s.peak_lr);
        let grad_norm = opt.step(model.params(), &grads, lr, s.grad_clip)?;
        let loss = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !loss.is_finite() {
            return Err(TrainerError::Config(format!("the loss diverged at step {} (lower the learning rate)", step + 1)));
        }
        let dt = t0.elapsed().as_secs_f64();
        train_seconds += dt;
        let done = step + 1;
        history.push(StepRecord { step: done, loss, lr, grad_norm, tokens_per_s: tokens_per_step / dt });
        let rate = (done - start) as f64 * tokens_per_step / train_seconds;
        on_step(&Progress { step: done, steps: s.steps, loss, tokens_per_s: rate, eta_s: (s.steps - done) as f64 * tokens_per_step / rate });
        let last = done == s.steps;
        if (job.eval_every > 0 && done % job.eval_every == 0) || last {
            evals.extend(evaluate(&model, &tok, &job.eval_sets, s.seq_len, eval_batch, done)?);
        }
        if (job.checkpoint_every > 0 && done % job.checkpoint_every == 0) || last || done == stop {
            save(done, &model, &opt, &mixture, &history, &evals)?;
        }
    }
    let rates: Vec<f64> = history.iter().skip(1).map(|h| h.tokens_per_s).collect();
    let usage = mixture
        .usage()
        .into_iter()
        .zip(&snapshots)
        .map(|((name, seqs, epochs), snap)| SourceUsage { name, sequences: seqs, tokens: seqs * s.seq_len as u64, epochs, manifest_tokens: snap.manifest.tokens })
        .collect();
    let report = TrainReport {
        model: model.config().clone(),
        parameters: model.config().parameters(),
        settings: s.clone(),
        sources: job.sources.clone(),
        usage,
        tokens: s.token_budget(),
        math_bpb: TrainReport::final_bpb(&evals, EvalKind::Math),
        general_bpb: TrainReport::final_bpb(&evals, EvalKind::General),
        steps: history,
        evals,
        tokens_per_s: if rates.is_empty() { 0.0 } else { rates.len() as f64 / rates.iter().map(|r| 1.0 / r).sum::<f64>() },
        train_seconds,
        threads: candle_core::utils::get_num_threads(),
    };
    if job.write_report {
        let path = job.out_dir.join("report.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("a report serialises")).map_err(|e| TrainerError::io(&path, e))?;
        report::plot(&report, &job.out_dir.join("loss.svg"))?;
    }
    Ok(report)
}
