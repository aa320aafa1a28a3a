//! Training speed of one model shape on this machine: forward, backward and AdamW update timed
//! apart on random token batches (speed does not depend on the token values), fp32, eager.

use crate::config::{ModelConfig, TrainSettings};
use crate::error::TrainerError;
use crate::model::Model;
use crate::optim::AdamW;
use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// Timings of [`bench_model`], per step (means over the timed steps).
#[derive(Debug, Clone, Serialize)]
pub struct StepTimings {
    /// Parameters of the model.
    pub parameters: usize,
    /// Training tokens per second (`B * T` per step).
    pub tokens_per_s: f64,
    /// Forward pass and loss, milliseconds.
    pub forward_ms: f64,
    /// Backward pass, milliseconds.
    pub backward_ms: f64,
    /// Gradient clipping and AdamW update, milliseconds.
    pub update_ms: f64,
}

/// Times `steps` training steps (after one untimed warm-up step) of a model of shape `config`
/// on batches of `batch` random sequences of `seq_len` tokens.
pub fn bench_model(config: &ModelConfig, batch: usize, seq_len: usize, steps: usize) -> Result<StepTimings, TrainerError> {
    let dev = crate::train::device();
    let model = Model::new(config, 0, DType::F32, &dev)?;
    let settings = TrainSettings::default();
    let mut opt = AdamW::new(model.params(), &settings)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (mut f, mut b, mut u) = (0.0, 0.0, 0.0);
    for i in 0..=steps {
        let ids: Vec<u32> = (0..batch * (seq_len + 1)).map(|_| rng.gen_range(0..config.vocab_size as u32)).collect();
        let ids = Tensor::from_vec(ids, (batch, seq_len + 1), &dev)?;
        let t0 = Instant::now();
        let loss = model.loss(&ids)?;
        loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(model.params(), &grads, 1e-3, 1.0)?;
        let t3 = Instant::now();
        if i > 0 {
            f += (t1 - t0).as_secs_f64();
            b += (t2 - t1).as_secs_f64();
            u += (t3 - t2).as_secs_f64();
        }
    }
    let n = steps.max(1) as f64;
    Ok(StepTimings {
        parameters: config.parameters(),
        tokens_per_s: (batch * seq_len) as f64 * n / (f + b + u),
        forward_ms: f / n * 1e3,
        backward_ms: b / n * 1e3,
        update_ms: u / n * 1e3,
    })
}
