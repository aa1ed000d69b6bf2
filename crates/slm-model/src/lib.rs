//! The slm model: a decoder-only Transformer (RMSNorm, rotary embeddings, causal
//! self-attention with optional grouped KV heads, SwiGLU) written once for every Burn
//! backend — a `Device` picks where it runs. Also its `ModelConfig` and the safetensors
//! model-directory format (see docs/architecture.md).
//!
//! With `default-features = false` only the config and the file format are compiled (no
//! Burn), which is what the inference engine needs. It does not train (see `slm-trainer`)
//! or sample (see `slm-infer`), and it never chooses a backend: callers pass the `Device`.

mod config;
mod error;
mod format;
pub mod generation;
pub mod numeric;

#[cfg(feature = "burn")]
mod attention;
#[cfg(feature = "burn")]
mod cache;
#[cfg(feature = "burn")]
mod feed_forward;
#[cfg(feature = "burn")]
pub mod fused;
#[cfg(feature = "burn")]
mod rope;
#[cfg(feature = "burn")]
mod transformer;
#[cfg(feature = "burn")]
mod weights;

pub use config::ModelConfig;
pub use error::ModelError;
pub use format::{
    CONFIG_FILE, FileDtype, TensorName, WEIGHTS_FILE, read_config, rope_tables, tensor_shapes,
    view_to_f32,
};
pub use generation::{GenerationDefaults, InvalidSetting, SamplingParams};

#[cfg(feature = "burn")]
pub use cache::KvCache;
#[cfg(feature = "burn")]
pub use transformer::{Block, Transformer};
#[cfg(feature = "burn")]
pub use weights::{from_safetensors, load_model_dir, save_model_dir, to_safetensors};

/// Re-exported so dependents name the same Burn types without depending on burn directly.
#[cfg(feature = "burn")]
pub use burn;
