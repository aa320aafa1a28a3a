//! The model's differentiable building blocks, written from candle ops that have a backward
//! pass (exp, sum, division, square, mean, square root, gather, narrow, cat).
//!
//! candle's fused `candle_nn::ops::softmax_last_dim` and `rms_norm` kernels have no backward
//! pass: a model built on them trains only the parameters that sit after the fused op in the
//! graph. Every function here is checked against finite differences by the model's tests.

use candle_core::{Result, Tensor, D};

/// Softmax over the last dimension (any shape). The row maximum is subtracted first, detached
/// (softmax is shift-invariant, so its gradient is exactly that of the unshifted form).
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    let s = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&s)
}

/// RMSNorm (Zhang & Sennrich 2019, as in Llama): `x / sqrt(mean(x², last dim) + eps) * weight`.
/// `x`: `[..., D]`, `weight`: `[D]`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let rms = (ms + eps)?.sqrt()?;
    x.broadcast_div(&rms)?.broadcast_mul(weight)
}

/// Per-token negative log-likelihood in nats: `logits` `[N, V]`, `targets` `[N]` (u32) →
/// `[N]`, computed as `logsumexp(logits) - logits[target]`.
pub fn token_nll(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&targets.unsqueeze(1)?, 1)?;
    (lse - picked)?.squeeze(1)
}

/// Mean cross-entropy in nats over `N` tokens (the training loss): [`token_nll`] averaged.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    token_nll(logits, targets)?.mean_all()
}

/// Rotary position embedding (Su et al. 2021) in the Hugging Face Llama layout ("rotate half":
/// the head's first and second halves form the rotated pairs). `x`: `[B, H, T, hd]`; `cos`,
/// `sin`: `[T, hd]` from [`rope_tables`].
pub fn apply_rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let hd = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, hd / 2)?;
    let x2 = x.narrow(D::Minus1, hd / 2, hd / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// The cos and sin tables of [`apply_rope`] for positions `0..t`: `[t, hd]` each, frequency
/// `theta^(-2i/hd)` for pair `i`, repeated over both halves (as Hugging Face's Llama does).
pub fn rope_tables(t: usize, hd: usize, theta: f64, like: &Tensor) -> Result<(Tensor, Tensor)> {
    let half = hd / 2;
    let mut cos = Vec::with_capacity(t * hd);
    let mut sin = Vec::with_capacity(t * hd);
    for pos in 0..t {
        for j in 0..hd {
            let i = j % half;
            let angle = pos as f64 * theta.powf(-2.0 * i as f64 / hd as f64);
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let dev = like.device();
    let cos = Tensor::from_vec(cos, (t, hd), dev)?.to_dtype(like.dtype())?;
    let sin = Tensor::from_vec(sin, (t, hd), dev)?.to_dtype(like.dtype())?;
    Ok((cos, sin))
}

/// The additive causal mask `[t, t]`: 0 where key ≤ query, −∞ above the diagonal.
pub fn causal_mask(t: usize, like: &Tensor) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t).flat_map(|q| (0..t).map(move |k| if k <= q { 0.0 } else { f32::NEG_INFINITY })).collect();
    Tensor::from_vec(mask, (t, t), like.device())?.to_dtype(like.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn softmax_and_rms_norm_match_their_definitions() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[1.0f64, 2.0, 3.0], [-1.0, 0.0, 5.0]], &dev).unwrap();
        let s = softmax_last_dim(&x).unwrap().to_vec2::<f64>().unwrap();
        let e: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let z: f64 = e.iter().sum();
        for (a, b) in s[0].iter().zip(e.iter().map(|v| v / z)) {
            assert!((a - b).abs() < 1e-12);
        }
        let w = Tensor::new(&[1.0f64, 2.0, 0.5], &dev).unwrap();
        let n = rms_norm(&x, &w, 0.0).unwrap().to_vec2::<f64>().unwrap();
        let rms = ((1.0 + 4.0 + 9.0) / 3.0f64).sqrt();
        assert!((n[0][1] - 2.0 * 2.0 / rms).abs() < 1e-12);
        let nll = token_nll(&x, &Tensor::new(&[2u32, 0], &dev).unwrap()).unwrap().to_vec1::<f64>().unwrap();
        assert!((nll[0] - (z.ln() - 3.0)).abs() < 1e-12);
        let m = causal_mask(3, &x.to_dtype(DType::F32).unwrap()).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(m[0][1], f32::NEG_INFINITY);
        assert_eq!(m[2][1], 0.0);
    }
}
