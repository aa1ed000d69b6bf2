//! SSE framing, disconnect cancellation, queue-full 429 and the drain on
//! shutdown, all over real sockets.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use slm_server::config::ServerConfig;
use slm_server::server::BackgroundServer;

#[test]
fn completion_stream_framing_matches_the_non_streamed_text() {
    let srv = start_tiny();
    let body = json!({"prompt": "Once upon a time", "max_tokens": 24, "seed": 11,
                      "stream": true, "stream_options": {"include_usage": true}});
    let (head, mut sse) = open_stream(&srv, "/v1/completions", &body);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    let events = all_data(&mut sse);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c["id"] == id && c["object"] == "text_completion")
    );
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    let (final_chunk, deltas) = rest.split_last().unwrap();
    assert!(usage_chunk["choices"].as_array().unwrap().is_empty());
    assert!(
        deltas
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    let finish = final_chunk["choices"][0]["finish_reason"].as_str().unwrap();
    let text: String = deltas
        .iter()
        .map(|c| c["choices"][0]["text"].as_str().unwrap())
        .collect();

    let mut plain = body.clone();
    plain.as_object_mut().unwrap().remove("stream");
    plain.as_object_mut().unwrap().remove("stream_options");
    let v = post(&srv, "/v1/completions", &plain).json().unwrap();
    assert_eq!(text, v["choices"][0]["text"].as_str().unwrap());
    assert_eq!(finish, v["choices"][0]["finish_reason"]);
    assert_eq!(usage_chunk["usage"], v["usage"]);
}

#[test]
fn chat_stream_has_role_then_content_then_finish() {
    let srv = start_tiny();
    let body = json!({"messages": [{"role": "user", "content": "Sam found a box."}],
                      "max_tokens": 12, "temperature": 0, "stream": true});
    let (head, mut sse) = open_stream(&srv, "/v1/chat/completions", &body);
    assert_eq!(head.status, 200);
    let events = all_data(&mut sse);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let last = chunks.last().unwrap();
    assert!(last["choices"][0]["finish_reason"].is_string());
    assert!(last.get("usage").is_none(), "usage only when asked for");
    let text: String = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    let mut plain = body.clone();
    plain["stream"] = json!(false);
    let v = post(&srv, "/v1/chat/completions", &plain).json().unwrap();
    assert_eq!(
        text,
        v["choices"][0]["message"]["content"].as_str().unwrap()
    );
}

#[test]
fn client_disconnect_cancels_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(slow_config(dir.path()));
    let body = json!({"prompt": "Once", "max_tokens": 4000, "temperature": 0, "stream": true});
    let (head, mut sse) = open_stream(&srv, "/v1/completions", &body);
    assert_eq!(head.status, 200);
    // Wait for real tokens so the sequence is surely running.
    for _ in 0..3 {
        let d = next_data(&mut sse).expect("a chunk");
        assert_ne!(d, "[DONE]", "generation ended before the disconnect");
    }
    assert_eq!(srv.state.engine.stats().running, 1);
    let cancelled_before = srv.state.engine.stats().cancelled;
    // Dropping the reader closes the socket (the agent keeps no idle connections).
    drop(sse);
    assert!(
        wait_until(Duration::from_secs(10), || srv.state.engine.stats().running
            == 0),
        "engine still running after the client left: {:?}",
        srv.state.engine.stats()
    );
    assert_eq!(srv.state.engine.stats().cancelled, cancelled_before + 1);
    assert!(wait_until(Duration::from_secs(5), || srv
        .state
        .metrics
        .aborted_count("client_disconnected")
        == 1));
    let m = get(&srv, "/metrics").text();
    assert!(
        m.contains("slm_request_aborted_total{reason=\"client_disconnected\"} 1"),
        "{m}"
    );
}

#[test]
fn full_queue_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = slow_config(dir.path());
    cfg.engine.max_batch = 1;
    cfg.engine.queue_capacity = 1;
    cfg.retry_after_secs = 2;
    let srv = start(cfg);
    let body = json!({"prompt": "Once", "max_tokens": 4000, "temperature": 0, "stream": true});
    // A: running.
    let (head_a, mut a) = open_stream(&srv, "/v1/completions", &body);
    assert_eq!(head_a.status, 200);
    assert_ne!(next_data(&mut a).unwrap(), "[DONE]");
    // B: waits in the queue (its stream starts with keep-alives only).
    let (head_b, mut b) = open_stream(&srv, "/v1/completions", &body);
    assert_eq!(head_b.status, 200);
    assert!(matches!(
        b.next_event().unwrap(),
        Some(SseEvent::Comment(_))
    ));
    assert!(wait_until(Duration::from_secs(5), || srv
        .state
        .engine
        .stats()
        .queued
        == 1));
    // C: no room.
    let r = post(&srv, "/v1/completions", &body);
    let v = assert_error(&r, 429, None);
    assert_eq!(v["error"]["code"], "queue_full");
    assert_eq!(r.head.header("retry-after"), Some("2"));
    let m = get(&srv, "/metrics").text();
    assert!(m.contains("slm_num_requests_waiting 1\n"), "{m}");
    assert!(m.contains("slm_num_requests_running 1\n"), "{m}");
    assert!(
        m.contains("slm_http_requests_total{route=\"/v1/completions\",status=\"429\"} 1\n"),
        "{m}"
    );
    drop(a);
    drop(b);
    assert!(wait_until(Duration::from_secs(10), || {
        let s = srv.state.engine.stats();
        s.running == 0 && s.queued == 0
    }));
}

/// Opens a long greedy stream on a slow-model server (seconds at 1,000 tokens) and waits
/// for its first chunk.
fn long_stream(srv: &BackgroundServer, max_tokens: usize) -> SseReader {
    let body =
        json!({"prompt": "Once", "max_tokens": max_tokens, "temperature": 0, "stream": true});
    let (head, mut sse) = open_stream(srv, "/v1/completions", &body);
    assert_eq!(head.status, 200);
    assert_ne!(next_data(&mut sse).unwrap(), "[DONE]");
    sse
}

/// The last two events of a stream cut by shutdown: a `shutting_down` error, then `[DONE]`.
fn assert_cut_by_shutdown(events: &[String]) {
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let err: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(err["error"]["code"], "shutting_down", "{err}");
}

#[test]
fn a_stop_signal_drains_in_flight_streams_then_stops() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(ServerConfig {
        shutdown_grace_secs: 300.0,
        ..slow_config(dir.path())
    });
    let mut sse = long_stream(&srv, 1500);
    srv.signal();
    // Not ready, and new generations are refused with Retry-After, at once...
    assert!(wait_until(Duration::from_secs(5), || srv
        .state
        .is_shutting_down()));
    let r = get(&srv, "/ready");
    assert_eq!(r.status(), 503);
    assert_eq!(r.json().unwrap()["status"], "shutting_down");
    let r = post(
        &srv,
        "/v1/completions",
        &json!({"prompt": "Once", "max_tokens": 4}),
    );
    let v = assert_error(&r, 503, None);
    assert_eq!(v["error"]["code"], "shutting_down");
    assert_eq!(r.head.header("retry-after"), Some("1"));
    // ...while the stream in flight goes on to its natural end (no stop sequence).
    assert_eq!(srv.state.in_flight(), 1);
    assert_eq!(get(&srv, "/health").status(), 200);
    let events = all_data(&mut sse);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "length", "{last}");
    assert!(!events.iter().any(|e| e.contains("\"error\"")));
    let state = srv.state.clone();
    srv.join().unwrap();
    assert_eq!(state.in_flight(), 0);
    assert_eq!(state.engine.stats().cancelled, 0);
}

#[test]
fn a_second_stop_signal_cancels_in_flight_streams() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(ServerConfig {
        shutdown_grace_secs: 300.0,
        ..slow_config(dir.path())
    });
    let mut sse = long_stream(&srv, 4000);
    srv.signal();
    assert!(wait_until(Duration::from_secs(5), || srv
        .state
        .is_shutting_down()));
    // Still streaming during the drain.
    assert_ne!(next_data(&mut sse).unwrap(), "[DONE]");
    srv.signal();
    assert_cut_by_shutdown(&all_data(&mut sse));
    let state = srv.state.clone();
    srv.join().unwrap();
    assert_eq!(state.engine.stats().running, 0);
}

#[test]
fn the_grace_period_ends_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(ServerConfig {
        shutdown_grace_secs: 0.3,
        ..slow_config(dir.path())
    });
    let mut sse = long_stream(&srv, 4000);
    srv.signal();
    assert_cut_by_shutdown(&all_data(&mut sse));
    srv.join().unwrap();
}

#[test]
fn stopping_at_once_cancels_in_flight_streams() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(slow_config(dir.path()));
    let mut sse = long_stream(&srv, 4000);
    let state = srv.state.clone();
    let stopper = std::thread::spawn(move || srv.shutdown());
    assert_cut_by_shutdown(&all_data(&mut sse));
    stopper.join().unwrap().unwrap();
    assert!(state.is_shutting_down());
    assert_eq!(state.engine.stats().running, 0);
}

/// Streamed logprobs (each chunk carries its tokens' entries, the last chunk the rest) add
/// up to the non-streamed ones, in each endpoint's OpenAI shape.
#[test]
fn streamed_logprobs_add_up_to_the_whole_answer() {
    let srv = start_tiny();
    let chunks = |path: &str, body: &Value| -> Vec<Value> {
        let (head, mut sse) = open_stream(&srv, path, body);
        assert_eq!(head.status, 200);
        let events = all_data(&mut sse);
        events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect()
    };
    let plain = |body: &Value| -> Value {
        let mut b = body.clone();
        b["stream"] = json!(false);
        post(&srv, path_of(&b), &b).json().unwrap()
    };
    fn path_of(b: &Value) -> &'static str {
        if b.get("messages").is_some() {
            "/v1/chat/completions"
        } else {
            "/v1/completions"
        }
    }

    let body = json!({"prompt": "Once upon a time", "max_tokens": 16, "seed": 4,
                      "logprobs": 2, "stream": true});
    let streamed = chunks("/v1/completions", &body);
    let whole = plain(&body)["choices"][0]["logprobs"].clone();
    for key in ["tokens", "token_logprobs", "top_logprobs", "text_offset"] {
        let joined: Vec<Value> = streamed
            .iter()
            .flat_map(|c| c["choices"][0]["logprobs"][key].as_array().unwrap().clone())
            .collect();
        assert_eq!(Value::from(joined), whole[key], "{key}");
    }
    assert!(
        whole["top_logprobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.as_object().unwrap().len() <= 2)
    );

    let body = json!({"messages": [{"role": "user", "content": "Sam found a box."}],
                      "max_tokens": 12, "seed": 4, "logprobs": true, "top_logprobs": 3,
                      "stream": true});
    let streamed = chunks("/v1/chat/completions", &body);
    assert!(
        streamed[0]["choices"][0]["logprobs"].is_null(),
        "role chunk"
    );
    let joined: Vec<Value> = streamed[1..]
        .iter()
        .flat_map(|c| {
            c["choices"][0]["logprobs"]["content"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let whole = plain(&body)["choices"][0]["logprobs"]["content"].clone();
    assert_eq!(Value::from(joined), whole);
    for t in whole.as_array().unwrap() {
        assert_eq!(t["top_logprobs"].as_array().unwrap().len(), 3);
        let bytes: Vec<u8> = serde_json::from_value(t["bytes"].clone()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            t["token"].as_str().unwrap()
        );
        assert!(t["logprob"].as_f64().unwrap() <= 0.0);
    }
}
