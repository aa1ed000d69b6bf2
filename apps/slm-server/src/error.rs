//! API errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
//!
//! Every failure a client can cause maps to a 4xx with a message naming the
//! problem; 5xx is reserved for the server's own trouble (shutting down,
//! timeouts, engine failures).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// One API error: HTTP status plus the OpenAI error body fields.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds for a `Retry-After` header (429/503 only).
    pub retry_after_secs: Option<u64>,
}

/// JSON body of an error response (and of an error event inside an SSE stream).
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after_secs: None,
        }
    }

    /// 400 for a request field with a bad value; `param` names the field.
    pub fn invalid_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message.into(),
        );
        e.param = Some(param.into());
        e.code = Some("invalid_value");
        e
    }

    /// 400 for an OpenAI option this server deliberately does not implement.
    pub fn unsupported_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::invalid_param(param, message);
        e.code = Some("unsupported_parameter");
        e
    }

    /// 400 for a body that is not the JSON we expect (syntax, types, encoding).
    pub fn bad_body(param: Option<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message.into(),
        );
        e.param = param;
        e.code = Some("invalid_json");
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body exceeds the limit of {limit} bytes"),
        );
        e.code = Some("payload_too_large");
        e
    }

    /// 400: prompt plus completion do not fit the model's context window.
    pub fn context_overflow(param: &str, message: impl Into<String>) -> Self {
        let mut e = Self::invalid_param(param, message);
        e.code = Some("context_length_exceeded");
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            message.into(),
        );
        e.code = Some("invalid_api_key");
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
        e.code = Some("not_found");
        e
    }

    pub fn model_not_found(requested: &str, served: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("model '{requested}' does not exist; this server serves '{served}'"),
        );
        e.param = Some("model".into());
        e.code = Some("model_not_found");
        e
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            format!("method {method} is not allowed on {path}"),
        );
        e.code = Some("method_not_allowed");
        e
    }

    /// 429: the engine's bounded queue is full; the client should retry later.
    pub fn queue_full(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "the server is at capacity (generation queue is full); retry later",
        );
        e.code = Some("queue_full");
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    pub fn shutting_down() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the server is shutting down",
        );
        e.code = Some("shutting_down");
        e.retry_after_secs = Some(1);
        e
    }

    pub fn timeout(secs: f64) -> Self {
        let mut e = Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout_error",
            format!("the request did not finish within the server's limit of {secs} s"),
        );
        e.code = Some("timeout");
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The OpenAI-shaped JSON body, also used for mid-stream `data:` error events.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings cannot fail; fall back to a fixed body just in case.
        serde_json::to_string(&self.body())
            .unwrap_or_else(|_| r#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CONTENT_TYPE, "application/json"));
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.insert_header((header::RETRY_AFTER, v));
        }
        resp.body(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_openai_shape() {
        let e = ApiError::invalid_param("temperature", "temperature must be >= 0, got -1");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["message"], "temperature must be >= 0, got -1");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "temperature");
        assert_eq!(v["error"]["code"], "invalid_value");
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn queue_full_sets_retry_after() {
        let resp = ApiError::queue_full(3).error_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "3");
    }

    #[test]
    fn null_param_serialises_as_null() {
        let v: serde_json::Value =
            serde_json::from_str(&ApiError::internal("boom").to_json()).unwrap();
        assert!(v["error"]["param"].is_null());
        assert!(v["error"]["code"].is_null());
    }
}
