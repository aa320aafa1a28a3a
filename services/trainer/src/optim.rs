//! AdamW with its state in the open (so a checkpoint can save and restore it), the paper's
//! multi-step learning-rate schedule, and clipping by the global gradient norm.

use crate::config::TrainSettings;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// The learning rate at `step` (0-based) of `total`: linear warm-up from `peak / warmup` to
/// `peak` over the first `warmup` steps, then `peak` until 80% of the steps, 31.6% of it until
/// 90%, and 10% after (the multi-step schedule of arXiv 2402.03300 §2.3 and DeepSeek LLM).
pub fn learning_rate(step: u64, total: u64, warmup: u64, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let frac = step as f64 / total as f64;
    if frac < 0.8 {
        peak
    } else if frac < 0.9 {
        peak * 0.316
    } else {
        peak * 0.1
    }
}

/// AdamW (Loshchilov & Hutter 2019: Adam with decoupled weight decay), state per parameter:
/// the first and second moments `m`, `v` (same shape and dtype as the parameter) and the step
/// count `t`. Weight decay applies to parameters of rank ≥ 2 only (norm gains are not decayed).
pub struct AdamW {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Updates applied so far (the bias corrections use it).
    pub t: u64,
    /// First moments, one per parameter, in the model's parameter order.
    pub m: Vec<Tensor>,
    /// Second moments, one per parameter.
    pub v: Vec<Tensor>,
}

impl AdamW {
    /// Zero moments for `params`, hyperparameters from `s`.
    pub fn new(params: &[(String, Var)], s: &TrainSettings) -> Result<Self> {
        let zeros = || params.iter().map(|(_, p)| p.zeros_like()).collect::<Result<Vec<_>>>();
        Ok(AdamW { beta1: s.beta1, beta2: s.beta2, eps: s.eps, weight_decay: s.weight_decay, t: 0, m: zeros()?, v: zeros()? })
    }

    /// One update with learning rate `lr`: gradients from `grads` (a parameter without one is
    /// left as it is), clipped so their global L2 norm is at most `clip` (0: no clipping).
    /// Returns the global gradient norm before clipping.
    pub fn step(&mut self, params: &[(String, Var)], grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let gs: Vec<Option<&Tensor>> = params.iter().map(|(_, p)| grads.get(p.as_tensor())).collect();
        let mut sq = 0.0;
        for g in gs.iter().flatten() {
            sq += g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip { clip / norm } else { 1.0 };
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        for (i, ((_, p), g)) in params.iter().zip(gs).enumerate() {
            let Some(g) = g else { continue };
            let g = (g * scale)?;
            self.m[i] = ((&self.m[i] * self.beta1)? + (&g * (1.0 - self.beta1))?)?;
            self.v[i] = ((&self.v[i] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let m_hat = (&self.m[i] / bc1)?;
            let v_hat = (&self.v[i] / bc2)?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            let decayed = if p.rank() >= 2 { (p.as_tensor() * (1.0 - lr * self.weight_decay))? } else { p.as_tensor().clone() };
            p.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_schedule_warms_up_then_steps_down_at_80_and_90_percent() {
        let lr = |s| learning_rate(s, 100, 10, 1.0);
        assert!((lr(0) - 0.1).abs() < 1e-12);
        assert_eq!(lr(9), 1.0);
        assert_eq!(lr(79), 1.0);
        assert_eq!(lr(80), 0.316);
        assert_eq!(lr(89), 0.316);
        assert_eq!(lr(90), 0.1);
        assert_eq!(lr(99), 0.1);
    }

    #[test]
    fn adamw_matches_the_formula_and_clips_by_global_norm() {
        let dev = Device::Cpu;
        let w = Var::from_tensor(&Tensor::new(&[[1.0f64, -2.0], [0.5, 3.0]], &dev).unwrap()).unwrap();
        let params = vec![("w".to_string(), w.clone())];
        let s = TrainSettings { weight_decay: 0.1, ..TrainSettings::default() };
        let mut opt = AdamW::new(&params, &s).unwrap();
        // loss = sum(w * c): gradient c, global norm |c| = 10.
        let c = Tensor::new(&[[6.0f64, 0.0], [0.0, 8.0]], &dev).unwrap();
        let grads = (w.as_tensor() * &c).unwrap().sum_all().unwrap().backward().unwrap();
        let norm = opt.step(&params, &grads, 0.01, 1.0).unwrap();
        assert!((norm - 10.0).abs() < 1e-12);
        // Clipped gradient g = c / 10; first step: m_hat = g, v_hat = g², update = g / (|g| + eps).
        let got = w.as_tensor().to_vec2::<f64>().unwrap();
        let expect = |w0: f64, g: f64| w0 * (1.0 - 0.01 * 0.1) - 0.01 * g / (g.abs() + 1e-8);
        assert!((got[0][0] - expect(1.0, 0.6)).abs() < 1e-12);
        assert!((got[0][1] - expect(-2.0, 0.0)).abs() < 1e-12);
        assert!((got[1][1] - expect(3.0, 0.8)).abs() < 1e-12);
        assert_eq!(opt.t, 1);
    }
}
