//! Reading JSON request bodies ourselves, so that every failure (too big,
//! not UTF-8, bad syntax, wrong field type) becomes an OpenAI-style error that
//! names the problem instead of actix's plain-text defaults.

use actix_web::web;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Reads the whole body, refusing it as soon as it grows past `limit` bytes.
pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::payload_too_large(limit),
            other => ApiError::bad_body(None, format!("could not read request body: {other}")),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Parses a JSON body into `T`, naming the offending field on type errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_body(
            None,
            format!(
                "request body is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_body(
            None,
            "request body is empty; expected a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_body(None, format!("request body is not valid JSON: {inner}"))
        } else if path.is_empty() || path == "." {
            ApiError::bad_body(None, format!("invalid request body: {inner}"))
        } else {
            ApiError::bad_body(
                Some(path.clone()),
                format!("invalid field '{path}': {inner}"),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Req {
        #[allow(dead_code)]
        temperature: Option<f32>,
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json::<Req>(br#"{"temperature": "hot"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"));
        assert!(e.message.contains("temperature"), "{}", e.message);
        assert_eq!(e.status.as_u16(), 400);
    }

    #[test]
    fn syntax_error_is_reported_as_invalid_json() {
        let e = parse_json::<Req>(br#"{"temperature": "#).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        assert_eq!(e.param, None);
    }

    #[test]
    fn invalid_utf8_is_rejected_with_offset() {
        let e = parse_json::<Req>(b"{\"temperature\": \"\xff\"}").unwrap_err();
        assert!(e.message.contains("UTF-8"), "{}", e.message);
        assert!(e.message.contains("offset 17"), "{}", e.message);
    }

    #[test]
    fn empty_body_is_rejected() {
        let e = parse_json::<Req>(b"  ").unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
    }

    #[test]
    fn non_object_is_rejected() {
        let e = parse_json::<Req>(b"[1,2]").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
