//! Checkpoints: one safetensors file holding the weights (Hugging Face names), the AdamW
//! moments (`optim.m.<name>`, `optim.v.<name>`), and, in the header's metadata under
//! `corpusminer`, a JSON [`CheckpointState`]: step, AdamW's step count, the data position (each
//! source's file, line and pending tokens, the mixture's RNG position), settings and history. A
//! run resumed from it reproduces the uninterrupted run step for step.

use crate::config::{ModelConfig, TrainSettings};
use crate::data::{MixturePosition, SourceSpec};
use crate::error::TrainerError;
use crate::model::Model;
use crate::optim::AdamW;
use crate::report::{EvalRecord, StepRecord};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

const METADATA_KEY: &str = "corpusminer";

/// Everything of a run besides its tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps completed.
    pub step: u64,
    /// AdamW's update count (its bias corrections).
    pub adam_t: u64,
    /// Where the data stream is.
    pub data: MixturePosition,
    /// The model's shape.
    pub model: ModelConfig,
    /// The run's settings.
    pub settings: TrainSettings,
    /// The sources, in mixture order.
    pub sources: Vec<SourceSpec>,
    /// Steps so far.
    pub history: Vec<StepRecord>,
    /// Evaluations so far.
    pub evals: Vec<EvalRecord>,
}

fn ck_err(path: &Path, message: impl std::fmt::Display) -> TrainerError {
    TrainerError::Checkpoint { path: path.display().to_string(), message: message.to_string() }
}

/// Writes a checkpoint (a temporary file, then a rename, so a reader never sees half of one).
pub fn save(path: &Path, model: &Model, opt: &AdamW, state: &CheckpointState) -> Result<(), TrainerError> {
    let mut tensors: Vec<(String, Tensor)> = model.tensors();
    for (i, (name, _)) in model.params().iter().enumerate() {
        tensors.push((format!("optim.m.{name}"), opt.m[i].clone()));
        tensors.push((format!("optim.v.{name}"), opt.v[i].clone()));
    }
    let meta = HashMap::from([(METADATA_KEY.to_string(), serde_json::to_string(state).map_err(|e| ck_err(path, e))?)]);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    }
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta), &tmp).map_err(|e| ck_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainerError::io(path, e))
}

/// A loaded checkpoint.
pub struct Loaded {
    /// The model with its weights.
    pub model: Model,
    /// AdamW with its moments and step count.
    pub opt: AdamW,
    /// The rest.
    pub state: CheckpointState,
}

/// Reads a checkpoint written by [`save`] onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<Loaded, TrainerError> {
    let bytes = std::fs::read(path).map_err(|e| TrainerError::io(path, e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| ck_err(path, e))?;
    let json = meta.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)).ok_or_else(|| ck_err(path, "no corpusminer state in the metadata: not a training checkpoint"))?;
    let state: CheckpointState = serde_json::from_str(json).map_err(|e| ck_err(path, e))?;
    let mut tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
    let model = Model::from_tensors(&state.model, tensors.clone()).map_err(|e| ck_err(path, e))?;
    let mut opt = AdamW::new(model.params(), &state.settings)?;
    opt.t = state.adam_t;
    for (i, (name, _)) in model.params().iter().enumerate() {
        let mut take = |k: String| tensors.remove(&k).ok_or_else(|| ck_err(path, format!("missing {k}")));
        opt.m[i] = take(format!("optim.m.{name}"))?;
        opt.v[i] = take(format!("optim.v.{name}"))?;
    }
    Ok(Loaded { model, opt, state })
}
