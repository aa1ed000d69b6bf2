//! What a client sends and what it gets back.

use serde::{Deserialize, Serialize};

use crate::output::FinishReason;
use crate::sampling::SamplingParams;

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
    /// Upper bound on generated tokens (also bounded by the context).
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation stops before any of these strings; they are not emitted.
    pub stop: Vec<String>,
    pub overflow: PromptOverflow,
    /// When stopped by length, cut the text after the last complete sentence.
    pub trim_to_sentence: bool,
}

impl Default for GenerateRequest {
    fn default() -> Self {
        GenerateRequest {
            prompt: String::new(),
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
            overflow: PromptOverflow::Reject,
            trim_to_sentence: false,
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
}

/// What a [`crate::GenerationStream`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// New text, always whole UTF-8 characters.
    Delta(String),
    /// The last event of a successful (or cancelled) generation.
    Done(Completion),
    /// The model failed mid-generation; nothing follows.
    Error(String),
}
