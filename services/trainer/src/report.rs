//! A run's report: the loss curve and the evaluations, as JSON and as an SVG plot.

use crate::config::{ModelConfig, TrainSettings};
use crate::data::SourceSpec;
use crate::error::TrainerError;
use crate::eval::{Bits, EvalKind};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One optimiser step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based step.
    pub step: u64,
    /// Mean next-token cross-entropy of the step's batch, nats per token.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Training tokens per second of this step (forward, backward, update; data loading included).
    pub tokens_per_s: f64,
}

/// One evaluation of one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Step after which it ran.
    pub step: u64,
    /// Set name.
    pub set: String,
    /// What it measures.
    pub kind: EvalKind,
    /// Bits and bytes.
    pub score: Bits,
    /// Bits per byte.
    pub bpb: f64,
}

/// Per source: sequences drawn and full passes made over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceUsage {
    /// Source name.
    pub name: String,
    /// Sequences drawn from it.
    pub sequences: u64,
    /// Training tokens from it (`sequences * seq_len`).
    pub tokens: u64,
    /// Completed passes over its snapshot (0: it was not read to its end).
    pub epochs: u64,
    /// Tokens in its manifest (the pipeline's count).
    pub manifest_tokens: u64,
}

/// What `corpusminer train` writes as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// The model's shape.
    pub model: ModelConfig,
    /// Parameters.
    pub parameters: usize,
    /// The run's settings.
    pub settings: TrainSettings,
    /// The sources.
    pub sources: Vec<SourceSpec>,
    /// Their use.
    pub usage: Vec<SourceUsage>,
    /// Tokens trained on (`steps * B * T`).
    pub tokens: u64,
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every evaluation.
    pub evals: Vec<EvalRecord>,
    /// Math bits per byte at the end (all math sets together).
    pub math_bpb: Option<f64>,
    /// General-text bits per byte at the end.
    pub general_bpb: Option<f64>,
    /// Mean training tokens per second (steps after the first).
    pub tokens_per_s: f64,
    /// Wall time of the training steps, seconds (evaluations excluded).
    pub train_seconds: f64,
    /// Threads candle computes with.
    pub threads: usize,
}

impl TrainReport {
    /// Bits per byte of the last evaluation over every set of `kind` together.
    pub fn final_bpb(evals: &[EvalRecord], kind: EvalKind) -> Option<f64> {
        let last = evals.iter().filter(|e| e.kind == kind).map(|e| e.step).max()?;
        let total = evals.iter().filter(|e| e.kind == kind && e.step == last).fold(Bits::default(), |a, e| a.plus(e.score));
        Some(total.per_byte())
    }
}

/// Draws the loss curve (left: training loss per step, nats per token) and the evaluations
/// (right: bits per byte per set over steps) into an SVG file (no fonts or system libraries).
pub fn plot(report: &TrainReport, path: &Path) -> Result<(), TrainerError> {
    let err = |e: String| TrainerError::Checkpoint { path: path.display().to_string(), message: e };
    let root = SVGBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(600);
    let steps = report.steps.last().map(|s| s.step).unwrap_or(1).max(1);
    let max_loss = report.steps.iter().map(|s| s.loss).fold(0.0f64, f64::max).max(1e-3);
    let mut chart = ChartBuilder::on(&left)
        .caption("training loss (nats/token)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..steps, 0.0..max_loss * 1.05)
        .map_err(|e| err(e.to_string()))?;
    chart.configure_mesh().x_desc("step").draw().map_err(|e| err(e.to_string()))?;
    chart.draw_series(LineSeries::new(report.steps.iter().map(|s| (s.step, s.loss)), &BLUE)).map_err(|e| err(e.to_string()))?;
    let mut names: Vec<&str> = report.evals.iter().map(|e| e.set.as_str()).collect();
    names.sort();
    names.dedup();
    let max_bpb = report.evals.iter().map(|e| e.bpb).fold(0.0f64, f64::max).max(1e-3);
    let mut chart = ChartBuilder::on(&right)
        .caption("held-out bits per byte", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..steps, 0.0..max_bpb * 1.05)
        .map_err(|e| err(e.to_string()))?;
    chart.configure_mesh().x_desc("step").draw().map_err(|e| err(e.to_string()))?;
    for (i, name) in names.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(u64, f64)> = report.evals.iter().filter(|e| e.set == *name).map(|e| (e.step, e.bpb)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(name.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(|e| err(e.to_string()))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
