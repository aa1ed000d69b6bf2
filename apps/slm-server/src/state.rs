//! The state every handler shares: the engine, configuration, request
//! policy, metrics, the shutdown flag and the count of generations in flight.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use slm_infer::{Engine, GenerateRequest, SamplingParams};

use crate::auth::ApiKey;
use crate::chat_template::PromptFormat;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::{EngineGauges, Metrics};
use crate::validate::RequestPolicy;

/// The decode speed one user sees on this machine with the server idle: one greedy
/// generation of up to 64 tokens, run once before the server accepts requests. `None`
/// when it fails or ends before 8 tokens (too few to time).
fn measure_decode(engine: &Engine) -> Option<f64> {
    let req = GenerateRequest {
        prompt: "Once upon a time".into(),
        max_tokens: 64,
        sampling: SamplingParams {
            temperature: 0.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let c = engine.generate(req).ok()?;
    let rate = c.timings.decode_tokens_per_s;
    (c.usage.completion_tokens >= 8 && rate.is_finite() && rate > 0.0).then_some(rate)
}

pub struct AppState {
    pub engine: Engine,
    pub config: ServerConfig,
    pub policy: RequestPolicy,
    pub metrics: Metrics,
    pub api_key: Option<ApiKey>,
    pub web_dir: Option<PathBuf>,
    /// How chat messages become a prompt: the chat format of an instruction-tuned model,
    /// or story text for a base model.
    pub prompt_format: PromptFormat,
    /// Single-stream decode speed measured at start-up (see [`measure_decode`]).
    pub startup_decode_tokens_per_s: Option<f64>,
    /// `/openapi.json` as this server applies it (`openapi::openapi_document`).
    pub openapi_json: actix_web::web::Bytes,
    /// Unix time the model was loaded (`created` of `/v1/models`).
    pub created: u64,
    shutting_down: AtomicBool,
    in_flight: Arc<AtomicUsize>,
}

/// One admitted generation request, counted in flight until dropped: the handler holds
/// it until the whole answer is built, a stream until its last event (or its client left).
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppState {
    /// Loads the model named by the configuration and builds the state.
    pub fn load(config: ServerConfig) -> anyhow::Result<Self> {
        let model_dir = config.resolve_model_dir()?;
        let engine = Engine::load(&model_dir, config.engine.clone())
            .with_context(|| format!("loading model from {}", model_dir.display()))?;
        Ok(Self::with_engine(engine, config))
    }

    /// Builds the state around an already loaded engine.
    pub fn with_engine(engine: Engine, config: ServerConfig) -> Self {
        let generation = &engine.info().generation;
        let context = engine.info().max_seq_len;
        // Every prompt takes at least one token (an empty one is end-of-text), so at most
        // context - 1 tokens can ever be generated: the limit (and the served schema's
        // maximum) says so instead of accepting a max_tokens no prompt fits.
        let max_tokens_limit = config
            .max_tokens_limit
            .min(context.saturating_sub(1))
            .max(1);
        let policy = RequestPolicy {
            max_tokens_limit,
            // The model's default, if not configured, within the server's limit.
            default_max_tokens: config
                .default_max_tokens
                .unwrap_or(generation.max_tokens.min(max_tokens_limit))
                .max(1),
            default_sampling: generation.sampling(None),
        };
        let api_key = config.api_key.as_deref().map(ApiKey::new);
        let web_dir = config.resolve_web_dir();
        let prompt_format = PromptFormat::of(engine.tokenizer());
        let startup_decode_tokens_per_s = measure_decode(&engine);
        let openapi_json =
            crate::openapi::openapi_document(max_tokens_limit, prompt_format == PromptFormat::Chat)
                .into();
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            engine,
            config,
            policy,
            metrics: Metrics::new(),
            api_key,
            web_dir,
            prompt_format,
            startup_decode_tokens_per_s,
            openapi_json,
            created,
            shutting_down: AtomicBool::new(false),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn model_name(&self) -> &str {
        &self.engine.info().name
    }

    /// Context window in tokens (prompt + completion).
    pub fn context_length(&self) -> usize {
        self.engine.info().max_seq_len
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// From now on `/ready` and new generation requests answer 503.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Admits a generation request unless the server is shutting down. Counting before
    /// looking at the flag (both sequentially consistent, as in `begin_shutdown`) means a
    /// drain that has set the flag and then reads 0 in flight cannot miss a request.
    pub fn admit(&self) -> Result<InFlight, ApiError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self.in_flight.clone());
        if self.is_shutting_down() {
            return Err(ApiError::shutting_down());
        }
        Ok(guard)
    }

    /// Generation requests admitted and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Refuses a `model` field that names another model; absent is fine.
    pub fn check_model(&self, requested: Option<&str>) -> Result<(), ApiError> {
        match requested {
            Some(m) if !m.is_empty() && m != self.model_name() => {
                Err(ApiError::model_not_found(m, self.model_name()))
            }
            _ => Ok(()),
        }
    }

    /// The prompt's tokens exactly as the engine reads them (an empty prompt becomes the
    /// single end-of-text token); they go to the engine with the request.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, ApiError> {
        self.engine
            .tokenize(text)
            .map_err(|e| ApiError::invalid_param("prompt", e.to_string()))
    }

    pub fn engine_gauges(&self) -> EngineGauges {
        let s = self.engine.stats();
        EngineGauges {
            queued: s.queued,
            running: s.running,
            max_batch: s.max_batch,
        }
    }
}
