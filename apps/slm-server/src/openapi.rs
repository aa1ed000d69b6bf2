//! The OpenAPI document of the HTTP API (`openapi.json`, committed beside the crate) and
//! the version a running server serves, with its own limits filled in. Built once into
//! `AppState`; the `/openapi.json` route only hands it out.

use serde_json::json;

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `OPENAPI_JSON` as this server applies it: the `maximum` of `max_tokens`
/// (and chat's `max_completion_tokens`) is the running server's limit
/// (`--max-tokens-limit`, at most the context length less one) instead of the default
/// 512, and for a model without a chat template (`chat` false) `prompt_format` can only
/// be `"story"`.
pub fn openapi_document(max_tokens_limit: usize, chat: bool) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(OPENAPI_JSON) else {
        return OPENAPI_JSON.to_string();
    };
    for schema in ["CompletionRequest", "ChatRequest"] {
        for field in ["max_tokens", "max_completion_tokens"] {
            let pointer = format!("/components/schemas/{schema}/properties/{field}");
            if let Some(prop) = doc.pointer_mut(&pointer).and_then(|p| p.as_object_mut()) {
                prop.insert("maximum".into(), json!(max_tokens_limit));
            }
        }
    }
    if !chat
        && let Some(format) =
            doc.pointer_mut("/components/schemas/ChatRequest/properties/prompt_format/enum")
    {
        *format = json!(["story", null]);
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| OPENAPI_JSON.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_openapi_document_states_the_configured_max_tokens_limit() {
        let v: serde_json::Value = serde_json::from_str(&openapi_document(16, true)).unwrap();
        for (schema, field) in [
            ("CompletionRequest", "max_tokens"),
            ("ChatRequest", "max_tokens"),
            ("ChatRequest", "max_completion_tokens"),
        ] {
            let p = &v["components"]["schemas"][schema]["properties"][field];
            assert_eq!(p["maximum"], 16, "{schema}.{field}");
            assert_eq!(p["minimum"], 1, "{schema}.{field}");
        }
        // Everything else is the committed document.
        let committed: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let default: serde_json::Value =
            serde_json::from_str(&openapi_document(512, true)).unwrap();
        assert_eq!(default, committed);
        // A base model cannot take the chat format.
        let base: serde_json::Value = serde_json::from_str(&openapi_document(512, false)).unwrap();
        let format = &base["components"]["schemas"]["ChatRequest"]["properties"]["prompt_format"];
        assert_eq!(format["enum"], json!(["story", null]));
    }

    #[test]
    fn openapi_document_is_valid_json_and_lists_every_route() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3."));
        for path in crate::server::API_ROUTES {
            assert!(v["paths"].get(*path).is_some(), "openapi.json lacks {path}");
        }
    }
}
