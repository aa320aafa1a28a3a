//! corpusminer trainer: trains a small decoder-only transformer on a corpus snapshot with
//! candle and judges corpora the way DeepSeekMath did (arXiv 2402.03300 §2.2, Table 1: the same
//! model, the same token budget, one corpus against another), here in bits per byte on held-out
//! math text and general web text.
//!
//! - [`config`]: the model's shape (a JSON file, Llama names) and the run's settings.
//! - [`ops`], [`model`]: the transformer, from candle ops that have a backward pass.
//! - [`optim`]: AdamW with saveable state, the paper's multi-step schedule, gradient clipping.
//! - [`data`], [`tokenizer`]: streamed snapshots, weighted mixtures, byte-level BPE, packing;
//!   [`derive`]: the corpora a mined one is compared against (below threshold, random pages).
//! - [`checkpoint`]: safetensors checkpoints that resume a run exactly.
//! - [`eval`], [`report`]: bits per byte, the report JSON and its SVG plot.
//! - [`train`]: the loop; [`compare`]: the corpus comparison table; [`export`]: Hugging Face
//!   export and sampling.

pub mod bench;
pub mod checkpoint;
pub mod compare;
pub mod config;
pub mod data;
pub mod derive;
pub mod error;
pub mod eval;
pub mod export;
pub mod model;
pub mod ops;
pub mod optim;
pub mod report;
pub mod tokenizer;
pub mod train;

pub use config::{ModelConfig, TrainSettings};
pub use data::SourceSpec;
pub use error::TrainerError;
pub use model::Model;
pub use report::TrainReport;
pub use train::{train, Progress, TokenizerSource, TrainJob};
