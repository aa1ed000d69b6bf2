//! `POST /v1/completions` and `POST /v1/chat/completions`: validate,
//! tokenize-check, enqueue, then answer with JSON or an SSE stream.

use std::time::Instant;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Responder, web};

use crate::body::{parse_json, read_limited};
use crate::chat_template::{PromptFormat, build_prompt};
use crate::error::ApiError;
use crate::generation::{self, Job, ResponseMeta};
use crate::openai::request::{GenerationBody, PromptInput};
use crate::openai::response::{
    ChatChoice, ChatLogprobs, ChatMessageOut, CompletionChoice, CompletionLogprobs,
};
use crate::prompt_fit::fit_max_tokens;
use crate::state::AppState;
use crate::validate::{Endpoint, validate_settings};

/// Response header of the chat endpoint: how many of the oldest messages were left out.
pub const DROPPED_MESSAGES_HEADER: &str = "x-slm-dropped-messages";

/// The single prompt string of a `/v1/completions` body.
fn prompt_text(prompt: Option<PromptInput>) -> Result<String, ApiError> {
    match prompt {
        None => Err(ApiError::invalid_param(
            "prompt",
            "missing required field 'prompt'",
        )),
        Some(PromptInput::Text(s)) => Ok(s),
        Some(PromptInput::Many(items)) => match items.as_slice() {
            [serde_json::Value::String(s)] => Ok(s.clone()),
            [] => Err(ApiError::invalid_param(
                "prompt",
                "prompt must not be an empty array",
            )),
            [single] if single.is_number() || single.is_array() => {
                Err(ApiError::unsupported_param(
                    "prompt",
                    "token-id prompts are not supported; send the prompt as text",
                ))
            }
            [_] => Err(ApiError::invalid_param(
                "prompt",
                "prompt must be a string or an array of one string",
            )),
            _ if items.iter().all(|v| v.is_number()) => Err(ApiError::unsupported_param(
                "prompt",
                "token-id prompts are not supported; send the prompt as text",
            )),
            _ => Err(ApiError::unsupported_param(
                "prompt",
                format!(
                    "only one prompt per request is supported, got {}",
                    items.len()
                ),
            )),
        },
    }
}

/// Everything up to (not including) submission, shared by both endpoints.
pub fn prepare(state: &AppState, bytes: &[u8], endpoint: Endpoint) -> Result<Job, ApiError> {
    let body: GenerationBody = parse_json(bytes)?;
    state.check_model(body.model.as_deref())?;
    let settings = validate_settings(&body, endpoint, &state.policy)?;
    let context = state.context_length();
    let mut plan_bias = 0.0;
    let mut requested = settings.max_tokens;
    let (prompt, prompt_tokens, dropped_messages, prompt_param) = match endpoint {
        Endpoint::Completions => {
            let prompt = prompt_text(body.prompt)?;
            let tokens = state.tokenize(&prompt)?;
            (prompt, tokens, 0, "prompt")
        }
        Endpoint::Chat => {
            let messages = body.messages.ok_or_else(|| {
                ApiError::invalid_param("messages", "missing required field 'messages'")
            })?;
            // The conversation comes first (a follow-up refers to the story before it):
            // the reply may shrink to a quarter of the context to keep it, and only then
            // are the oldest messages dropped.
            let reserve = requested.unwrap_or(state.policy.default_max_tokens);
            let floor = reserve.min(context / 4);
            let budget = context.saturating_sub(floor).max(1);
            let format =
                PromptFormat::requested(state.prompt_format, body.prompt_format.as_deref())?;
            let p = build_prompt(&messages, format, budget, |t| state.tokenize(t))?;
            if format == PromptFormat::Chat {
                // The chat model's own default (generation.json): plan-guided decoding.
                plan_bias = state.engine.info().generation.plan_bias;
            }
            let room = context.saturating_sub(p.tokens.len());
            if room >= floor {
                requested = requested.map(|m| m.min(room));
            }
            (p.text, p.tokens, p.dropped_turns, "messages")
        }
    };
    let max_tokens = fit_max_tokens(
        prompt_tokens.len(),
        requested,
        state.policy.default_max_tokens,
        context,
        prompt_param,
    )?;
    Ok(Job {
        prompt,
        prompt_tokens,
        dropped_messages,
        max_tokens,
        settings,
        plan_bias,
    })
}

async fn handle(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    // Counted in flight (a draining server waits for it) until the answer is built or,
    // for a stream, until its last event; refused with 503 once the server is draining.
    let in_flight = state.admit()?;
    let bytes = read_limited(payload, state.config.max_body_bytes).await?;
    let job = prepare(&state, &bytes, endpoint)?;
    let stream = generation::submit(&state, &job)?;
    let meta = ResponseMeta::new(endpoint, state.model_name());
    if job.settings.stream {
        let sse = generation::sse_response(state.clone(), stream, meta, &job, started, in_flight);
        let mut resp = sse.respond_to(&req).map_into_boxed_body();
        mark_dropped(&mut resp, endpoint, job.dropped_messages);
        return Ok(resp);
    }
    let c = generation::collect(&state, stream, started).await?;
    let usage = Some(generation::usage_of(&c));
    let timings = Some(generation::timings_of(&c));
    let finish = c.finish_reason.as_str();
    let logprobs = job.settings.logprobs.is_some();
    let mut resp = match endpoint {
        Endpoint::Completions => {
            let choice = CompletionChoice {
                index: 0,
                text: &c.text,
                logprobs: logprobs
                    .then(|| CompletionLogprobs::new(&c.logprobs, &mut job.prompt.chars().count())),
                finish_reason: Some(finish),
            };
            HttpResponse::Ok().json(meta.envelope(false, vec![choice], usage, timings))
        }
        Endpoint::Chat => {
            let choice = ChatChoice {
                index: 0,
                message: ChatMessageOut {
                    role: "assistant",
                    content: &c.text,
                },
                logprobs: logprobs.then(|| ChatLogprobs::new(&c.logprobs)),
                finish_reason: finish,
            };
            HttpResponse::Ok().json(meta.envelope(false, vec![choice], usage, timings))
        }
    };
    mark_dropped(&mut resp, endpoint, job.dropped_messages);
    Ok(resp)
}

/// Chat responses say how many of the oldest messages the model did not see
/// (`X-Slm-Dropped-Messages`), so a client can tell the user the story's start is out of reach.
fn mark_dropped(resp: &mut HttpResponse, endpoint: Endpoint, dropped: usize) {
    if endpoint == Endpoint::Chat {
        resp.headers_mut().insert(
            HeaderName::from_static(DROPPED_MESSAGES_HEADER),
            HeaderValue::from(dropped),
        );
    }
}

pub async fn completions(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    handle(state, req, payload, Endpoint::Completions).await
}

pub async fn chat_completions(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    handle(state, req, payload, Endpoint::Chat).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt_of(v: serde_json::Value) -> Result<String, ApiError> {
        let p: Option<PromptInput> = serde_json::from_value(v).unwrap();
        prompt_text(p)
    }

    #[test]
    fn prompt_forms() {
        assert_eq!(prompt_of(json!("hi")).unwrap(), "hi");
        assert_eq!(prompt_of(json!(["hi"])).unwrap(), "hi");
        let e = prompt_of(json!(null)).unwrap_err();
        assert!(e.message.contains("missing"));
        let e = prompt_of(json!(["a", "b"])).unwrap_err();
        assert_eq!(e.code, Some("unsupported_parameter"));
        let e = prompt_of(json!([1, 2, 3])).unwrap_err();
        assert!(e.message.contains("token-id"));
        let e = prompt_of(json!([])).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("prompt"));
    }
}
