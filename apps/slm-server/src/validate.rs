//! Checking request parameters against their ranges and refusing OpenAI
//! options we do not implement, before anything reaches the engine.
//!
//! Prompt-length checks need the tokenizer and live in `prompt_fit`.

use serde_json::Value;
use slm_infer::SamplingParams;

use crate::error::ApiError;
use crate::openai::request::{GenerationBody, StopInput, whole};

pub use slm_infer::{
    MAX_DRY_ALLOWED_LENGTH, MAX_DRY_BASE, MAX_DRY_MULTIPLIER, MAX_PENALTY, MAX_STOP_BYTES,
    MAX_STOP_SEQUENCES, MAX_TEMPERATURE, MAX_TOP_LOGPROBS,
};

/// Defaults and bounds the server applies to every request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPolicy {
    /// Largest `max_tokens` a client may ask for.
    pub max_tokens_limit: usize,
    /// `max_tokens` when the client gives none (shrunk to fit the context).
    pub default_max_tokens: usize,
    /// Sampling settings for the fields a client leaves out (the model's generation.json;
    /// `seed` is unused).
    pub default_sampling: SamplingParams,
}

/// Sampling and output settings of one validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationSettings {
    /// `None`: the client gave no `max_tokens`; use the default, fitted to the context.
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    pub trim_to_sentence: bool,
    /// Report each token's log-probability with this many alternatives (`None`: off).
    pub logprobs: Option<usize>,
}

/// Which endpoint a body came to; some options only exist on one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Completions,
    Chat,
}

/// Validates everything except the prompt/messages themselves.
pub fn validate_settings(
    body: &GenerationBody,
    endpoint: Endpoint,
    policy: &RequestPolicy,
) -> Result<GenerationSettings, ApiError> {
    reject_unsupported(body, endpoint)?;
    let max_tokens = max_tokens(body, endpoint, policy.max_tokens_limit)?;
    let sampling = merge_sampling(body, &policy.default_sampling)?;
    let stop = stop_sequences(body)?;
    let stream = body.stream.unwrap_or(false);
    if body.stream_options.is_some() && !stream {
        return Err(ApiError::invalid_param(
            "stream_options",
            "stream_options is only allowed when stream is true",
        ));
    }
    let include_usage = body
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    Ok(GenerationSettings {
        max_tokens,
        sampling,
        stop,
        stream,
        include_usage,
        trim_to_sentence: body.trim_to_sentence.unwrap_or(false),
        logprobs: logprobs(body, endpoint)?,
    })
}

/// The completion length the client asked for (`None`: it gave none), in `1..=limit`.
/// Chat takes OpenAI's newer `max_completion_tokens` too; given both (each in range), it
/// wins, as in vLLM: the schema can bound each field but cannot make them agree.
fn max_tokens(
    body: &GenerationBody,
    endpoint: Endpoint,
    limit: usize,
) -> Result<Option<usize>, ApiError> {
    if endpoint == Endpoint::Completions && body.max_completion_tokens.is_some() {
        return Err(ApiError::unsupported_param(
            "max_completion_tokens",
            "max_completion_tokens is a chat parameter; use max_tokens on /v1/completions",
        ));
    }
    let in_range = |name: &str, v: Option<i64>| match v {
        Some(v) if v < 1 => Err(ApiError::invalid_param(
            name,
            format!("{name} must be at least 1, got {v}"),
        )),
        Some(v) if v as u64 > limit as u64 => Err(ApiError::invalid_param(
            name,
            format!("{name} must be at most {limit}, got {v}"),
        )),
        v => Ok(v.map(|v| v as usize)),
    };
    let old = in_range("max_tokens", body.max_tokens)?;
    let new = in_range("max_completion_tokens", body.max_completion_tokens)?;
    Ok(new.or(old))
}

/// The request's sampling settings: each field the client gave, over the model's defaults,
/// checked by the engine's own validator (the 400 names the field).
fn merge_sampling(
    body: &GenerationBody,
    defaults: &SamplingParams,
) -> Result<SamplingParams, ApiError> {
    let real = |v: Option<f64>, default: f32| v.map_or(default, f32_on_the_same_side);
    let count = |name: &'static str, rule: &str, v: i64| {
        usize::try_from(v)
            .map_err(|_| ApiError::invalid_param(name, format!("{name} must be {rule}, got {v}")))
    };
    let seed = match &body.seed {
        None => None,
        Some(n) => Some(whole_u64(n).ok_or_else(|| {
            ApiError::invalid_param(
                "seed",
                format!("seed must be a non-negative integer, got {n}"),
            )
        })?),
    };
    let sampling = SamplingParams {
        temperature: real(body.temperature, defaults.temperature),
        top_p: real(body.top_p, defaults.top_p),
        top_k: match body.top_k {
            None => defaults.top_k,
            Some(k) => Some(count("top_k", ">= 0 (0 disables it)", k)?),
        },
        seed,
        presence_penalty: real(body.presence_penalty, defaults.presence_penalty),
        frequency_penalty: real(body.frequency_penalty, defaults.frequency_penalty),
        dry_multiplier: real(body.dry_multiplier, defaults.dry_multiplier),
        dry_base: real(body.dry_base, defaults.dry_base),
        dry_allowed_length: match body.dry_allowed_length {
            None => defaults.dry_allowed_length,
            Some(n) => count(
                "dry_allowed_length",
                &format!("between 1 and {MAX_DRY_ALLOWED_LENGTH}"),
                n,
            )?,
        },
    };
    sampling
        .validate()
        .map_err(|e| ApiError::invalid_param(e.field, e.message))?;
    Ok(sampling)
}

/// `v` as f32, rounded toward `v` rather than to nearest when inexact, so that it lies on
/// the same side of every f32 bound as `v` does: 2.0000000000000004 stays above 2 and is
/// refused, a top_p of 5e-324 stays above 0 and is accepted.
fn f32_on_the_same_side(v: f64) -> f32 {
    let f = v as f32;
    match (f as f64).partial_cmp(&v) {
        Some(std::cmp::Ordering::Less) => f.next_up(),
        Some(std::cmp::Ordering::Greater) => f.next_down(),
        _ => f,
    }
}

/// `stop` as a list, checked by the engine's rule.
fn stop_sequences(body: &GenerationBody) -> Result<Vec<String>, ApiError> {
    let stop = match &body.stop {
        None => Vec::new(),
        Some(StopInput::One(s)) => vec![s.clone()],
        Some(StopInput::Many(v)) => v.clone(),
    };
    slm_infer::check_stop_sequences(&stop).map_err(|m| ApiError::invalid_param("stop", m))?;
    Ok(stop)
}

/// A JSON number that is a whole number in the u64 range (`7` or `7.0`).
fn whole_u64(n: &serde_json::Number) -> Option<u64> {
    whole(n).and_then(|v| u64::try_from(v).ok())
}

/// `logprobs` / `top_logprobs` in each endpoint's OpenAI form: on completions
/// `logprobs: N` (N alternatives per token); on chat `logprobs: true` plus
/// `top_logprobs: N` (default 0). N is at most [`MAX_TOP_LOGPROBS`].
fn logprobs(body: &GenerationBody, endpoint: Endpoint) -> Result<Option<usize>, ApiError> {
    let count = |name: &str, v: &Value| match v.as_number().and_then(whole_u64) {
        Some(n) if n <= MAX_TOP_LOGPROBS as u64 => Ok(n as usize),
        _ => Err(ApiError::invalid_param(
            name,
            format!("{name} must be an integer from 0 to {MAX_TOP_LOGPROBS}, got {v}"),
        )),
    };
    let top = body.top_logprobs.as_ref().filter(|v| !v.is_null());
    match endpoint {
        Endpoint::Completions => {
            if top.is_some() {
                return Err(ApiError::unsupported_param(
                    "top_logprobs",
                    "top_logprobs is a chat parameter; on /v1/completions send logprobs: N",
                ));
            }
            match body.logprobs.as_ref().filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => count("logprobs", v).map(Some),
            }
        }
        Endpoint::Chat => {
            let on = match body.logprobs.as_ref() {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    return Err(ApiError::invalid_param(
                        "logprobs",
                        format!("logprobs must be true or false on chat completions, got {v}"),
                    ));
                }
            };
            let n = top.map(|v| count("top_logprobs", v)).transpose()?;
            match (on, n) {
                (true, n) => Ok(Some(n.unwrap_or(0))),
                (false, None | Some(0)) => Ok(None),
                (false, Some(_)) => Err(ApiError::invalid_param(
                    "top_logprobs",
                    "top_logprobs needs logprobs: true",
                )),
            }
        }
    }
}

/// True for values that mean "feature not used": null, false, 0, 1 where
/// `one_is_neutral`, "", {} and [].
fn is_neutral(v: &Value, one_is_neutral: bool) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            x == 0.0 || (one_is_neutral && x == 1.0)
        }
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Refuses OpenAI options this server does not implement, naming the field,
/// rather than silently ignoring them.
pub fn reject_unsupported(body: &GenerationBody, endpoint: Endpoint) -> Result<(), ApiError> {
    let unsupported = |name: &str, why: &str| {
        Err(ApiError::unsupported_param(
            name,
            format!("'{name}' is not supported by this server: {why}"),
        ))
    };
    if let Some(n) = &body.n
        && !(n.is_null() || n.as_number().and_then(whole_u64) == Some(1))
    {
        return unsupported("n", "only n=1 (one completion per request) is implemented");
    }
    if let Some(v) = &body.best_of
        && !(v.is_null() || v.as_number().and_then(whole_u64) == Some(1))
    {
        return unsupported("best_of", "only best_of=1 is implemented");
    }
    let neutral_checks: [(&str, &Option<Value>, &str); 7] = [
        ("echo", &body.echo, "the prompt is not echoed back"),
        (
            "suffix",
            &body.suffix,
            "insertion (suffix) is not implemented",
        ),
        (
            "logit_bias",
            &body.logit_bias,
            "logit bias is not implemented",
        ),
        ("tools", &body.tools, "the model cannot call tools"),
        (
            "functions",
            &body.functions,
            "the model cannot call functions",
        ),
        (
            "function_call",
            &body.function_call,
            "the model cannot call functions",
        ),
        (
            "tool_choice",
            &body.tool_choice,
            "the model cannot call tools",
        ),
    ];
    for (name, value, why) in neutral_checks {
        if let Some(v) = value {
            // `tool_choice: "none"` is the explicit way of saying "no tools".
            let neutral = is_neutral(v, false) || (name == "tool_choice" && v == "none");
            if !neutral {
                return unsupported(name, why);
            }
        }
    }
    if let Some(v) = &body.response_format {
        let text = v.is_null() || v.get("type").and_then(Value::as_str) == Some("text");
        if !text {
            return unsupported(
                "response_format",
                "only plain text output ({\"type\": \"text\"}) is produced",
            );
        }
    }
    match endpoint {
        Endpoint::Completions if body.messages.is_some() => Err(ApiError::invalid_param(
            "messages",
            "'messages' belongs to /v1/chat/completions; /v1/completions takes 'prompt'",
        )),
        Endpoint::Completions if body.prompt_format.is_some() => Err(ApiError::invalid_param(
            "prompt_format",
            "'prompt_format' belongs to /v1/chat/completions; /v1/completions continues 'prompt' as given",
        )),
        Endpoint::Chat if body.prompt.is_some() => Err(ApiError::invalid_param(
            "prompt",
            "'prompt' belongs to /v1/completions; /v1/chat/completions takes 'messages'",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::parse_json;
    use proptest::prelude::*;

    fn policy() -> RequestPolicy {
        RequestPolicy {
            max_tokens_limit: 512,
            default_max_tokens: 128,
            default_sampling: SamplingParams {
                temperature: 0.8,
                top_p: 0.95,
                top_k: Some(40),
                seed: None,
                presence_penalty: 0.0,
                frequency_penalty: 0.25,
                dry_multiplier: 0.8,
                dry_base: 1.75,
                dry_allowed_length: 2,
            },
        }
    }

    fn check(json: &str, endpoint: Endpoint) -> Result<GenerationSettings, ApiError> {
        let body: GenerationBody = parse_json(json.as_bytes())?;
        validate_settings(&body, endpoint, &policy())
    }

    fn param_of(json: &str) -> String {
        check(json, Endpoint::Completions)
            .unwrap_err()
            .param
            .unwrap_or_default()
    }

    #[test]
    fn bounds_hold_for_values_f32_cannot_hold() {
        assert_eq!(
            param_of(r#"{"presence_penalty":2.0000000000000004}"#),
            "presence_penalty"
        );
        assert_eq!(param_of(r#"{"temperature":2.0000000001}"#), "temperature");
        assert_eq!(param_of(r#"{"top_p":1.00000000001}"#), "top_p");
        let s = check(r#"{"top_p":5e-324,"temperature":2}"#, Endpoint::Completions).unwrap();
        assert!(s.sampling.top_p > 0.0);
        assert_eq!(s.sampling.temperature, 2.0);
    }

    #[test]
    fn whole_numbers_written_with_a_decimal_point_are_integers() {
        // JSON (and the OpenAPI schema's `integer`) do not tell 5 from 5.0.
        let s = check(
            r#"{"max_tokens":5.0,"top_k":7.0,"seed":129855117102.0,"dry_allowed_length":3.0,"logprobs":2.0,"n":1.0}"#,
            Endpoint::Completions,
        )
        .unwrap();
        assert_eq!(s.max_tokens, Some(5));
        assert_eq!(s.sampling.top_k, Some(7));
        assert_eq!(s.sampling.seed, Some(129_855_117_102));
        assert_eq!(s.sampling.dry_allowed_length, 3);
        assert_eq!(s.logprobs, Some(2));
        // Beyond 64 bits is refused naming the field, as the schema's maximum says.
        assert_eq!(param_of(r#"{"max_tokens":1e300}"#), "max_tokens");
        assert_eq!(param_of(r#"{"top_k":9223372036854775808}"#), "top_k");
    }

    #[test]
    fn defaults_apply_when_fields_are_absent() {
        let s = check(r#"{"prompt":"x"}"#, Endpoint::Completions).unwrap();
        assert_eq!(s.max_tokens, None);
        assert_eq!(s.sampling.temperature, 0.8);
        assert_eq!(s.sampling.top_p, 0.95);
        assert_eq!(s.sampling.top_k, Some(40));
        assert!(!s.stream);
        assert!(s.stop.is_empty());
    }

    #[test]
    fn explicit_values_are_kept() {
        let s = check(
            r#"{"prompt":"x","max_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,"seed":42,
                "stop":["\n","The end"],"stream":true,"stream_options":{"include_usage":true}}"#,
            Endpoint::Completions,
        )
        .unwrap();
        assert_eq!(s.max_tokens, Some(7));
        assert_eq!(s.sampling.temperature, 0.0);
        assert_eq!(s.sampling.top_p, 0.5);
        assert_eq!(s.sampling.top_k, Some(3));
        assert_eq!(s.sampling.seed, Some(42));
        assert_eq!(s.stop, vec!["\n".to_string(), "The end".to_string()]);
        assert!(s.stream && s.include_usage);
    }

    #[test]
    fn tiny_positive_top_p_stays_positive() {
        // Found by schemathesis: 5e-324 is > 0 but was 0 as f32, which the engine refused.
        let s = check(r#"{"top_p":5e-324}"#, Endpoint::Completions).unwrap();
        assert!(s.sampling.top_p > 0.0, "{}", s.sampling.top_p);
    }

    #[test]
    fn top_k_zero_reaches_the_engine_as_off() {
        // The engine reads top_k 0 as off (slm-infer's `top_k_zero_draws_as_no_top_k`).
        let s = check(r#"{"top_k":0}"#, Endpoint::Completions).unwrap();
        assert_eq!(s.sampling.top_k, Some(0));
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        assert_eq!(param_of(r#"{"temperature":-0.1}"#), "temperature");
        assert_eq!(param_of(r#"{"temperature":2.5}"#), "temperature");
        assert_eq!(param_of(r#"{"top_p":0}"#), "top_p");
        assert_eq!(param_of(r#"{"top_p":1.01}"#), "top_p");
        assert_eq!(param_of(r#"{"top_k":-1}"#), "top_k");
        assert_eq!(param_of(r#"{"max_tokens":0}"#), "max_tokens");
        assert_eq!(param_of(r#"{"max_tokens":513}"#), "max_tokens");
        assert_eq!(param_of(r#"{"seed":-5}"#), "seed");
        assert_eq!(param_of(r#"{"seed":1.5}"#), "seed");
        assert_eq!(param_of(r#"{"top_k":2.5}"#), "top_k");
        assert_eq!(param_of(r#"{"stop":["a","b","c","d","e"]}"#), "stop");
        assert_eq!(param_of(r#"{"stop":""}"#), "stop");
        assert_eq!(
            param_of(r#"{"stream_options":{"include_usage":true}}"#),
            "stream_options"
        );
    }

    #[test]
    fn unsupported_options_are_refused_by_name() {
        for (json, field) in [
            (r#"{"n":2}"#, "n"),
            (r#"{"best_of":3}"#, "best_of"),
            (r#"{"echo":true}"#, "echo"),
            (r#"{"suffix":"end"}"#, "suffix"),
            (r#"{"logit_bias":{"50256":-100}}"#, "logit_bias"),
        ] {
            let e = check(json, Endpoint::Completions).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(field), "{json}");
            assert_eq!(e.code, Some("unsupported_parameter"), "{json}");
            assert!(e.message.contains(field));
        }
        for (json, field) in [
            (r#"{"tools":[{"type":"function"}]}"#, "tools"),
            (
                r#"{"response_format":{"type":"json_object"}}"#,
                "response_format",
            ),
        ] {
            let e = check(json, Endpoint::Chat).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(field), "{json}");
        }
    }

    #[test]
    fn penalties_default_to_the_models_and_are_range_checked() {
        let s = check(r#"{"prompt":"x"}"#, Endpoint::Completions).unwrap();
        assert_eq!(
            (s.sampling.presence_penalty, s.sampling.frequency_penalty),
            (0.0, 0.25)
        );
        let json = r#"{"presence_penalty":-2,"frequency_penalty":2}"#;
        let s = check(json, Endpoint::Chat).unwrap();
        assert_eq!(
            (s.sampling.presence_penalty, s.sampling.frequency_penalty),
            (-2.0, 2.0)
        );
        for (json, field) in [
            (r#"{"presence_penalty":2.5}"#, "presence_penalty"),
            (r#"{"frequency_penalty":-3}"#, "frequency_penalty"),
            (r#"{"frequency_penalty":1e300}"#, "frequency_penalty"),
        ] {
            let e = check(json, Endpoint::Completions).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(field), "{json}");
            assert!(e.message.contains("between -2 and 2"), "{}", e.message);
        }
    }

    #[test]
    fn dry_settings_default_to_the_models_and_are_range_checked() {
        let s = check(r#"{"prompt":"x"}"#, Endpoint::Completions).unwrap();
        let dry = |s: &GenerationSettings| {
            (
                s.sampling.dry_multiplier,
                s.sampling.dry_base,
                s.sampling.dry_allowed_length,
            )
        };
        assert_eq!(dry(&s), (0.8, 1.75, 2));
        let json = r#"{"dry_multiplier":0,"dry_base":4,"dry_allowed_length":64}"#;
        assert_eq!(dry(&check(json, Endpoint::Chat).unwrap()), (0.0, 4.0, 64));
        for (json, field) in [
            (r#"{"dry_multiplier":-0.5}"#, "dry_multiplier"),
            (r#"{"dry_multiplier":6}"#, "dry_multiplier"),
            (r#"{"dry_base":0.5}"#, "dry_base"),
            (r#"{"dry_allowed_length":0}"#, "dry_allowed_length"),
            (r#"{"dry_allowed_length":65}"#, "dry_allowed_length"),
        ] {
            let e = check(json, Endpoint::Completions).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(field), "{json}");
        }
    }

    #[test]
    fn logprobs_take_each_endpoints_openai_form() {
        let lp = |json: &str, e| check(json, e).map(|s| s.logprobs);
        let c = Endpoint::Completions;
        assert_eq!(lp(r#"{}"#, c).unwrap(), None);
        assert_eq!(lp(r#"{"logprobs":null}"#, c).unwrap(), None);
        assert_eq!(lp(r#"{"logprobs":0}"#, c).unwrap(), Some(0));
        assert_eq!(lp(r#"{"logprobs":20}"#, c).unwrap(), Some(20));
        let chat = Endpoint::Chat;
        assert_eq!(lp(r#"{"logprobs":false}"#, chat).unwrap(), None);
        assert_eq!(lp(r#"{"logprobs":true}"#, chat).unwrap(), Some(0));
        let both = r#"{"logprobs":true,"top_logprobs":5}"#;
        assert_eq!(lp(both, chat).unwrap(), Some(5));
        assert_eq!(lp(r#"{"top_logprobs":0}"#, chat).unwrap(), None);
        for (json, e, field) in [
            (r#"{"logprobs":21}"#, c, "logprobs"),
            (r#"{"logprobs":-1}"#, c, "logprobs"),
            (r#"{"logprobs":true}"#, c, "logprobs"),
            (r#"{"top_logprobs":2}"#, c, "top_logprobs"),
            (r#"{"logprobs":3}"#, chat, "logprobs"),
            (r#"{"top_logprobs":3}"#, chat, "top_logprobs"),
            (
                r#"{"logprobs":true,"top_logprobs":21}"#,
                chat,
                "top_logprobs",
            ),
        ] {
            let err = check(json, e).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(field), "{json}");
        }
    }

    #[test]
    fn neutral_values_of_unsupported_options_pass() {
        let json = r#"{"n":1,"best_of":1,"logprobs":null,"echo":false,"logit_bias":{},
                       "suffix":null,"user":"me"}"#;
        assert!(check(json, Endpoint::Completions).is_ok());
        let chat = r#"{"logprobs":false,"tool_choice":"none","tools":[],"response_format":{"type":"text"}}"#;
        assert!(check(chat, Endpoint::Chat).is_ok());
    }

    #[test]
    fn max_completion_tokens_is_chat_only_and_wins_over_max_tokens() {
        let s = check(r#"{"max_completion_tokens":9}"#, Endpoint::Chat).unwrap();
        assert_eq!(s.max_tokens, Some(9));
        let s = check(
            r#"{"max_tokens":8,"max_completion_tokens":9}"#,
            Endpoint::Chat,
        )
        .unwrap();
        assert_eq!(s.max_tokens, Some(9));
        // Each must still be in range.
        let e = check(
            r#"{"max_tokens":0,"max_completion_tokens":9}"#,
            Endpoint::Chat,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        let e = check(r#"{"max_completion_tokens":9}"#, Endpoint::Completions).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_completion_tokens"));
    }

    #[test]
    fn wrong_endpoint_fields_are_refused() {
        let e = check(r#"{"messages":[]}"#, Endpoint::Completions).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = check(r#"{"prompt":"x"}"#, Endpoint::Chat).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("prompt"));
    }

    proptest! {
        // Any temperature is either accepted unchanged (in range) or refused
        // naming `temperature` - never silently clamped.
        #[test]
        fn temperature_is_accepted_iff_in_range(t in -10.0f64..10.0) {
            let json = format!(r#"{{"temperature":{t}}}"#);
            match check(&json, Endpoint::Completions) {
                Ok(s) => {
                    prop_assert!((0.0..=f64::from(MAX_TEMPERATURE)).contains(&t));
                    prop_assert!((s.sampling.temperature as f64 - t).abs() < 1e-6);
                }
                Err(e) => {
                    prop_assert!(!(0.0..=f64::from(MAX_TEMPERATURE)).contains(&t));
                    prop_assert_eq!(e.param.as_deref(), Some("temperature"));
                }
            }
        }

        #[test]
        fn max_tokens_is_accepted_iff_in_range(m in -1000i64..2000) {
            let json = format!(r#"{{"max_tokens":{m}}}"#);
            let ok = check(&json, Endpoint::Completions).is_ok();
            prop_assert_eq!(ok, (1..=512).contains(&m));
        }

        #[test]
        fn top_p_is_accepted_iff_in_range(p in -1.0f64..2.0) {
            let json = format!(r#"{{"top_p":{p}}}"#);
            let ok = check(&json, Endpoint::Completions).is_ok();
            prop_assert_eq!(ok, p > 0.0 && p <= 1.0);
        }
    }
}
