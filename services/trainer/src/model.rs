//! The decoder-only transformer: token embedding, `L` pre-norm blocks (RMSNorm → causal
//! multi-head attention with rotary positions → residual; RMSNorm → SwiGLU MLP → residual), a
//! final RMSNorm and an untied output head. This is the Llama architecture, which the
//! DeepSeekMath models share (arXiv 2402.03300 §2.3 trains a DeepSeek-LLM 1.3B of that shape),
//! and the parameters carry Hugging Face `LlamaForCausalLM`'s names, so an export is a copy.

use crate::config::ModelConfig;
use crate::ops;
use candle_core::{DType, Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// A model: its config and its parameters as candle [`Var`]s (trainable leaves), in a fixed
/// order (that of [`parameter_shapes`]).
pub struct Model {
    config: ModelConfig,
    params: Vec<(String, Var)>,
}

/// The parameters' Hugging Face names and shapes (`[out, in]` for projections), in order.
pub fn parameter_shapes(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (v, d, f) = (c.vocab_size, c.hidden_size, c.intermediate_size);
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![d]));
        for proj in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            out.push((format!("{p}.self_attn.{proj}.weight"), vec![d, d]));
        }
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![f, d]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![f, d]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![d, f]));
    }
    out.push(("model.norm.weight".to_string(), vec![d]));
    out.push(("lm_head.weight".to_string(), vec![v, d]));
    out
}

/// `x @ w^T` for `x` `[..., in]` and `w` `[out, in]` (a bias-free linear layer).
fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let last = *dims.last().expect("linear input has a last dimension");
    let rows = x.elem_count() / last;
    let y = x.reshape((rows, last))?.matmul(&w.t()?)?;
    let mut out_dims = dims;
    *out_dims.last_mut().expect("non-empty") = w.dim(0)?;
    y.reshape(out_dims)
}

impl Model {
    /// A freshly initialised model: weights ~ N(0, 0.02²), the residual projections (`o_proj`,
    /// `down_proj`) scaled by 1/√(2L) as GPT-2 does, norm gains 1; drawn from ChaCha8 seeded
    /// with `seed`, so the same seed gives the same model on any machine.
    pub fn new(config: &ModelConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let resid_std = 0.02 / (2.0 * config.num_hidden_layers as f64).sqrt();
        let mut tensors = HashMap::new();
        for (name, shape) in parameter_shapes(config) {
            let n: usize = shape.iter().product();
            let values: Vec<f64> = if name.ends_with("norm.weight") {
                vec![1.0; n]
            } else {
                let std = if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") { resid_std } else { 0.02 };
                (0..n).map(|_| std * standard_normal(&mut rng)).collect()
            };
            tensors.insert(name, Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?);
        }
        Self::from_tensors(config, tensors)
    }

    /// A model from named tensors (a checkpoint or an export): every name of
    /// [`parameter_shapes`] must be present with its shape. Extra names are ignored.
    pub fn from_tensors(config: &ModelConfig, mut tensors: HashMap<String, Tensor>) -> Result<Self> {
        let mut params = Vec::new();
        for (name, shape) in parameter_shapes(config) {
            let t = tensors.remove(&name).ok_or_else(|| candle_core::Error::Msg(format!("missing parameter {name}")))?;
            if t.dims() != shape.as_slice() {
                return Err(candle_core::Error::Msg(format!("parameter {name} has shape {:?}, the config says {shape:?}", t.dims())));
            }
            params.push((name, Var::from_tensor(&t)?));
        }
        Ok(Model { config: config.clone(), params })
    }

    /// The config.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The parameters, named, in [`parameter_shapes`] order.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// The parameters' dtype.
    pub fn dtype(&self) -> DType {
        self.params[0].1.dtype()
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        self.params[0].1.device()
    }

    /// The weights, tracked for backpropagation or detached (evaluation and generation build
    /// no backward graph).
    fn weights(&self, track: bool) -> Vec<Tensor> {
        self.params.iter().map(|(_, v)| if track { v.as_tensor().clone() } else { v.as_tensor().detach() }).collect()
    }

    /// Logits `[B, T, V]` for token ids `[B, T]` (u32), each position attending to itself and
    /// earlier positions only; differentiable with respect to every parameter.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        self.forward_with(ids, &self.weights(true))
    }

    /// [`Model::forward`] with no backward graph (evaluation, generation).
    pub fn forward_detached(&self, ids: &Tensor) -> Result<Tensor> {
        self.forward_with(ids, &self.weights(false))
    }

    fn forward_with(&self, ids: &Tensor, w: &[Tensor]) -> Result<Tensor> {
        let p = |i: usize| &w[i];
        let c = &self.config;
        let (b, t) = ids.dims2()?;
        let (d, h, hd) = (c.hidden_size, c.num_attention_heads, c.head_dim());
        let mut x = p(0).index_select(&ids.flatten_all()?, 0)?.reshape((b, t, d))?;
        let (cos, sin) = ops::rope_tables(t, hd, c.rope_theta, &x)?;
        let mask = ops::causal_mask(t, &x)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for l in 0..c.num_hidden_layers {
            let base = 1 + l * 9;
            let normed = ops::rms_norm(&x, p(base), c.rms_norm_eps)?;
            let heads = |w: &Tensor| -> Result<Tensor> { linear(&normed, w)?.reshape((b, t, h, hd))?.transpose(1, 2)?.contiguous() };
            let q = ops::apply_rope(&heads(p(base + 1))?, &cos, &sin)?;
            let k = ops::apply_rope(&heads(p(base + 2))?, &cos, &sin)?;
            let v = heads(p(base + 3))?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let attn = ops::softmax_last_dim(&scores)?.matmul(&v)?;
            let attn = attn.transpose(1, 2)?.contiguous()?.reshape((b, t, d))?;
            x = (x + linear(&attn, p(base + 4))?)?;
            let normed = ops::rms_norm(&x, p(base + 5), c.rms_norm_eps)?;
            let gate = linear(&normed, p(base + 6))?.silu()?;
            let up = linear(&normed, p(base + 7))?;
            x = (x + linear(&(gate * up)?, p(base + 8))?)?;
        }
        let n = w.len();
        let x = ops::rms_norm(&x, p(n - 2), c.rms_norm_eps)?;
        linear(&x, p(n - 1))
    }

    /// Per-token negative log-likelihood in nats, `[B * T]`, of a batch `[B, T + 1]` (u32):
    /// positions `0..T` are the input, `1..T + 1` the targets.
    pub fn token_nll(&self, batch: &Tensor) -> Result<Tensor> {
        self.token_nll_with(batch, true)
    }

    /// [`Model::token_nll`] with no backward graph (evaluation).
    pub fn token_nll_detached(&self, batch: &Tensor) -> Result<Tensor> {
        self.token_nll_with(batch, false)
    }

    fn token_nll_with(&self, batch: &Tensor, track: bool) -> Result<Tensor> {
        let (_, t1) = batch.dims2()?;
        let t = t1 - 1;
        let inputs = batch.narrow(1, 0, t)?.contiguous()?;
        let targets = batch.narrow(1, 1, t)?.contiguous()?.flatten_all()?;
        let logits = self.forward_with(&inputs, &self.weights(track))?;
        let v = logits.dim(2)?;
        ops::token_nll(&logits.reshape(((), v))?, &targets)
    }

    /// The training loss: mean next-token cross-entropy in nats over a batch `[B, T + 1]`.
    pub fn loss(&self, batch: &Tensor) -> Result<Tensor> {
        self.token_nll(batch)?.mean_all()
    }

    /// The parameters as named tensors (detached copies share storage; for saving).
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        self.params.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect()
    }
}

/// One draw from N(0, 1) (Box–Muller), so initialisation needs no distribution crate.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss of a tiny f64 model, differentiated by candle's backward pass and by central
    /// finite differences, for every element of every parameter.
    #[test]
    fn every_parameter_gradient_matches_finite_differences() {
        let dev = Device::Cpu;
        let config = ModelConfig::tiny(11, 6);
        let model = Model::new(&config, 7, DType::F64, &dev).unwrap();
        // Larger weights than the 0.02 initialisation, so every term is far from zero.
        for (i, (_, v)) in model.params().iter().enumerate() {
            let t = v.as_tensor();
            let noise = Model::new(&config, 100 + i as u64, DType::F64, &dev).unwrap().params()[i].1.as_tensor().clone();
            v.set(&(t + (noise * 20.0).unwrap()).unwrap()).unwrap();
        }
        let batch = Tensor::new(&[[1u32, 5, 2, 9, 3, 3, 0], [10, 4, 4, 7, 1, 8, 6]], &dev).unwrap();
        let loss = model.loss(&batch).unwrap();
        let grads = loss.backward().unwrap();
        let h = 1e-6;
        let mut checked = 0;
        for (name, var) in model.params() {
            let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("no gradient reaches {name}"));
            let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            assert!(g.iter().any(|x| x.abs() > 1e-9), "{name}: gradient is zero");
            let orig = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let shape = var.dims().to_vec();
            for i in 0..orig.len() {
                let at = |delta: f64| {
                    let mut w = orig.clone();
                    w[i] += delta;
                    var.set(&Tensor::from_vec(w, shape.clone(), &dev).unwrap()).unwrap();
                    model.loss(&batch).unwrap().to_scalar::<f64>().unwrap()
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                var.set(&Tensor::from_vec(orig.clone(), shape.clone(), &dev).unwrap()).unwrap();
                let tol = 1e-6 + 1e-4 * fd.abs().max(g[i].abs());
                assert!((fd - g[i]).abs() < tol, "{name}[{i}]: backward {} vs finite difference {fd}", g[i]);
                checked += 1;
            }
        }
        assert_eq!(checked, config.parameters());
    }

    #[test]
    fn positions_attend_only_to_the_past() {
        let dev = Device::Cpu;
        let config = ModelConfig::tiny(11, 6);
        let model = Model::new(&config, 1, DType::F64, &dev).unwrap();
        let a = model.forward(&Tensor::new(&[[1u32, 2, 3, 4]], &dev).unwrap()).unwrap();
        let b = model.forward(&Tensor::new(&[[1u32, 2, 3, 9]], &dev).unwrap()).unwrap();
        let (a, b) = (a.to_vec3::<f64>().unwrap(), b.to_vec3::<f64>().unwrap());
        assert_eq!(a[0][..3], b[0][..3], "changing the last token changed earlier logits");
        assert_ne!(a[0][3], b[0][3]);
    }
}
