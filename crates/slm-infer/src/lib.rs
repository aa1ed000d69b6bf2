//! slm-infer: the generation engine that the server, the CLI and any other
//! Rust program embed to produce text from a model directory.
//!
//! It loads `config.json`, `model.safetensors` and `tokenizer.json`, runs a
//! specialised native CPU implementation of the model (f16, bf16, f32 or int8
//! weights; kernels for AVX-512, AVX2, NEON, wasm SIMD128 and a portable
//! fallback, chosen at run time; batched decode that reads each
//! weight once per step for every running sequence), and schedules requests
//! with continuous batching on its own thread: chunked prefill, per-request
//! seeded sampling (temperature, top-k, top-p, presence, frequency and DRY
//! penalties), stop sequences, streaming UTF-8 deltas, cancellation and a
//! bounded queue.
//!
//! It deliberately does not train and has no HTTP or other web code. It does
//! not depend on Burn unless the `burn` cargo feature is on.
//!
//! # Running on a Burn device (feature `burn`)
//!
//! With `--features burn`, `BurnDecoder` implements [`DecodeModel`] with
//! slm-model's Burn `Transformer` and a KV cache per slot, and
//! `Engine::load_burn` loads a model directory onto any Burn `Device`
//! (re-exported as `slm_model::burn::prelude::Device`). The workspace's
//! `burn` dependency compiles the CPU backends (flex, ndarray). For a GPU, the
//! embedding program also depends on `burn` (the workspace's pinned version,
//! so it is the same crate) with the backend's feature, and passes that
//! device:
//!
//! ```text
//! # Cargo.toml of the embedding program
//! slm-infer = { workspace = true, features = ["burn"] }
//! burn = { workspace = true, features = ["wgpu"] }      # or "cuda"
//! # or, for a package that already depends on both:
//! cargo build -p my-app --features slm-infer/burn,burn/wgpu
//! ```
//!
//! ```ignore
//! use slm_model::burn::prelude::Device;
//! // Device::cuda(0) with burn/cuda; Device::wgpu(DeviceKind::DefaultDevice) with burn/wgpu.
//! let device = Device::cuda(0);
//! let engine = slm_infer::Engine::load_burn("models/tinystories-15m", device, Default::default())?;
//! ```
//!
//! The Burn path is checked against the native model on `Device::flex()`
//! only: this project's machines have no GPU, so the GPU backends are not
//! tested here. It runs batch items one after another (batch 1 each) and
//! computes full-vocabulary logits for every new position; on a CPU the
//! native model, built for speed there, remains the default (the two have
//! not been benchmarked against each other).

#[cfg(feature = "burn")]
mod burn_decoder;
pub mod config;
mod engine;
pub mod error;
pub mod guide;
pub mod kernels;
mod model;
mod model_dir;
pub mod native;
mod output;
mod request;
mod sampling;
mod scheduler;
mod stream;
mod weights;

#[cfg(feature = "burn")]
pub use burn_decoder::BurnDecoder;
pub use config::ModelConfig;
pub use engine::{
    Engine, EngineOptions, EngineStats, MAX_STOP_BYTES, MAX_STOP_SEQUENCES, ModelInfo,
    check_stop_sequences,
};
pub use error::InferError;
pub use kernels::isa::Isa;
pub use kernels::matrix::WeightDtype;
pub use model::{DecodeModel, SeqWork};
pub use native::{NativeDecoder, NativeModel, NativeOptions};
pub use output::{FinishReason, OutputFilter};
pub use request::{
    Completion, GenerateRequest, MAX_TOP_LOGPROBS, PromptOverflow, StreamEvent, Timings,
    TokenChoice, TokenLogprob, Usage,
};
pub use sampling::{Sampler, argmax, log_probs};
pub use slm_model::FileDtype;
pub use slm_model::generation::{
    GenerationDefaults, InvalidSetting, MAX_DRY_ALLOWED_LENGTH, MAX_DRY_BASE, MAX_DRY_MULTIPLIER,
    MAX_PENALTY, MAX_TEMPERATURE, SamplingParams,
};
pub use stream::{CancelHandle, GenerationStream};
