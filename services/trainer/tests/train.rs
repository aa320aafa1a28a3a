//! The training loop end to end on small snapshots: the loss falls, a resumed run reproduces the
//! uninterrupted one step for step, and the report holds the curve, the evaluations and a plot.

use candle_core::DType;
use corpusminer_storage::StorageConfig;
use corpusminer_trainer::data::write_snapshot;
use corpusminer_trainer::eval::{EvalKind, EvalSet};
use corpusminer_trainer::{train, ModelConfig, SourceSpec, TokenizerSource, TrainJob, TrainSettings};
use std::path::Path;

/// Two small sources of arithmetic-like and prose-like text, written as dolma snapshots.
fn sources(dir: &Path) -> Vec<SourceSpec> {
    let math: Vec<String> = (0..60).map(|i| format!("Compute {i} + {} = {}. Then {i} times 2 is {}.", i % 9, i + i % 9, 2 * i)).collect();
    let prose: Vec<String> = (0..40).map(|i| format!("The river number {i} runs past the old mill and the {} bridge.", ["stone", "iron", "wooden"][i % 3])).collect();
    write_snapshot(&dir.join("math"), "math", &math).unwrap();
    write_snapshot(&dir.join("prose"), "prose", &prose).unwrap();
    vec![
        SourceSpec { name: "math".into(), uri: dir.join("math").display().to_string(), weight: 0.7 },
        SourceSpec { name: "prose".into(), uri: dir.join("prose").display().to_string(), weight: 0.3 },
    ]
}

fn job(dir: &Path, steps: u64, dtype: DType) -> TrainJob {
    TrainJob {
        model: ModelConfig { hidden_size: 16, intermediate_size: 32, ..ModelConfig::tiny(0, 16) },
        settings: TrainSettings { batch_size: 4, seq_len: 16, steps, peak_lr: 1e-2, warmup_steps: 2, ..TrainSettings::default() },
        sources: sources(dir),
        storage: StorageConfig::default(),
        tokenizer: TokenizerSource::Train { vocab_size: 300, sample_bytes: 4000 },
        out_dir: dir.join("run"),
        eval_sets: vec![EvalSet { name: "sums".into(), kind: EvalKind::Math, texts: vec!["Compute 100 + 3 = 103. Then 100 times 2 is 200.".into()] }],
        eval_every: 0,
        checkpoint_every: 0,
        resume: None,
        stop_after: None,
        dtype,
        write_report: true,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

#[test]
fn the_loss_falls_and_the_report_has_curve_evals_and_plot() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut j = job(dir.path(), 30, DType::F32);
    j.eval_every = 10;
    let mut seen = 0;
    let report = train(&j, rt.handle(), &mut |p| {
        seen += 1;
        assert_eq!(p.step, seen);
    })
    .unwrap();
    let first: f64 = report.steps[..3].iter().map(|s| s.loss).sum::<f64>() / 3.0;
    let last: f64 = report.steps[27..].iter().map(|s| s.loss).sum::<f64>() / 3.0;
    assert!(last < first * 0.7, "loss did not fall: {first} -> {last}");
    assert_eq!(report.evals.iter().map(|e| e.step).collect::<Vec<_>>(), vec![10, 20, 30]);
    assert!(report.evals[2].bpb < report.evals[0].bpb, "held-out bpb did not fall");
    assert_eq!(report.math_bpb, Some(report.evals[2].bpb));
    let shares: u64 = report.usage.iter().map(|u| u.sequences).sum();
    assert_eq!(shares, 30 * 4);
    let back: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("run/report.json")).unwrap()).unwrap();
    assert_eq!(back["steps"].as_array().unwrap().len(), 30);
    let svg = std::fs::read_to_string(dir.path().join("run/loss.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "no curve in the plot");
}

#[test]
fn a_resumed_run_reproduces_the_uninterrupted_run_at_every_step() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut whole = job(dir.path(), 8, DType::F32);
    whole.out_dir = dir.path().join("whole");
    let full = train(&whole, rt.handle(), &mut |_| {}).unwrap();
    let mut first = job(dir.path(), 8, DType::F32);
    first.out_dir = dir.path().join("part");
    first.stop_after = Some(5);
    first.tokenizer = TokenizerSource::File(dir.path().join("whole/tokenizer.json"));
    let part = train(&first, rt.handle(), &mut |_| {}).unwrap();
    assert_eq!(part.steps.len(), 5);
    let mut second = job(dir.path(), 8, DType::F32);
    second.out_dir = dir.path().join("part");
    second.resume = Some(dir.path().join("part/checkpoint.safetensors"));
    let resumed = train(&second, rt.handle(), &mut |_| {}).unwrap();
    assert_eq!(resumed.steps.len(), 8, "the history carries over");
    for (a, b) in full.steps.iter().zip(&resumed.steps) {
        assert!((a.loss - b.loss).abs() < 1e-5, "step {}: {} uninterrupted vs {} resumed", a.step, a.loss, b.loss);
    }
    assert!((full.math_bpb.unwrap() - resumed.math_bpb.unwrap()).abs() < 1e-5);
}
