//! Running one validated request on the engine: enqueue it, then either
//! collect the whole completion or stream it as OpenAI-style SSE chunks.
//!
//! The SSE body owns the engine's `GenerationStream`; when a client goes
//! away actix drops the body, which drops the stream, which cancels the
//! generation at the engine's next step. Keep-alive comments make actix
//! notice a dropped client even while a request is still queued.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::web;
use actix_web_lab::sse::{self, Sse};
use futures::Stream;
use slm_infer::{
    Completion, FinishReason, GenerateRequest, GenerationStream, InferError, PromptOverflow,
    StreamEvent, TokenLogprob,
};

use crate::error::ApiError;
use crate::metrics::GenerationRecord;
use crate::openai::response::{
    ChatChunkChoice, ChatDelta, ChatLogprobs, CompletionChoice, CompletionLogprobs, Envelope,
    TimingsBody, UsageBody,
};
use crate::state::{AppState, InFlight};
use crate::validate::{Endpoint, GenerationSettings};

/// A request ready for the engine.
#[derive(Debug, Clone)]
pub struct Job {
    pub prompt: String,
    /// `prompt` as the engine reads it.
    pub prompt_tokens: Vec<u32>,
    /// Chat messages left out (oldest first) so the prompt fits the context.
    pub dropped_messages: usize,
    pub max_tokens: usize,
    pub settings: GenerationSettings,
    /// `GenerateRequest::plan_bias`: the model's default for chat replies, else 0.
    pub plan_bias: f32,
}

/// Identity of one response: its id, creation time and model name.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub endpoint: Endpoint,
}

impl ResponseMeta {
    pub fn new(endpoint: Endpoint, model: &str) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let prefix = match endpoint {
            Endpoint::Completions => "cmpl",
            Endpoint::Chat => "chatcmpl",
        };
        Self {
            id: format!("{prefix}-{}", request_id()),
            created: now.as_secs(),
            model: model.to_string(),
            endpoint,
        }
    }

    /// This answer's envelope around `choices`: a whole answer, or a stream chunk.
    pub fn envelope<C>(
        &self,
        chunk: bool,
        choices: Vec<C>,
        usage: Option<UsageBody>,
        timings: Option<TimingsBody>,
    ) -> Envelope<'_, C> {
        let object = match (self.endpoint, chunk) {
            (Endpoint::Completions, _) => "text_completion",
            (Endpoint::Chat, false) => "chat.completion",
            (Endpoint::Chat, true) => "chat.completion.chunk",
        };
        Envelope {
            id: &self.id,
            object,
            created: self.created,
            model: &self.model,
            choices,
            usage,
            timings,
        }
    }
}

/// Process-unique request id: start time plus a counter, in hex.
fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{start:x}{n:08x}")
}

/// Maps an engine refusal to the API error a client should see.
pub fn map_submit_error(e: InferError, retry_after_secs: u64) -> ApiError {
    match e {
        InferError::QueueFull { .. } => ApiError::queue_full(retry_after_secs),
        InferError::ShuttingDown => ApiError::shutting_down(),
        InferError::PromptTooLong { .. } => ApiError::context_overflow("prompt", e.to_string()),
        InferError::InvalidRequest(m) => ApiError::bad_body(None, m),
        other => ApiError::internal(format!("the engine failed: {other}")),
    }
}

/// Enqueues the job on the engine.
pub fn submit(state: &AppState, job: &Job) -> Result<GenerationStream, ApiError> {
    let s = &job.settings;
    let req = GenerateRequest {
        prompt: job.prompt.clone(),
        prompt_tokens: Some(job.prompt_tokens.clone()),
        max_tokens: job.max_tokens,
        sampling: s.sampling.clone(),
        stop: s.stop.clone(),
        // The handler already fitted prompt + max_tokens to the context.
        overflow: PromptOverflow::Reject,
        trim_to_sentence: s.trim_to_sentence,
        logprobs: s.logprobs,
        plan_bias: job.plan_bias,
    };
    state
        .engine
        .submit(req)
        .map_err(|e| map_submit_error(e, state.config.retry_after_secs))
}

fn finish_reason_str(r: FinishReason) -> &'static str {
    r.as_str()
}

/// The `usage` of an answer or of the final stream chunk.
pub fn usage_of(c: &Completion) -> UsageBody {
    UsageBody::new(c.usage.prompt_tokens, c.usage.completion_tokens)
}

/// The `timings` of an answer or of the final stream chunk.
pub fn timings_of(c: &Completion) -> TimingsBody {
    TimingsBody {
        queue_ms: c.timings.queue_ms,
        ttft_ms: c.timings.ttft_ms,
        total_ms: c.timings.total_ms,
        decode_tokens_per_s: c.timings.decode_tokens_per_s,
    }
}

/// Tracks token timing of one request for the latency histograms.
struct TokenClock {
    started: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl TokenClock {
    fn new(started: Instant) -> Self {
        Self {
            started,
            first: None,
            last: None,
        }
    }

    fn on_delta(&mut self, state: &AppState) {
        let now = Instant::now();
        match self.last {
            None => {
                self.first = Some(now);
                state
                    .metrics
                    .ttft
                    .observe((now - self.started).as_secs_f64());
            }
            Some(prev) => state
                .metrics
                .inter_token
                .observe((now - prev).as_secs_f64()),
        }
        self.last = Some(now);
    }

    fn record_done(&self, state: &AppState, c: &Completion) {
        state.metrics.record_generation(&GenerationRecord {
            finish_reason: finish_reason_str(c.finish_reason),
            prompt_tokens: c.usage.prompt_tokens,
            completion_tokens: c.usage.completion_tokens,
            queue_s: c.timings.queue_ms / 1000.0,
            ttft_s: self.first.map(|f| (f - self.started).as_secs_f64()),
            total_s: self.started.elapsed().as_secs_f64(),
            decode_tokens_per_s: c.timings.decode_tokens_per_s,
        });
    }
}

fn deadline_of(state: &AppState, started: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(started)
        + Duration::from_secs_f64(state.config.request_timeout_secs)
}

/// Waits for the whole completion (non-streaming requests).
pub async fn collect(
    state: &AppState,
    stream: GenerationStream,
    started: Instant,
) -> Result<Completion, ApiError> {
    let mut clock = TokenClock::new(started);
    let deadline = deadline_of(state, started);
    let outcome = tokio::time::timeout_at(deadline, async {
        loop {
            match stream.recv_async().await {
                Some(StreamEvent::Delta(_)) => clock.on_delta(state),
                Some(StreamEvent::Token(_)) => {}
                Some(StreamEvent::Done(c)) => return Ok(c),
                Some(StreamEvent::Error(e)) => {
                    return Err(ApiError::internal(format!("generation failed: {e}")));
                }
                None => return Err(ApiError::shutting_down()),
            }
        }
    })
    .await;
    // On timeout `stream` is dropped below, which cancels the generation.
    let c = match outcome {
        Err(_elapsed) => {
            stream.cancel();
            state.metrics.record_aborted("timeout");
            return Err(ApiError::timeout(state.config.request_timeout_secs));
        }
        Ok(result) => result?,
    };
    clock.record_done(state, &c);
    if c.finish_reason == FinishReason::Cancelled {
        return Err(ApiError::shutting_down());
    }
    Ok(c)
}

/// State of one SSE response while it streams.
struct SseState {
    app: web::Data<AppState>,
    stream: Option<GenerationStream>,
    meta: ResponseMeta,
    include_usage: bool,
    clock: TokenClock,
    deadline: tokio::time::Instant,
    pending: VecDeque<sse::Event>,
    /// The engine said its last word (or we gave up); send `pending` and end.
    finished: bool,
    /// Whether the client asked for logprobs; then the tokens not yet sent, and the
    /// character offset of the next one in prompt + completion (completions' `text_offset`).
    logprobs: bool,
    tokens: Vec<TokenLogprob>,
    text_offset: usize,
    /// Keeps a draining server up until this stream has sent its last event.
    _in_flight: InFlight,
}

impl Drop for SseState {
    fn drop(&mut self) {
        if !self.finished {
            // The client went away mid-stream; dropping `stream` cancels it.
            self.app.metrics.record_aborted("client_disconnected");
        }
    }
}

fn data_event(json: String) -> sse::Event {
    sse::Event::Data(sse::Data::new(json))
}

impl SseState {
    /// A chunk with `text`, carrying the logprobs of the tokens received since the last one.
    fn chunk(
        &mut self,
        text: Option<&str>,
        finish: Option<&'static str>,
        c: Option<&Completion>,
    ) -> String {
        let tokens = std::mem::take(&mut self.tokens);
        let m = &self.meta;
        let timings = c.map(timings_of);
        let res = match m.endpoint {
            Endpoint::Completions => {
                let choice = CompletionChoice {
                    index: 0,
                    text: text.unwrap_or(""),
                    logprobs: self
                        .logprobs
                        .then(|| CompletionLogprobs::new(&tokens, &mut self.text_offset)),
                    finish_reason: finish,
                };
                serde_json::to_string(&m.envelope(true, vec![choice], None, timings))
            }
            Endpoint::Chat => {
                let choice = ChatChunkChoice {
                    index: 0,
                    delta: ChatDelta {
                        role: None,
                        content: text,
                    },
                    logprobs: self.logprobs.then(|| ChatLogprobs::new(&tokens)),
                    finish_reason: finish,
                };
                serde_json::to_string(&m.envelope(true, vec![choice], None, timings))
            }
        };
        res.unwrap_or_default()
    }

    fn role_chunk(&self) -> String {
        let choice = ChatChunkChoice {
            index: 0,
            delta: ChatDelta {
                role: Some("assistant"),
                content: Some(""),
            },
            logprobs: None,
            finish_reason: None,
        };
        serde_json::to_string(&self.meta.envelope(true, vec![choice], None, None))
            .unwrap_or_default()
    }

    /// OpenAI's `stream_options.include_usage` chunk: no choices, just usage.
    fn usage_chunk(&self, c: &Completion) -> String {
        let usage = Some(usage_of(c));
        let none: Vec<ChatChunkChoice> = Vec::new();
        serde_json::to_string(&self.meta.envelope(true, none, usage, None)).unwrap_or_default()
    }

    fn fail(&mut self, err: ApiError) {
        self.pending.push_back(data_event(err.to_json()));
        self.pending.push_back(data_event("[DONE]".into()));
        self.stream = None;
        self.finished = true;
    }

    /// Waits for the engine's next event and queues the SSE events for it.
    async fn advance(&mut self) {
        let Some(stream) = &self.stream else {
            self.finished = true;
            return;
        };
        let ev = tokio::time::timeout_at(self.deadline, stream.recv_async()).await;
        match ev {
            Err(_elapsed) => {
                self.app.metrics.record_aborted("timeout");
                self.fail(ApiError::timeout(self.app.config.request_timeout_secs));
            }
            Ok(None) => self.fail(ApiError::shutting_down()),
            Ok(Some(StreamEvent::Error(e))) => {
                self.fail(ApiError::internal(format!("generation failed: {e}")))
            }
            Ok(Some(StreamEvent::Token(t))) => self.tokens.push(t),
            Ok(Some(StreamEvent::Delta(text))) => {
                if !text.is_empty() {
                    self.clock.on_delta(&self.app);
                    let json = self.chunk(Some(&text), None, None);
                    self.pending.push_back(data_event(json));
                }
            }
            Ok(Some(StreamEvent::Done(c))) => {
                self.clock.record_done(&self.app, &c);
                if c.finish_reason == FinishReason::Cancelled {
                    self.fail(ApiError::shutting_down());
                    return;
                }
                let last = match self.meta.endpoint {
                    Endpoint::Completions => {
                        self.chunk(Some(""), Some(finish_reason_str(c.finish_reason)), Some(&c))
                    }
                    Endpoint::Chat => {
                        self.chunk(None, Some(finish_reason_str(c.finish_reason)), Some(&c))
                    }
                };
                self.pending.push_back(data_event(last));
                if self.include_usage {
                    let u = self.usage_chunk(&c);
                    self.pending.push_back(data_event(u));
                }
                self.pending.push_back(data_event("[DONE]".into()));
                self.stream = None;
                self.finished = true;
            }
        }
    }
}

/// The SSE response for a submitted generation.
pub fn sse_response(
    app: web::Data<AppState>,
    stream: GenerationStream,
    meta: ResponseMeta,
    job: &Job,
    started: Instant,
    in_flight: InFlight,
) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>> + use<>> {
    let keep_alive = Duration::from_secs_f64(app.config.keep_alive_secs);
    let deadline = deadline_of(&app, started);
    let mut state = SseState {
        app,
        stream: Some(stream),
        include_usage: job.settings.include_usage,
        clock: TokenClock::new(started),
        deadline,
        pending: VecDeque::new(),
        finished: false,
        meta,
        logprobs: job.settings.logprobs.is_some(),
        tokens: Vec::new(),
        text_offset: job.prompt.chars().count(),
        _in_flight: in_flight,
    };
    if state.meta.endpoint == Endpoint::Chat {
        let role = state.role_chunk();
        state.pending.push_back(data_event(role));
    }
    let events = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.finished {
                return None;
            }
            st.advance().await;
        }
    });
    Sse::from_stream(events).with_keep_alive(keep_alive)
}
