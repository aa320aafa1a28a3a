//! The model's size (a JSON file, Llama-style names so the export's `config.json` is the same
//! object) and the training run's settings.

use crate::error::TrainerError;
use serde::{Deserialize, Serialize};

/// A decoder-only transformer's shape: pre-norm (RMSNorm), causal multi-head attention with
/// rotary positions, a SwiGLU MLP; the field names are Hugging Face `LlamaConfig`'s, so the file
/// is also the exported `config.json`'s core. Read with [`ModelConfig::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Token ids are `0..vocab_size` (the tokenizer's vocabulary, special tokens included).
    pub vocab_size: usize,
    /// Model width `D` (the residual stream).
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP's hidden layer `F`.
    pub intermediate_size: usize,
    /// Transformer blocks `L`.
    pub num_hidden_layers: usize,
    /// Attention heads `H`; `D` must be a multiple of `H`, and `D / H` even (rotary pairs).
    pub num_attention_heads: usize,
    /// Longest context in tokens (the training sequence length).
    pub max_position_embeddings: usize,
    /// Rotary base θ (Llama: 10000).
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RMSNorm ε.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
}

fn default_rope_theta() -> f64 {
    10_000.0
}

fn default_rms_norm_eps() -> f64 {
    1e-5
}

impl ModelConfig {
    /// Parses and validates a JSON config. Errors: [`TrainerError::Config`].
    pub fn from_json(text: &str) -> Result<Self, TrainerError> {
        let c: ModelConfig = serde_json::from_str(text).map_err(|e| TrainerError::Config(format!("model config: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the shape's constraints (head width even, everything non-zero).
    pub fn validate(&self) -> Result<(), TrainerError> {
        let bad = |m: String| Err(TrainerError::Config(m));
        if self.vocab_size == 0 || self.hidden_size == 0 || self.intermediate_size == 0 || self.num_hidden_layers == 0 || self.max_position_embeddings == 0 {
            return bad("model config: every size must be positive".into());
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!("model config: hidden_size {} is not a multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads));
        }
        if self.head_dim() % 2 != 0 {
            return bad(format!("model config: head width {} must be even for rotary positions", self.head_dim()));
        }
        Ok(())
    }

    /// Width of one head, `D / H`.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Parameters in the model (embedding and output head untied, counted once each).
    pub fn parameters(&self) -> usize {
        let (v, d, f, l) = (self.vocab_size, self.hidden_size, self.intermediate_size, self.num_hidden_layers);
        2 * v * d + d + l * (4 * d * d + 3 * d * f + 2 * d)
    }

    /// A tiny shape for tests: 2 layers, width 8, 2 heads.
    pub fn tiny(vocab_size: usize, context: usize) -> Self {
        ModelConfig {
            vocab_size,
            hidden_size: 8,
            intermediate_size: 12,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            max_position_embeddings: context,
            rope_theta: default_rope_theta(),
            rms_norm_eps: default_rms_norm_eps(),
        }
    }
}

/// The optimiser and schedule of a run (arXiv 2402.03300 §2.3: AdamW with β1 = 0.9, β2 = 0.95,
/// weight decay 0.1, a multi-step schedule after a linear warm-up, gradients clipped at 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Sequences per step `B`.
    pub batch_size: usize,
    /// Tokens per sequence `T` (at most the model's `max_position_embeddings`).
    pub seq_len: usize,
    /// Optimiser steps; the token budget is `steps * batch_size * seq_len`.
    pub steps: u64,
    /// Peak learning rate.
    pub peak_lr: f64,
    /// Linear warm-up steps from 0 to the peak.
    pub warmup_steps: u64,
    /// Decoupled weight decay, applied to matrices only (not to norm gains).
    pub weight_decay: f64,
    /// AdamW β1.
    pub beta1: f64,
    /// AdamW β2.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Clip the global gradient norm to this (L2 over every parameter); 0 turns clipping off.
    pub grad_clip: f64,
    /// Seeds the initial weights and the data mixture.
    pub seed: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            batch_size: 16,
            seq_len: 128,
            steps: 200,
            peak_lr: 3e-3,
            warmup_steps: 20,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            grad_clip: 1.0,
            seed: 0,
        }
    }
}

impl TrainSettings {
    /// Tokens the run trains on (`steps * B * T`).
    pub fn token_budget(&self) -> u64 {
        self.steps * (self.batch_size * self.seq_len) as u64
    }

    /// Checks the settings against the model (sequence length within its context).
    pub fn validate(&self, model: &ModelConfig) -> Result<(), TrainerError> {
        if self.batch_size == 0 || self.seq_len == 0 || self.steps == 0 {
            return Err(TrainerError::Config("batch size, sequence length and steps must be positive".into()));
        }
        if self.seq_len > model.max_position_embeddings {
            return Err(TrainerError::Config(format!(
                "sequence length {} is over the model's context {}",
                self.seq_len, model.max_position_embeddings
            )));
        }
        Ok(())
    }
}
