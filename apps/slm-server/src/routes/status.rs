//! Read-only endpoints: model list, liveness/readiness, metrics, the UI's
//! `/api/info` and the OpenAPI document.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::chat_template::PromptFormat;
use crate::error::ApiError;
use crate::openai::response::{ModelCard, ModelList};
use crate::state::AppState;

fn model_card(state: &AppState) -> ModelCard<'_> {
    ModelCard {
        id: state.model_name(),
        object: "model",
        created: state.created,
        owned_by: "slm",
        max_model_len: state.context_length(),
    }
}

pub async fn list_models(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ModelList {
        object: "list",
        data: vec![model_card(&state)],
    })
}

pub async fn get_model(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if id.as_str() != state.model_name() {
        return Err(ApiError::model_not_found(&id, state.model_name()));
    }
    Ok(HttpResponse::Ok().json(model_card(&state)))
}

/// Liveness: the process answers HTTP.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the model is loaded and the server is not shutting down.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.is_shutting_down() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"status": "shutting_down", "model": state.model_name()}));
    }
    HttpResponse::Ok().json(json!({"status": "ready", "model": state.model_name()}))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.engine_gauges()))
}

/// f32 settings as the short decimals people wrote (0.8, not 0.800000011920929).
fn round_f32(x: f32) -> f64 {
    (f64::from(x) * 1e6).round() / 1e6
}

/// What the web UI shows about the model and its measured speed: the single-stream decode
/// speed measured at start-up, and the recent per-request averages (which depend on the
/// load at the time).
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    let i = state.engine.info();
    let c = &i.config;
    let d = &state.policy.default_sampling;
    HttpResponse::Ok().json(json!({
        "model": i.name,
        "parameters": i.n_params,
        "weights_bytes": i.weights_bytes,
        "dtype": i.dtype,
        "context_length": i.max_seq_len,
        "vocab_size": i.vocab_size,
        "layers": c.n_layers,
        "dim": c.dim,
        "heads": c.n_heads,
        "kv_heads": c.n_kv_heads,
        "max_batch": state.engine.stats().max_batch,
        "decode_tokens_per_s": state.metrics.recent_decode_tokens_per_s(),
        "single_stream_decode_tokens_per_s": state.startup_decode_tokens_per_s,
        "chat_format": state.prompt_format == PromptFormat::Chat,
        "ttft_ms_p50": state.metrics.recent_ttft_p50_ms(),
        "defaults": {
            "max_tokens": state.policy.default_max_tokens,
            "temperature": round_f32(d.temperature),
            "top_p": round_f32(d.top_p),
            "top_k": d.top_k,
            "presence_penalty": round_f32(d.presence_penalty),
            "frequency_penalty": round_f32(d.frequency_penalty),
            "dry_multiplier": round_f32(d.dry_multiplier),
            "dry_base": round_f32(d.dry_base),
            "dry_allowed_length": d.dry_allowed_length,
        },
        "auth_required": state.api_key.is_some(),
    }))
}

/// Serves the document [`crate::openapi::openapi_document`] built once, when the state was.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_defaults_are_shown_as_written() {
        assert_eq!(round_f32(0.8), 0.8);
        assert_eq!(round_f32(0.95), 0.95);
    }
}
