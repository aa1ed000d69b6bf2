//! Request bodies of `/v1/completions` and `/v1/chat/completions` as clients
//! send them. Numbers are read wide (i64/f64/Value) so that out-of-range
//! values reach validation and get a message about the range, not a type error;
//! integer fields take any whole number, `5.0` as well as `5` (JSON and the
//! OpenAPI schema do not tell them apart). Options we do not implement are kept
//! as raw JSON so we can refuse them by name unless they hold their neutral value.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A JSON number that is a whole number (`5` or `5.0`) within ±2^64, the widest range an
/// integer field takes (i64 fields and the u64 `seed`); callers narrow it.
pub fn whole(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    const LIMIT: f64 = 18_446_744_073_709_551_616.0; // 2^64
    (f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i128)
}

/// `Option<i64>` from any whole JSON number; a fraction or a number beyond the i64 range
/// is a type error naming the field.
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole(&n)
            .and_then(|v| i64::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "expected an integer (a 64-bit whole number), got {n}"
                ))
            }),
    }
}

/// The union of both endpoints' fields; each endpoint checks which apply.
#[derive(Debug, Default, Deserialize)]
pub struct GenerationBody {
    pub model: Option<String>,
    /// `/v1/completions` only.
    pub prompt: Option<PromptInput>,
    /// `/v1/chat/completions` only.
    pub messages: Option<Vec<ChatMessage>>,
    #[serde(default, deserialize_with = "whole_number")]
    pub max_tokens: Option<i64>,
    /// Newer OpenAI name for `max_tokens` on chat; either may be used.
    #[serde(default, deserialize_with = "whole_number")]
    pub max_completion_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Extension (vLLM, llama.cpp): keep only the k most likely tokens; 0 = off.
    #[serde(default, deserialize_with = "whole_number")]
    pub top_k: Option<i64>,
    pub seed: Option<serde_json::Number>,
    /// Subtracted once from the logit of every token already generated (-2 … 2).
    pub presence_penalty: Option<f64>,
    /// Subtracted from a token's logit per time it was generated (-2 … 2).
    pub frequency_penalty: Option<f64>,
    /// Extension (llama.cpp's names): the DRY repetition penalty, see
    /// `slm_infer::SamplingParams::dry_multiplier`.
    pub dry_multiplier: Option<f64>,
    pub dry_base: Option<f64>,
    #[serde(default, deserialize_with = "whole_number")]
    pub dry_allowed_length: Option<i64>,
    pub stop: Option<StopInput>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    /// Extension: cut the completion back to its last full sentence when it hits `max_tokens`.
    pub trim_to_sentence: Option<bool>,
    /// Extension (chat only): how the messages become the prompt, `"chat"` (the model's
    /// chat template) or `"story"` (joined into one story to continue); default: the
    /// model's own format.
    pub prompt_format: Option<String>,
    /// Accepted and ignored, as OpenAI uses it only for abuse tracking.
    #[allow(dead_code)]
    pub user: Option<String>,

    // Options we refuse unless neutral (see `validate::reject_unsupported`).
    pub n: Option<Value>,
    pub best_of: Option<Value>,
    pub logprobs: Option<Value>,
    pub top_logprobs: Option<Value>,
    pub echo: Option<Value>,
    pub suffix: Option<Value>,
    pub logit_bias: Option<Value>,
    pub tools: Option<Value>,
    pub tool_choice: Option<Value>,
    pub functions: Option<Value>,
    pub function_call: Option<Value>,
    pub response_format: Option<Value>,
}

/// `prompt`: a string, or an array holding exactly one string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PromptInput {
    Text(String),
    Many(Vec<Value>),
}

/// `stop`: one string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StopInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` before `[DONE]`.
    pub include_usage: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: Option<MessageContent>,
    #[allow(dead_code)]
    pub name: Option<String>,
}

/// Message content: a string, or OpenAI's list of typed parts (text only here).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}
