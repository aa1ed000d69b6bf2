//! Response bodies and streaming chunks in OpenAI's shapes.

use serde::Serialize;
use slm_infer::{TokenChoice, TokenLogprob};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UsageBody {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl UsageBody {
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// Extension (in the style of llama.cpp's `timings`): server-side timings of
/// this request, so clients such as the web UI can show speed without guessing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimingsBody {
    pub queue_ms: f64,
    pub ttft_ms: f64,
    pub total_ms: f64,
    pub decode_tokens_per_s: f64,
}

/// OpenAI's envelope of every answer and stream chunk: who answered, when, and the
/// choices. `usage` and `timings` are left out of the JSON when absent (stream chunks
/// before the last); whole answers always carry both.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, Choice> {
    pub id: &'a str,
    /// `text_completion`, `chat.completion` or `chat.completion.chunk`.
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<TimingsBody>,
}

// ---- /v1/completions (answers and chunks alike) ----

#[derive(Debug, Serialize)]
pub struct CompletionChoice<'a> {
    pub index: u32,
    pub text: &'a str,
    pub logprobs: Option<CompletionLogprobs>,
    pub finish_reason: Option<&'static str>,
}

// ---- /v1/chat/completions ----

#[derive(Debug, Serialize)]
pub struct ChatChoice<'a> {
    pub index: u32,
    pub message: ChatMessageOut<'a>,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ChatMessageOut<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ChatChunkChoice<'a> {
    pub index: u32,
    pub delta: ChatDelta<'a>,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub struct ChatDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
}

// ---- logprobs ----

/// What a log-probability that JSON cannot hold (minus infinity: a token the model gives
/// no chance at all) is reported as; OpenAI uses the same value.
const NO_CHANCE: f32 = -9999.0;

fn finite(logprob: f32) -> f32 {
    if logprob.is_finite() {
        logprob
    } else {
        NO_CHANCE
    }
}

/// A token as text: its bytes as UTF-8, with U+FFFD for a partial character (the
/// exact bytes are in `bytes` of the chat form).
fn token_text(t: &TokenChoice) -> String {
    String::from_utf8_lossy(&t.bytes).into_owned()
}

/// `/v1/completions` logprobs, OpenAI's legacy shape: parallel lists per token.
#[derive(Debug, Default, Serialize)]
pub struct CompletionLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<f32>,
    /// Per token, the alternatives as `{token: logprob}`.
    pub top_logprobs: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Character offset of each token in prompt + completion.
    pub text_offset: Vec<usize>,
}

impl CompletionLogprobs {
    /// The entries for `tokens`; `offset` is the character offset of the first one and
    /// is advanced past them.
    pub fn new(tokens: &[TokenLogprob], offset: &mut usize) -> Self {
        let mut out = Self::default();
        for t in tokens {
            let text = token_text(&t.token);
            out.text_offset.push(*offset);
            *offset += text.chars().count();
            out.tokens.push(text);
            out.token_logprobs.push(finite(t.token.logprob));
            out.top_logprobs.push(
                t.top
                    .iter()
                    .map(|c| (token_text(c), finite(c.logprob).into()))
                    .collect(),
            );
        }
        out
    }
}

/// `/v1/chat/completions` logprobs: one entry per token.
#[derive(Debug, Serialize)]
pub struct ChatLogprobs {
    pub content: Vec<ChatTokenLogprob>,
}

/// One token: its own entry, plus the alternatives at its position.
#[derive(Debug, Serialize)]
pub struct ChatTokenLogprob {
    #[serde(flatten)]
    pub token: TopLogprob,
    pub top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Serialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

impl TopLogprob {
    fn new(c: &TokenChoice) -> Self {
        Self {
            token: token_text(c),
            logprob: finite(c.logprob),
            bytes: c.bytes.clone(),
        }
    }
}

impl ChatLogprobs {
    pub fn new(tokens: &[TokenLogprob]) -> Self {
        let content = tokens
            .iter()
            .map(|t| ChatTokenLogprob {
                token: TopLogprob::new(&t.token),
                top_logprobs: t.top.iter().map(TopLogprob::new).collect(),
            })
            .collect();
        Self { content }
    }
}

// ---- /v1/models ----

#[derive(Debug, Serialize)]
pub struct ModelList<'a> {
    pub object: &'static str,
    pub data: Vec<ModelCard<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ModelCard<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
    /// Extension: the model's context window in tokens.
    pub max_model_len: usize,
}
