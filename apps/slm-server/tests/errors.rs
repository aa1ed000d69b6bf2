//! Every error case the API promises: a clear 4xx in OpenAI's shape, never a
//! 500 or a panic.

mod common;

use common::*;
use serde_json::json;

#[test]
fn malformed_bodies_are_400() {
    let srv = start_tiny();
    let v = assert_error(
        &post_raw(&srv, "/v1/completions", b"{\"prompt\": ", &[]),
        400,
        None,
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let v = assert_error(
        &post_raw(&srv, "/v1/completions", b"{\"prompt\": \"\xff\xfe\"}", &[]),
        400,
        None,
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("UTF-8"));
    assert_error(&post_raw(&srv, "/v1/completions", b"", &[]), 400, None);
    assert_error(&post_raw(&srv, "/v1/completions", b"[1]", &[]), 400, None);
    // Wrong types name the field.
    for (body, field) in [
        (json!({"prompt": "x", "temperature": "hot"}), "temperature"),
        (json!({"prompt": "x", "max_tokens": "ten"}), "max_tokens"),
        (json!({"prompt": "x", "stream": "yes"}), "stream"),
        (json!({"prompt": 5}), "prompt"),
        (json!({"messages": "hi"}), "messages"),
    ] {
        let path = if body.get("messages").is_some() {
            "/v1/chat/completions"
        } else {
            "/v1/completions"
        };
        assert_error(&post(&srv, path, &body), 400, Some(field));
    }
}

#[test]
fn parameter_ranges_are_enforced_naming_the_field() {
    let srv = start_tiny();
    for (extra, field) in [
        (json!({"temperature": -0.5}), "temperature"),
        (json!({"temperature": 3}), "temperature"),
        (json!({"top_p": 0}), "top_p"),
        (json!({"top_p": 1.5}), "top_p"),
        (json!({"top_k": -2}), "top_k"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"max_tokens": 100000}), "max_tokens"),
        (json!({"seed": -1}), "seed"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"n": 2}), "n"),
        (json!({"logprobs": 21}), "logprobs"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (json!({"best_of": 2}), "best_of"),
        (json!({"echo": true}), "echo"),
        (json!({"presence_penalty": 2.5}), "presence_penalty"),
        (json!({"frequency_penalty": -2.1}), "frequency_penalty"),
    ] {
        let mut body = json!({"prompt": "Once"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_error(&post(&srv, "/v1/completions", &body), 400, Some(field));
    }
    assert_error(
        &post(
            &srv,
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}),
        ),
        400,
        Some("tools"),
    );
}

#[test]
fn missing_or_bad_prompts_and_messages_are_400() {
    let srv = start_tiny();
    assert_error(
        &post(&srv, "/v1/completions", &json!({})),
        400,
        Some("prompt"),
    );
    assert_error(
        &post(&srv, "/v1/completions", &json!({"prompt": ["a", "b"]})),
        400,
        Some("prompt"),
    );
    assert_error(
        &post(&srv, "/v1/chat/completions", &json!({})),
        400,
        Some("messages"),
    );
    assert_error(
        &post(&srv, "/v1/chat/completions", &json!({"messages": []})),
        400,
        Some("messages"),
    );
    assert_error(
        &post(
            &srv,
            "/v1/chat/completions",
            &json!({"messages": [{"role": "tool", "content": "x"}]}),
        ),
        400,
        Some("messages[0].role"),
    );
    assert_error(
        &post(
            &srv,
            "/v1/completions",
            &json!({"prompt": "x", "model": "gpt-4o"}),
        ),
        404,
        Some("model"),
    );
}

#[test]
fn context_limit_is_enforced() {
    let srv = start_tiny();
    let long = "The little dog ran to the big red house. ".repeat(40);
    assert!(srv.state.engine.tokenizer().encode(&long).unwrap().len() > 128);
    let v = assert_error(
        &post(&srv, "/v1/completions", &json!({"prompt": long})),
        400,
        Some("prompt"),
    );
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    // Fits alone, not with the requested completion.
    let prompt = "The little dog ran to the big red house. ".repeat(4);
    let n = srv.state.engine.tokenizer().encode(&prompt).unwrap().len();
    assert!(n < 100, "{n}");
    let v = assert_error(
        &post(
            &srv,
            "/v1/completions",
            &json!({"prompt": prompt, "max_tokens": 128 - n + 1}),
        ),
        400,
        Some("max_tokens"),
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("at most {}", 128 - n)),
        "{v}"
    );
    // Exactly filling the context is fine.
    let r = post(
        &srv,
        "/v1/completions",
        &json!({"prompt": prompt, "max_tokens": 128 - n, "temperature": 0}),
    );
    assert_eq!(r.status(), 200, "{}", r.text());
    // Without max_tokens the default shrinks to the room left.
    let r = post(&srv, "/v1/completions", &json!({"prompt": prompt}));
    assert_eq!(r.status(), 200, "{}", r.text());
    let used = r.json().unwrap()["usage"]["total_tokens"].as_u64().unwrap();
    assert!(used <= 128, "{used}");
    // Chat: the latest message alone too long.
    assert_error(
        &post(
            &srv,
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": long}]}),
        ),
        400,
        Some("messages"),
    );
}

#[test]
fn body_limit_unknown_routes_and_methods() {
    let mut cfg = config_for(tiny_model_dir());
    cfg.max_body_bytes = 1024;
    let srv = start(cfg);
    let big = json!({"prompt": "a ".repeat(2000)}).to_string();
    let v = assert_error(
        &post_raw(&srv, "/v1/completions", big.as_bytes(), &[]),
        413,
        None,
    );
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert_error(&get(&srv, "/v1/completions"), 405, None);
    assert_error(&get(&srv, "/v1/chat/completions"), 405, None);
    assert_error(&post(&srv, "/v1/models", &json!({})), 405, None);
    // A 405 names the methods the path takes (RFC 9110; found by schemathesis).
    for (method, path, allow) in [
        ("GET", "/v1/completions", "POST"),
        ("TRACE", "/v1/chat/completions", "POST"),
        ("DELETE", "/v1/models", "GET"),
        ("PUT", "/v1/models/x", "GET"),
        ("POST", "/health", "GET"),
        ("PATCH", "/metrics", "GET"),
        ("TRACE", "/openapi.json", "GET"),
    ] {
        let r = request(&srv, method, path, &[], None);
        assert_error(&r, 405, None);
        assert_eq!(r.head.header("allow"), Some(allow), "{method} {path}");
    }
    assert_error(&get(&srv, "/v1/engines"), 404, None);
    // Outside /v1 and /api an unknown path is a plain-text 404 (it may be a UI asset).
    let r = post(&srv, "/v2/completions", &json!({}));
    assert_eq!(r.status(), 404);
    assert!(r.text().contains("/v2/completions"), "{}", r.text());
}

#[test]
fn request_timeout_is_504_or_a_stream_error_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = slow_config(dir.path());
    cfg.request_timeout_secs = 0.3;
    let srv = start(cfg);
    let body = json!({"prompt": "Once", "max_tokens": 3000, "temperature": 0});
    let v = assert_error(&post(&srv, "/v1/completions", &body), 504, None);
    assert_eq!(v["error"]["code"], "timeout");

    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    let (head, mut sse) = open_stream(&srv, "/v1/completions", &sbody);
    assert_eq!(head.status, 200);
    let events = all_data(&mut sse);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let err: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(err["error"]["code"], "timeout", "{events:?}");
    // The timed-out generations were cancelled, not left running.
    assert!(wait_until(std::time::Duration::from_secs(5), || srv
        .state
        .engine
        .stats()
        .running
        == 0));
}
