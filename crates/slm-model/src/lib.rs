//! The slm model: a decoder-only Transformer (RMSNorm, rotary embeddings, causal
//! self-attention with optional grouped KV heads, SwiGLU) written once for every Burn
//! backend — a `Device` picks where it runs. Also its `ModelConfig` and the safetensors
//! model-directory format (see docs/architecture.md).
//!
//! It does not train (see `slm-trainer`) or sample (see `slm-infer`), and it never chooses a
//! backend: callers pass the `Device`.

mod attention;
mod cache;
mod config;
mod error;
mod feed_forward;
mod rope;
mod transformer;
mod weights;

pub use cache::KvCache;
pub use config::ModelConfig;
pub use error::ModelError;
pub use transformer::{Block, Transformer};
pub use weights::{
    CONFIG_FILE, WEIGHTS_FILE, WeightDtype, from_safetensors, load_model_dir, read_config,
    save_model_dir, to_safetensors, view_to_f32,
};

/// Re-exported so dependents name the same Burn types without depending on burn directly.
pub use burn;
