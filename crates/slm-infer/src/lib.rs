//! slm-infer: the generation engine that the server, the CLI and any other
//! Rust program embed to produce text from a model directory.
//!
//! It loads `config.json`, `model.safetensors` and `tokenizer.json`, runs a
//! specialised native CPU implementation of the model (half-precision weights,
//! AVX-512 kernels with a portable fallback, batched decode that reads each
//! weight once per step for every running sequence), and schedules requests
//! with continuous batching on its own thread: chunked prefill, per-request
//! seeded sampling (temperature, top-k, top-p), stop sequences, streaming
//! UTF-8 deltas, cancellation and a bounded queue.
//!
//! It deliberately does not train, does not depend on Burn (a Burn-backed
//! model can be plugged in through [`DecodeModel`]), and has no HTTP or other
//! web code.

pub mod config;
mod engine;
pub mod error;
pub mod kernels;
mod model;
pub mod native;
mod output;
pub mod random_model;
mod request;
mod sampling;
mod scheduler;
mod stream;
mod weights;

pub use config::ModelConfig;
pub use engine::{
    Engine, EngineOptions, EngineStats, GenerationDefaults, MAX_STOP_BYTES, MAX_STOP_SEQUENCES,
    ModelInfo,
};
pub use error::InferError;
pub use kernels::matrix::WeightDtype;
pub use model::{DecodeModel, SeqWork};
pub use native::{NativeDecoder, NativeModel, NativeOptions};
pub use output::{FinishReason, OutputFilter};
pub use request::{Completion, GenerateRequest, PromptOverflow, StreamEvent, Timings, Usage};
pub use sampling::{Sampler, SamplingParams, argmax};
pub use stream::{CancelHandle, GenerationStream};
