//! A model others can use: a Hugging Face Llama-style folder (`config.json`,
//! `model.safetensors` with `LlamaForCausalLM`'s tensor names in f32, `tokenizer.json`), and
//! sampling from a model (temperature, nucleus / top-p, seeded).

use crate::config::ModelConfig;
use crate::error::TrainerError;
use crate::model::Model;
use crate::tokenizer;
use candle_core::{DType, Device, IndexOp, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use tokenizers::Tokenizer;

/// The `config.json` of `LlamaForCausalLM` for `c` (multi-head attention: as many key/value
/// heads as heads; SiLU gate; untied embeddings; no biases), end-of-document token `eos`.
pub fn hf_config(c: &ModelConfig, eos: u32) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_attention_heads,
        "head_dim": c.head_dim(),
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "hidden_act": "silu",
        "attention_bias": false,
        "mlp_bias": false,
        "tie_word_embeddings": false,
        "bos_token_id": eos,
        "eos_token_id": eos,
        "torch_dtype": "float32",
    })
}

/// Writes the export into `dir` (created if needed).
pub fn export(model: &Model, tok: &Tokenizer, dir: &Path) -> Result<(), TrainerError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    let eos = tokenizer::eos_id(tok)?;
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, serde_json::to_vec_pretty(&hf_config(model.config(), eos)).expect("json")).map_err(|e| TrainerError::io(&cfg, e))?;
    let tensors = model.tensors().into_iter().map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?))).collect::<Result<Vec<_>, TrainerError>>()?;
    let weights = dir.join("model.safetensors");
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta), &weights)
        .map_err(|e| TrainerError::Checkpoint { path: weights.display().to_string(), message: e.to_string() })?;
    let tj = dir.join("tokenizer.json");
    tok.save(&tj, true).map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", tj.display())))
}

/// Reads an export back (any `LlamaForCausalLM` folder of this shape: multi-head attention,
/// untied embeddings).
pub fn load_export(dir: &Path, device: &Device) -> Result<(Model, Tokenizer), TrainerError> {
    let cfg = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg).map_err(|e| TrainerError::io(&cfg, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| TrainerError::Config(format!("{}: {e}", cfg.display())))?;
    let num = |k: &str| v.get(k).and_then(|x| x.as_u64()).map(|x| x as usize).ok_or_else(|| TrainerError::Config(format!("{}: no {k}", cfg.display())));
    let heads = num("num_attention_heads")?;
    if v.get("num_key_value_heads").and_then(|x| x.as_u64()).is_some_and(|k| k as usize != heads) || v.get("tie_word_embeddings").and_then(|x| x.as_bool()) == Some(true) {
        return Err(TrainerError::Config(format!("{}: grouped-query attention and tied embeddings are not supported", cfg.display())));
    }
    let config = ModelConfig {
        vocab_size: num("vocab_size")?,
        hidden_size: num("hidden_size")?,
        intermediate_size: num("intermediate_size")?,
        num_hidden_layers: num("num_hidden_layers")?,
        num_attention_heads: heads,
        max_position_embeddings: num("max_position_embeddings")?,
        rope_theta: v.get("rope_theta").and_then(|x| x.as_f64()).unwrap_or(10_000.0),
        rms_norm_eps: v.get("rms_norm_eps").and_then(|x| x.as_f64()).unwrap_or(1e-6),
    };
    config.validate()?;
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), device)?;
    let model = Model::from_tensors(&config, tensors)?;
    let tok = tokenizer::load(&dir.join("tokenizer.json"))?;
    Ok((model, tok))
}

/// How to sample.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    /// Softmax temperature; 0 picks the most likely token (greedy).
    pub temperature: f64,
    /// Nucleus sampling: draw from the smallest set of tokens whose probability reaches this.
    pub top_p: f64,
    /// Seeds the ChaCha8 draws (same seed, same text).
    pub seed: u64,
    /// Tokens to generate at most (generation also stops at the end-of-document token).
    pub max_tokens: usize,
}

/// Continues `prompt` (an empty prompt starts a document) with up to `max_tokens` tokens; the
/// context is the last `max_position_embeddings` tokens. Returns the generated text only.
pub fn generate(model: &Model, tok: &Tokenizer, prompt: &str, s: Sampling) -> Result<String, TrainerError> {
    let eos = tokenizer::eos_id(tok)?;
    let mut ids = vec![eos];
    ids.extend(tokenizer::encode(tok, prompt)?);
    let first_new = ids.len();
    let ctx = model.config().max_position_embeddings;
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    for _ in 0..s.max_tokens {
        let window = &ids[ids.len().saturating_sub(ctx)..];
        let input = Tensor::new(window, model.device())?.unsqueeze(0)?;
        let logits = model.forward_detached(&input)?.i((0, window.len() - 1))?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let next = pick(&logits, s, &mut rng);
        if next == eos {
            break;
        }
        ids.push(next);
    }
    tokenizer::decode(tok, &ids[first_new..])
}

/// One token from `logits` by [`Sampling`]'s rule.
fn pick(logits: &[f64], s: Sampling, rng: &mut ChaCha8Rng) -> u32 {
    let argmax = || logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap_or(0);
    if s.temperature <= 0.0 {
        return argmax();
    }
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut probs: Vec<(usize, f64)> = logits.iter().map(|l| ((l - max) / s.temperature).exp()).enumerate().collect();
    let z: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut n = 0;
    for (_, p) in &probs {
        kept += p / z;
        n += 1;
        if kept >= s.top_p {
            break;
        }
    }
    let u: f64 = rng.gen::<f64>() * probs[..n].iter().map(|p| p.1).sum::<f64>();
    let mut acc = 0.0;
    for (i, p) in &probs[..n] {
        acc += p;
        if u < acc {
            return *i as u32;
        }
    }
    probs[n - 1].0 as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_reloads_with_the_same_logits_and_samples_reproducibly() {
        let texts = ["x + y = 2", "a proof of the lemma", "sum of squares"];
        let tok = tokenizer::train_bpe(texts.iter().cycle().take(20).copied(), 280).unwrap();
        let config = ModelConfig::tiny(tok.get_vocab_size(true), 12);
        let model = Model::new(&config, 3, DType::F32, &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        export(&model, &tok, dir.path()).unwrap();
        let hf: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(hf["architectures"][0], "LlamaForCausalLM");
        let (back, tok2) = load_export(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(back.config(), &config);
        let ids = Tensor::new(&[[1u32, 7, 3, 200, 5]], &Device::Cpu).unwrap();
        let a = model.forward(&ids).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = back.forward(&ids).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b);
        let st = safetensors::SafeTensors::deserialize(&std::fs::read(dir.path().join("model.safetensors")).unwrap()).unwrap().names().len();
        assert_eq!(st, crate::model::parameter_shapes(&config).len());
        let s = Sampling { temperature: 1.0, top_p: 0.9, seed: 4, max_tokens: 8 };
        let g1 = generate(&back, &tok2, "x +", s).unwrap();
        assert_eq!(g1, generate(&back, &tok2, "x +", s).unwrap());
        let greedy = Sampling { temperature: 0.0, ..s };
        assert_eq!(generate(&back, &tok2, "x", greedy).unwrap(), generate(&model, &tok, "x", Sampling { seed: 99, ..greedy }).unwrap());
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        let logits = [10.0, 9.9, -10.0, -10.0];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let s = Sampling { temperature: 1.0, top_p: 0.5, seed: 0, max_tokens: 1 };
        assert!((0..200).all(|_| pick(&logits, s, &mut rng) == 0));
        let s = Sampling { top_p: 0.99, ..s };
        let picks: Vec<u32> = (0..200).map(|_| pick(&logits, s, &mut rng)).collect();
        assert!(picks.contains(&1) && picks.iter().all(|&p| p < 2));
    }
}
