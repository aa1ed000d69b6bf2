//! Shared helpers: start a server on 127.0.0.1:0 with the tiny committed
//! model (or a slower random one for cancellation tests) and talk to it
//! over a real socket.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use slm_infer::{ModelConfig, WeightDtype, random_model};
use slm_server::config::ServerConfig;
use slm_server::http_client::{
    self, BodyReader, HttpUrl, Response, ResponseHead, SseEvent, SseReader,
};
use slm_server::server::BackgroundServer;
use slm_server::state::AppState;

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub fn tiny_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-random")
}

/// A random model with a long context, big enough that one generation takes
/// seconds: long enough to disconnect, queue behind or shut down during.
pub fn slow_model(dir: &Path) -> PathBuf {
    let tokenizer = slm_tokenizer::Tokenizer::from_file(tiny_model_dir().join("tokenizer.json"))
        .expect("tiny model tokenizer");
    let cfg = ModelConfig {
        dim: 256,
        n_layers: 4,
        n_heads: 4,
        n_kv_heads: 4,
        hidden_dim: 1024,
        vocab_size: 512,
        max_seq_len: 4096,
        rope_theta: 10000.0,
        norm_eps: 1e-5,
        tied: true,
        dropout: 0.0,
    };
    let out = dir.join("slow-random");
    random_model::write_random_model(&out, &cfg, WeightDtype::F16, 7, &tokenizer)
        .expect("write slow model");
    out
}

/// A random model whose tokenizer has the chat markers (an instruction-tuned model's
/// layout): the server must prompt it in the chat format.
pub fn chat_model(dir: &Path) -> PathBuf {
    let base = slm_tokenizer::Tokenizer::from_file(tiny_model_dir().join("tokenizer.json"))
        .expect("tiny model tokenizer");
    let (tokenizer, _) = slm_tokenizer::ChatTemplate::add_to(&base).expect("chat tokens");
    let cfg = ModelConfig {
        dim: 64,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        hidden_dim: 128,
        vocab_size: 576,
        max_seq_len: 128,
        rope_theta: 10000.0,
        norm_eps: 1e-5,
        tied: true,
        dropout: 0.0,
    };
    let out = dir.join("chat-random");
    random_model::write_random_model(&out, &cfg, WeightDtype::F16, 7, &tokenizer)
        .expect("write chat model");
    out
}

pub fn config_for(model: PathBuf) -> ServerConfig {
    ServerConfig {
        port: 0,
        model,
        // A directory that does not exist: tests that want the UI set one.
        web_dir: Some(PathBuf::from("/nonexistent/slm-web")),
        keep_alive_secs: 0.2,
        ..Default::default()
    }
}

/// Config for the slow model: allows completions as long as its context.
pub fn slow_config(dir: &Path) -> ServerConfig {
    ServerConfig {
        max_tokens_limit: 4096,
        ..config_for(slow_model(dir))
    }
}

pub fn start(config: ServerConfig) -> BackgroundServer {
    let state = AppState::load(config).expect("load model");
    BackgroundServer::start(state).expect("start server")
}

pub fn start_tiny() -> BackgroundServer {
    start(config_for(tiny_model_dir()))
}

pub fn url(srv: &BackgroundServer, path: &str) -> HttpUrl {
    HttpUrl::parse(&srv.url(path)).unwrap()
}

pub fn get(srv: &BackgroundServer, path: &str) -> Response {
    http_client::request("GET", &url(srv, path), &[], None, TIMEOUT).unwrap()
}

pub fn get_with(srv: &BackgroundServer, path: &str, headers: &[(&str, &str)]) -> Response {
    http_client::request("GET", &url(srv, path), headers, None, TIMEOUT).unwrap()
}

pub fn post_raw(
    srv: &BackgroundServer,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Response {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    http_client::request("POST", &url(srv, path), &h, Some(body), TIMEOUT).unwrap()
}

pub fn post(srv: &BackgroundServer, path: &str, body: &Value) -> Response {
    post_raw(srv, path, body.to_string().as_bytes(), &[])
}

/// Starts a streaming request and returns its head and SSE reader.
pub fn open_stream(
    srv: &BackgroundServer,
    path: &str,
    body: &Value,
) -> (ResponseHead, SseReader<BodyReader>) {
    let (head, reader) = http_client::send(
        "POST",
        &url(srv, path),
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
        TIMEOUT,
    )
    .unwrap();
    (head, SseReader::new(reader))
}

/// Next `data:` payload, skipping keep-alive comments.
pub fn next_data(sse: &mut SseReader<BodyReader>) -> Option<String> {
    loop {
        match sse.next_event().unwrap() {
            Some(SseEvent::Data(d)) => return Some(d),
            Some(SseEvent::Comment(_)) => continue,
            None => return None,
        }
    }
}

/// All `data:` payloads until the end of the stream.
pub fn all_data(sse: &mut SseReader<BodyReader>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(d) = next_data(sse) {
        out.push(d);
    }
    out
}

/// Polls `cond` until true or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Asserts an OpenAI-shaped error with this status and (optional) param.
pub fn assert_error(r: &Response, status: u16, param: Option<&str>) -> Value {
    assert_eq!(r.status(), status, "body: {}", r.text());
    assert!(
        r.head
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "content-type of {}",
        r.text()
    );
    let v = r.json().unwrap();
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    if let Some(p) = param {
        assert_eq!(e["param"], p, "{v}");
    }
    v
}
