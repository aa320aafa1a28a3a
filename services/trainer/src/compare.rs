//! `train compare`: the same model, the same token budget, several corpora, several seeds
//! (arXiv 2402.03300 Table 1 judged its corpus this way, at 1.3B parameters and 150B tokens):
//! a table of math and general bits per byte, mean ± standard deviation over the seeds.

use crate::data::{sample_texts, Snapshot, SourceSpec};
use crate::error::TrainerError;
use crate::report::TrainReport;
use crate::tokenizer;
use crate::train::{train, Progress, TokenizerSource, TrainJob};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::Arc;

/// A comparison: `base` is trained once per corpus and seed, each corpus alone (weight 1),
/// with one tokenizer for all (trained on an equal sample of every corpus, unless `base` names a file).
#[derive(Debug, Clone)]
pub struct CompareJob {
    /// The corpora (their weights are ignored).
    pub corpora: Vec<SourceSpec>,
    /// Seeds (each gives another initialisation and data order).
    pub seeds: Vec<u64>,
    /// The run template: model, settings (its seed is replaced), evaluation sets, `out_dir`.
    pub base: TrainJob,
}

/// One corpus over its seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareRow {
    /// Corpus name.
    pub corpus: String,
    /// Tokens in its manifest (the pipeline's count).
    pub corpus_tokens: u64,
    /// Tokens trained on per seed (the budget).
    pub tokens: u64,
    /// Passes over the corpus the budget took (most over the seeds).
    pub epochs: u64,
    /// Math bits per byte, one per seed.
    pub math_bpb: Vec<f64>,
    /// General bits per byte, one per seed.
    pub general_bpb: Vec<f64>,
    /// Final training loss (nats/token), one per seed.
    pub final_loss: Vec<f64>,
}

/// The comparison's result (`compare.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareReport {
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Parameters of the model.
    pub parameters: usize,
    /// One row per corpus, in the order given.
    pub rows: Vec<CompareRow>,
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n.max(1.0);
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    (mean, (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

impl CompareReport {
    /// The paper-style table: corpus, tokens, math bpb mean ± sd, general bpb mean ± sd.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<24} {:>12} {:>12} {:>7} {:>18} {:>18}", "corpus", "corpus tok", "trained tok", "epochs", "math bpb", "general bpb");
        for r in &self.rows {
            let (m, ms) = mean_sd(&r.math_bpb);
            let (g, gs) = mean_sd(&r.general_bpb);
            let _ = writeln!(
                out,
                "{:<24} {:>12} {:>12} {:>7} {:>18} {:>18}",
                r.corpus,
                r.corpus_tokens,
                r.tokens,
                r.epochs,
                format!("{m:.4} ± {ms:.4}"),
                format!("{g:.4} ± {gs:.4}")
            );
        }
        let _ = writeln!(out, "({} seeds: {:?}; {} parameters; bpb = bits per byte, lower is better)", self.seeds.len(), self.seeds, self.parameters);
        out
    }

    /// For the first corpus against each other one: the math bpb difference and whether it lies
    /// beyond the seeds' spread (the mean ± sd intervals do not overlap).
    pub fn verdict(&self) -> String {
        let mut out = String::new();
        let Some(first) = self.rows.first() else { return out };
        let (m0, s0) = mean_sd(&first.math_bpb);
        for r in &self.rows[1..] {
            let (m, s) = mean_sd(&r.math_bpb);
            let beyond = (m0 - m).abs() > s0 + s;
            let _ = writeln!(
                out,
                "{} vs {}: math bpb {:+.4} ({}), {} the seeds' spread (sd {:.4} and {:.4})",
                first.corpus,
                r.corpus,
                m0 - m,
                if m0 < m { "lower" } else { "higher" },
                if beyond { "beyond" } else { "within" },
                s0,
                s
            );
        }
        out
    }
}

/// Runs the comparison, calling `on_step(corpus, seed, progress)` after every step; writes
/// `compare.json` and each run's report under `base.out_dir/runs/<corpus>-seed<seed>/`.
pub fn compare(job: &CompareJob, handle: &tokio::runtime::Handle, on_step: &mut dyn FnMut(&str, u64, &Progress)) -> Result<CompareReport, TrainerError> {
    if job.corpora.len() < 2 || job.seeds.is_empty() {
        return Err(TrainerError::Config("a comparison needs two corpora or more and at least one seed".into()));
    }
    let mut base = job.base.clone();
    if let TokenizerSource::Train { vocab_size, sample_bytes } = base.tokenizer {
        let mut snaps = Vec::new();
        for c in &job.corpora {
            snaps.push(Arc::new(handle.block_on(Snapshot::open(&c.uri, &base.storage))?));
        }
        let texts = sample_texts(&snaps, handle, sample_bytes)?;
        let tok = tokenizer::train_bpe(texts.iter(), vocab_size)?;
        std::fs::create_dir_all(&base.out_dir).map_err(|e| TrainerError::io(&base.out_dir, e))?;
        let path = base.out_dir.join("tokenizer.json");
        tok.save(&path, false).map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", path.display())))?;
        base.tokenizer = TokenizerSource::File(path);
    }
    let mut rows = Vec::new();
    let mut parameters = 0;
    for corpus in &job.corpora {
        let mut row = CompareRow { corpus: corpus.name.clone(), corpus_tokens: 0, tokens: 0, epochs: 0, math_bpb: vec![], general_bpb: vec![], final_loss: vec![] };
        for &seed in &job.seeds {
            let mut run = base.clone();
            run.sources = vec![SourceSpec { weight: 1.0, ..corpus.clone() }];
            run.settings.seed = seed;
            run.out_dir = base.out_dir.join("runs").join(format!("{}-seed{seed}", corpus.name));
            run.write_report = true;
            let report: TrainReport = train(&run, handle, &mut |p| on_step(&corpus.name, seed, p))?;
            parameters = report.parameters;
            row.corpus_tokens = report.usage[0].manifest_tokens;
            row.tokens = report.tokens;
            row.epochs = row.epochs.max(report.usage[0].epochs);
            row.math_bpb.push(report.math_bpb.unwrap_or(f64::NAN));
            row.general_bpb.push(report.general_bpb.unwrap_or(f64::NAN));
            row.final_loss.push(report.steps.last().map(|s| s.loss).unwrap_or(f64::NAN));
        }
        rows.push(row);
    }
    let report = CompareReport { seeds: job.seeds.clone(), parameters, rows };
    let path = base.out_dir.join("compare.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("json")).map_err(|e| TrainerError::io(&path, e))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - 1.0).abs() < 1e-12);
        assert_eq!(mean_sd(&[4.0]), (4.0, 0.0));
    }
}
