//! [`Engine`]: load a model directory, validate and enqueue requests, and
//! expose model information and counters. The generation itself happens on
//! the engine thread (see `scheduler`).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};
use slm_model::generation::{GenerationDefaults, InvalidSetting, check_plan_bias};
use slm_tokenizer::Tokenizer;

use crate::config::ModelConfig;
use crate::error::InferError;
use crate::kernels::isa::Isa;
use crate::kernels::matrix::WeightDtype;
use crate::model::DecodeModel;
use crate::model_dir::{ModelDirParts, check_vocab};
use crate::native::{NativeModel, NativeOptions};
use crate::request::{Completion, GenerateRequest, MAX_TOP_LOGPROBS, PromptOverflow};
use crate::scheduler::{Job, Scheduler, Shared};
use crate::stream::{CancelHandle, GenerationStream};

/// Most stop sequences one request may carry (OpenAI's limit).
pub const MAX_STOP_SEQUENCES: usize = 4;
/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 256;

/// Most slots `max_batch = 0` gives, however much memory `kv_cache_mib` allows.
pub const MAX_AUTO_BATCH: usize = 256;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineOptions {
    /// Sequences generated at once (KV-cache slots); 0: as many as
    /// `kv_cache_mib` holds at full context (at most [`MAX_AUTO_BATCH`]).
    /// A request that finds every slot busy waits in the queue, so enough slots
    /// for the users at hand is what keeps the first token quick under load.
    pub max_batch: usize,
    /// Memory for the KV cache when `max_batch` is 0, in MiB (pages are taken
    /// as sequences grow, so this is a ceiling, not an allocation).
    pub kv_cache_mib: usize,
    /// Requests that may wait for a slot before `submit` answers `QueueFull`.
    pub queue_capacity: usize,
    /// Prompt tokens prefilled per step, shared by all prefilling sequences.
    pub prefill_chunk: usize,
    /// Compute threads (0 = all cores).
    pub threads: usize,
    /// Precision of the weights in memory (`dtype` in a server config).
    #[serde(alias = "dtype")]
    pub weight_dtype: WeightDtype,
    /// Instruction set of the native kernels (`None`: `SLM_ISA` if set,
    /// else the fastest this CPU supports).
    pub isa: Option<Isa>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 0,
            kv_cache_mib: 1024,
            queue_capacity: 256,
            prefill_chunk: 64,
            threads: 0,
            weight_dtype: WeightDtype::default(),
            isa: None,
        }
    }
}

impl EngineOptions {
    /// KV-cache slots for a model of shape `cfg`: `max_batch`, or when it is 0,
    /// as many full-context slots (f32 keys and values) as `kv_cache_mib` holds.
    pub fn slots_for(&self, cfg: &ModelConfig) -> usize {
        if self.max_batch > 0 {
            return self.max_batch;
        }
        let per_slot = cfg.n_layers * 2 * cfg.max_seq_len * cfg.kv_dim() * 4;
        (self.kv_cache_mib * 1024 * 1024 / per_slot.max(1)).clamp(1, MAX_AUTO_BATCH)
    }

    /// Refuses settings the engine cannot run with, naming the field.
    pub fn validate(&self) -> Result<(), InferError> {
        let bad = |m: &str| Err(InferError::InvalidRequest(format!("engine options: {m}")));
        if self.max_batch == 0 && self.kv_cache_mib == 0 {
            return bad("kv_cache_mib must be at least 1 when max_batch is 0 (auto)");
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity must be at least 1");
        }
        if self.prefill_chunk == 0 {
            return bad("prefill_chunk must be at least 1");
        }
        Ok(())
    }
}

/// What was loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model directory's name.
    pub name: String,
    pub config: ModelConfig,
    pub n_params: usize,
    /// Size of `model.safetensors` on disk.
    pub weights_bytes: u64,
    /// Precision the weight matrices are held in.
    pub dtype: WeightDtype,
    /// Matrices held in another precision than `dtype`, by tensor name (q8 keeps a
    /// matrix whose rows are not whole 32-value blocks in f16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dtype_exceptions: Vec<(String, WeightDtype)>,
    pub max_seq_len: usize,
    /// The config's vocabulary (rows in the weights file).
    pub vocab_size: usize,
    /// Vocabulary rows the running model computes logits for: the
    /// tokenizer's size when the config pads beyond it. Set by the engine
    /// from the model it runs.
    #[serde(default)]
    pub active_vocab: usize,
    pub generation: GenerationDefaults,
}

/// Monotonic counters plus current queue and batch sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EngineStats {
    pub queued: usize,
    pub running: usize,
    pub completed: u64,
    pub cancelled: u64,
    pub failed: u64,
    pub tokens_generated: u64,
    pub prompt_tokens: u64,
    pub max_batch: usize,
    pub queue_capacity: usize,
}

/// The inference engine: cheap to clone, shareable across threads.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("info", &self.inner.info)
            .finish_non_exhaustive()
    }
}

struct Inner {
    info: ModelInfo,
    tokenizer: Tokenizer,
    opts: EngineOptions,
    tx: flume::Sender<Job>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        stop_thread(&self.shared, &self.thread);
    }
}

fn stop_thread(shared: &Shared, thread: &Mutex<Option<JoinHandle<()>>>) {
    shared.shutdown.store(true, Ordering::Release);
    let handle = thread.lock().map(|mut h| h.take()).unwrap_or(None);
    if let Some(h) = handle
        && h.join().is_err()
    {
        tracing::error!("engine thread panicked");
    }
}

impl Engine {
    /// Loads `config.json`, `model.safetensors`, `tokenizer.json` and
    /// (optionally) `generation.json` from `model_dir` into the native CPU
    /// model and starts the engine thread.
    pub fn load(model_dir: impl AsRef<Path>, opts: EngineOptions) -> Result<Engine, InferError> {
        let dir = model_dir.as_ref();
        let parts = ModelDirParts::read(dir, &opts)?;
        let native = NativeModel::load_with(
            dir,
            &NativeOptions {
                weight_dtype: opts.weight_dtype,
                threads: opts.threads,
                isa: opts.isa,
                // Rows past the tokenizer can be neither fed nor sampled.
                vocab_rows: Some(parts.tokenizer.vocab_size()),
            },
        )?;
        let exceptions = native.dtype_exceptions().to_vec();
        let slots = opts.slots_for(native.config());
        let decoder = Arc::new(native).decoder(slots);
        parts.start(Box::new(decoder), (opts.weight_dtype, exceptions), opts)
    }

    /// [`Engine::load`] with the Burn model (`slm_model::Transformer`) on
    /// `device` instead of the native CPU model: any Burn backend compiled
    /// into `burn` can run it (e.g. `Device::flex()` on the CPU, a wgpu or
    /// cuda device on a GPU). Weights are held in f32; `weight_dtype`,
    /// `threads` and `isa` of `opts` apply to the native model
    /// only and are ignored. See [`crate::BurnDecoder`] for how a step runs.
    #[cfg(feature = "burn")]
    pub fn load_burn(
        model_dir: impl AsRef<Path>,
        device: slm_model::burn::prelude::Device,
        opts: EngineOptions,
    ) -> Result<Engine, InferError> {
        let dir = model_dir.as_ref();
        let parts = ModelDirParts::read(dir, &opts)?;
        let decoder = crate::burn_decoder::BurnDecoder::load(
            dir,
            &device,
            opts.slots_for(&parts.cfg),
            // Rows past the tokenizer can be neither fed nor sampled.
            Some(parts.tokenizer.vocab_size()),
        )?;
        parts.start(Box::new(decoder), (WeightDtype::F32, Vec::new()), opts)
    }

    /// Starts an engine over any [`DecodeModel`] (e.g. a Burn-backed one).
    /// The model's logit width may be anything from the tokenizer's
    /// vocabulary up to the config's `vocab_size`; `info.active_vocab` is set
    /// to it.
    pub fn with_model(
        model: Box<dyn DecodeModel>,
        tokenizer: Tokenizer,
        mut info: ModelInfo,
        mut opts: EngineOptions,
    ) -> Result<Engine, InferError> {
        opts.validate()?;
        check_vocab(&tokenizer, &info.config)?;
        let width = model.vocab_size();
        if width < tokenizer.vocab_size() || width > info.config.vocab_size {
            return Err(InferError::Model(format!(
                "model computes {width} logits per token; it must be between the tokenizer's \
                 {} tokens and the config's vocab_size {}",
                tokenizer.vocab_size(),
                info.config.vocab_size
            )));
        }
        if model.max_seq_len() != info.max_seq_len {
            return Err(InferError::Model(format!(
                "model reports a context of {}, info says {}",
                model.max_seq_len(),
                info.max_seq_len
            )));
        }
        info.active_vocab = width;
        opts.max_batch = model.num_slots();
        let (tx, rx) = flume::bounded(opts.queue_capacity);
        let shared = Arc::new(Shared::default());
        let scheduler = Scheduler {
            sample_vocab: tokenizer.vocab_size(),
            isa: Isa::resolve(opts.isa)?,
            model,
            tokenizer: tokenizer.clone(),
            rx,
            shared: shared.clone(),
            prefill_chunk: opts.prefill_chunk,
        };
        let thread = std::thread::Builder::new()
            .name("slm-engine".into())
            .spawn(move || scheduler.run())
            .map_err(|e| InferError::ThreadPool(format!("cannot start engine thread: {e}")))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                info,
                tokenizer,
                opts,
                tx,
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Validates and tokenizes `req` and queues it. Fails fast with
    /// `QueueFull` instead of waiting when the queue is at capacity.
    pub fn submit(&self, req: GenerateRequest) -> Result<GenerationStream, InferError> {
        let inner = &*self.inner;
        if inner.shared.shutdown.load(Ordering::Acquire) {
            return Err(InferError::ShuttingDown);
        }
        validate_request(&req)?;
        let tokens = self.prompt_tokens(&req)?;
        let max_seq = inner.info.max_seq_len;
        let max_tokens = req.max_tokens.min(max_seq - tokens.len());
        let seed = req
            .sampling
            .seed
            .unwrap_or_else(|| rand::rng().random::<u64>());
        let (events, rx) = flume::unbounded();
        let cancel = CancelHandle::default();
        let prompt_tokens = tokens.len();
        let job = Job {
            tokens,
            max_tokens,
            sampling: req.sampling,
            seed,
            stop: req.stop,
            trim_to_sentence: req.trim_to_sentence,
            logprobs: req.logprobs,
            plan_bias: req.plan_bias,
            events,
            cancel: cancel.clone(),
            submitted: Instant::now(),
        };
        match inner.tx.try_send(job) {
            Ok(()) => Ok(GenerationStream::new(rx, cancel, prompt_tokens)),
            Err(flume::TrySendError::Full(_)) => Err(InferError::QueueFull {
                capacity: inner.opts.queue_capacity,
            }),
            Err(flume::TrySendError::Disconnected(_)) => Err(InferError::ShuttingDown),
        }
    }

    /// Submits and waits for the whole completion.
    pub fn generate(&self, req: GenerateRequest) -> Result<Completion, InferError> {
        self.submit(req)?.wait()
    }

    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    pub fn stats(&self) -> EngineStats {
        let s = &self.inner.shared;
        EngineStats {
            queued: self.inner.tx.len(),
            running: s.running.load(Ordering::Acquire),
            completed: s.completed.load(Ordering::Relaxed),
            cancelled: s.cancelled.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            tokens_generated: s.tokens_generated.load(Ordering::Relaxed),
            prompt_tokens: s.prompt_tokens.load(Ordering::Relaxed),
            max_batch: self.inner.opts.max_batch,
            queue_capacity: self.inner.opts.queue_capacity,
        }
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.inner.tokenizer
    }

    /// Stops admitting, ends queued and running generations with finish
    /// reason `cancelled`, and joins the engine thread. Idempotent.
    pub fn shutdown(&self) {
        stop_thread(&self.inner.shared, &self.inner.thread);
    }

    /// `text` as the engine reads a prompt: its tokens, or the end-of-text token alone
    /// for an empty one (stories are separated by end-of-text in training, so it is the
    /// natural start).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let tok = &self.inner.tokenizer;
        let mut tokens = tok
            .encode(text)
            .map_err(|e| InferError::InvalidRequest(format!("cannot tokenize prompt: {e}")))?;
        if tokens.is_empty() {
            tokens.push(tok.eot_id());
        }
        Ok(tokens)
    }

    /// The prompt as the model will read it, after overflow handling.
    fn prompt_tokens(&self, req: &GenerateRequest) -> Result<Vec<u32>, InferError> {
        let mut tokens = match &req.prompt_tokens {
            None => self.tokenize(&req.prompt)?,
            Some(given) => {
                let vocab = self.inner.tokenizer.vocab_size();
                if let Some(&bad) = given.iter().find(|&&t| t as usize >= vocab) {
                    return Err(InferError::InvalidRequest(format!(
                        "prompt token {bad} is outside the vocabulary of {vocab} tokens"
                    )));
                }
                if given.is_empty() {
                    vec![self.inner.tokenizer.eot_id()]
                } else {
                    given.clone()
                }
            }
        };
        let max_seq = self.inner.info.max_seq_len;
        match req.overflow {
            PromptOverflow::Reject => {
                // At least one position must remain to generate into.
                let max_prompt = max_seq - 1;
                if tokens.len() > max_prompt {
                    return Err(InferError::PromptTooLong {
                        prompt_tokens: tokens.len(),
                        max_prompt_tokens: max_prompt,
                        max_seq_len: max_seq,
                    });
                }
            }
            PromptOverflow::TruncateLeft => {
                let keep = max_seq - req.max_tokens.min(max_seq / 2);
                let keep = keep.min(max_seq - 1).max(1);
                if tokens.len() > keep {
                    tokens.drain(..tokens.len() - keep);
                }
            }
        }
        Ok(tokens)
    }
}

fn validate_request(req: &GenerateRequest) -> Result<(), InferError> {
    let bad = |m: String| Err(InferError::InvalidRequest(m));
    if req.max_tokens == 0 {
        return bad("max_tokens must be at least 1".into());
    }
    let invalid = |e: InvalidSetting| InferError::InvalidRequest(e.message);
    req.sampling.validate().map_err(invalid)?;
    if let Some(k) = req.logprobs
        && k > MAX_TOP_LOGPROBS
    {
        return bad(format!(
            "logprobs asks for {k} alternatives per token; at most {MAX_TOP_LOGPROBS} are allowed"
        ));
    }
    check_plan_bias(req.plan_bias).map_err(invalid)?;
    check_stop_sequences(&req.stop).map_err(InferError::InvalidRequest)
}

/// At most [`MAX_STOP_SEQUENCES`] stop sequences, none empty or longer than
/// [`MAX_STOP_BYTES`].
pub fn check_stop_sequences(stop: &[String]) -> Result<(), String> {
    if stop.len() > MAX_STOP_SEQUENCES {
        return Err(format!(
            "at most {MAX_STOP_SEQUENCES} stop sequences are allowed, got {}",
            stop.len()
        ));
    }
    for s in stop {
        if s.is_empty() {
            return Err("stop sequences must not be empty strings".into());
        }
        if s.len() > MAX_STOP_BYTES {
            return Err(format!(
                "stop sequences must be at most {MAX_STOP_BYTES} bytes, got one of {}",
                s.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use slm_model::generation::SamplingParams;

    proptest! {
        #[test]
        fn request_validation_accepts_exactly_the_valid_ones(
            max_tokens in 0usize..5,
            temperature in -1f32..3.0,
            top_p in -0.5f32..1.5,
            top_k in proptest::option::of(0usize..5),
            presence_penalty in -3f32..3.0,
            stops in proptest::collection::vec(".{0,3}", 0..20),
        ) {
            let req = GenerateRequest {
                max_tokens,
                sampling: SamplingParams {
                    temperature,
                    top_k,
                    top_p,
                    presence_penalty,
                    ..Default::default()
                },
                stop: stops.clone(),
                ..Default::default()
            };
            let valid = max_tokens > 0
                && (0.0..=2.0).contains(&temperature)
                && top_p > 0.0 && top_p <= 1.0
                && presence_penalty.abs() <= 2.0
                && stops.len() <= MAX_STOP_SEQUENCES
                && stops.iter().all(|s| !s.is_empty());
            let r = validate_request(&req);
            prop_assert_eq!(r.is_ok(), valid, "{:?}", r);
        }
    }
}
