//! What a client sends and what it gets back.

use serde::{Deserialize, Serialize};

use crate::output::FinishReason;
use slm_model::generation::SamplingParams;

/// What to do with a prompt that does not fit in the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptOverflow {
    /// Fail with `InferError::PromptTooLong`.
    #[default]
    Reject,
    /// Drop tokens from the start. Keeps the last
    /// `max_seq_len - min(max_tokens, max_seq_len / 2)` tokens, so at least
    /// half the context stays prompt and the rest is room to generate.
    TruncateLeft,
}

/// One generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateRequest {
    /// Text to continue; an empty prompt starts a new story (the model sees
    /// only the end-of-text token).
    pub prompt: String,
    /// `prompt` already tokenized by [`crate::Engine::tokenize`] (a caller that counted
    /// the tokens passes them on, so the text is read once); `None`: the engine
    /// tokenizes `prompt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<Vec<u32>>,
    /// Upper bound on generated tokens (also bounded by the context).
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation stops before any of these strings; they are not emitted.
    pub stop: Vec<String>,
    pub overflow: PromptOverflow,
    /// When stopped by length, cut the text after the last complete sentence.
    pub trim_to_sentence: bool,
    /// Report each sampled token's log-probability with this many most likely
    /// alternatives (`0..=`[`MAX_TOP_LOGPROBS`]); `None` reports nothing.
    pub logprobs: Option<usize>,
    /// Plan-guided decoding ([`crate::guide`]): after a chat reply's plan line, this is
    /// added to the logit of each planned word's first token until the story uses it;
    /// 0 turns it off (the engine's default; chat models set it in generation.json).
    pub plan_bias: f32,
}

/// Most alternatives a request may ask for per token (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

impl Default for GenerateRequest {
    fn default() -> Self {
        GenerateRequest {
            prompt: String::new(),
            prompt_tokens: None,
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
            overflow: PromptOverflow::Reject,
            trim_to_sentence: false,
            logprobs: None,
            plan_bias: 0.0,
        }
    }
}

impl GenerateRequest {
    pub fn new(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            ..Default::default()
        }
    }
}

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens the model read (after any truncation; includes the start token of an empty prompt).
    pub prompt_tokens: usize,
    /// Tokens sampled, including a final end-of-text token.
    pub completion_tokens: usize,
}

/// Where the time went, measured from `submit`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Waiting in the queue before getting a slot.
    pub queue_ms: f64,
    /// Until the first token was sampled (includes queueing and prefill).
    pub ttft_ms: f64,
    pub total_ms: f64,
    /// Tokens after the first divided by the time after the first.
    pub decode_tokens_per_s: f64,
}

/// The finished result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub timings: Timings,
    /// Every sampled token except a final end-of-text or turn marker, when the
    /// request asked for `logprobs` (else empty). Their bytes concatenate to the
    /// generated text before stop sequences and clean-up (see [`crate::OutputFilter`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logprobs: Vec<TokenLogprob>,
}

/// A token and its log-probability (natural log) under the model: the softmax of
/// the raw logits over the tokenizer's vocabulary, before temperature, top-k and
/// top-p, so it describes the model rather than the sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenChoice {
    pub id: u32,
    /// The token's bytes (a token may hold part of a UTF-8 character).
    pub bytes: Vec<u8>,
    pub logprob: f32,
}

/// One sampled token with the most likely alternatives at its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: TokenChoice,
    /// Most likely first (ties by id); as many as the request asked for.
    pub top: Vec<TokenChoice>,
}

/// What a [`crate::GenerationStream`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// New text, always whole UTF-8 characters.
    Delta(String),
    /// A sampled token's log-probabilities (only when the request asked for
    /// them), sent before the `Delta` that holds its text.
    Token(TokenLogprob),
    /// The last event of a successful (or cancelled) generation.
    Done(Completion),
    /// The model failed mid-generation; nothing follows.
    Error(String),
}
