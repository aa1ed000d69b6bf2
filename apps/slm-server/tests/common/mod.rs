//! Shared helpers: start a server on 127.0.0.1:0 with the tiny committed
//! model (or a slower random one for cancellation tests) and talk to it
//! over a real socket with `ureq`.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use slm_infer::{FileDtype, ModelConfig};
use slm_server::config::ServerConfig;
use slm_server::server::BackgroundServer;
use slm_server::state::AppState;
use slm_testdata::random_model;

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub fn tiny_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-random")
}

fn tiny_tokenizer() -> slm_tokenizer::Tokenizer {
    slm_tokenizer::Tokenizer::from_file(tiny_model_dir().join("tokenizer.json"))
        .expect("tiny model tokenizer")
}

/// The committed tiny model's config, the base of the random test models below.
fn tiny_config() -> ModelConfig {
    let text = std::fs::read_to_string(tiny_model_dir().join("config.json")).expect("tiny config");
    ModelConfig::from_json(&text).expect("valid tiny config")
}

/// Writes random f16 weights for `cfg` with `tokenizer` into `dir/name`.
fn random_model_dir(
    dir: &Path,
    name: &str,
    cfg: &ModelConfig,
    tokenizer: &slm_tokenizer::Tokenizer,
) -> PathBuf {
    let out = dir.join(name);
    random_model::write_random_model(&out, cfg, FileDtype::F16, 7, tokenizer)
        .expect("write random model");
    out
}

/// A random model with a long context, big enough that one generation takes
/// seconds: long enough to disconnect, queue behind or shut down during.
pub fn slow_model(dir: &Path) -> PathBuf {
    let cfg = ModelConfig {
        dim: 256,
        n_layers: 4,
        n_kv_heads: 4,
        hidden_dim: 1024,
        max_seq_len: 4096,
        ..tiny_config()
    };
    random_model_dir(dir, "slow-random", &cfg, &tiny_tokenizer())
}

/// A random model whose tokenizer has the chat markers (an instruction-tuned model's
/// layout): the server must prompt it in the chat format.
pub fn chat_model(dir: &Path) -> PathBuf {
    let (tokenizer, _) =
        slm_tokenizer::ChatTemplate::add_to(&tiny_tokenizer()).expect("chat tokens");
    // The tiny model's shape with 64 more rows for the two chat tokens.
    let cfg = ModelConfig {
        vocab_size: 576,
        ..tiny_config()
    };
    random_model_dir(dir, "chat-random", &cfg, &tokenizer)
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

/// Where the helpers below send requests: a server on a thread of the test, or a
/// server process at `host:port` (`External`).
pub trait Target {
    fn url(&self, path: &str) -> String;
}

impl Target for BackgroundServer {
    fn url(&self, path: &str) -> String {
        BackgroundServer::url(self, path)
    }
}

pub struct External(pub String);

impl Target for External {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.0, path)
    }
}

/// Hands 4xx/5xx responses back instead of failing, and opens one
/// connection per request, so dropping a stream's reader closes its socket
/// (that is how the tests disconnect). `TIMEOUT` bounds the connect and
/// each socket read or write.
static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .timeout_connect(Some(TIMEOUT))
        .timeout_per_read(Some(TIMEOUT))
        .timeout_per_write(Some(TIMEOUT))
        .build()
        .into()
});

/// Status line and headers of a response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A whole response, body read to the end.
#[derive(Debug, Clone)]
pub struct Response {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request and returns its head and unread body.
fn send(
    srv: &impl Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (ResponseHead, ureq::Body) {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(srv.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = match body {
        Some(b) => AGENT.run(req.body(b).unwrap()),
        None => AGENT.run(req.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let head = ResponseHead {
        status: resp.status().as_u16(),
        headers: resp
            .headers()
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_string(), v)
            })
            .collect(),
    };
    (head, resp.into_body())
}

/// Sends a request and reads the whole body.
pub fn request(
    srv: &impl Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let (head, mut body) = send(srv, method, path, headers, body);
    let body = body.read_to_vec().expect("read the body");
    Response { head, body }
}

pub fn get(srv: &impl Target, path: &str) -> Response {
    request(srv, "GET", path, &[], None)
}

pub fn get_with(srv: &impl Target, path: &str, headers: &[(&str, &str)]) -> Response {
    request(srv, "GET", path, headers, None)
}

pub fn post_raw(srv: &impl Target, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(srv, "POST", path, &h, Some(body))
}

pub fn post(srv: &impl Target, path: &str, body: &Value) -> Response {
    post_raw(srv, path, body.to_string().as_bytes(), &[])
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEvent {
    /// The (newline-joined) `data:` lines of one event.
    Data(String),
    /// A `:` comment line, e.g. a keep-alive.
    Comment(String),
}

/// Reads SSE events one at a time from a streamed body; dropping it closes
/// the connection.
pub struct SseReader {
    inner: BufReader<ureq::BodyReader<'static>>,
}

impl SseReader {
    /// The next event, or `None` at the end of the stream.
    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        let mut data: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if self.inner.read_line(&mut line)? == 0 {
                return Ok(data.map(SseEvent::Data));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(d) = data.take() {
                    return Ok(Some(SseEvent::Data(d)));
                }
            } else if let Some(c) = line.strip_prefix(':') {
                if data.is_none() {
                    return Ok(Some(SseEvent::Comment(c.trim().to_string())));
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                let d = d.strip_prefix(' ').unwrap_or(d);
                match &mut data {
                    Some(existing) => {
                        existing.push('\n');
                        existing.push_str(d);
                    }
                    None => data = Some(d.to_string()),
                }
            }
            // Other fields (event:, id:, retry:) are not used by our API.
        }
    }
}

/// Starts a streaming request and returns its head and SSE reader.
pub fn open_stream(srv: &impl Target, path: &str, body: &Value) -> (ResponseHead, SseReader) {
    let (head, body) = send(
        srv,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    let inner = BufReader::new(body.into_reader());
    (head, SseReader { inner })
}

/// Next `data:` payload, skipping keep-alive comments.
pub fn next_data(sse: &mut SseReader) -> Option<String> {
    loop {
        match sse.next_event().unwrap() {
            Some(SseEvent::Data(d)) => return Some(d),
            Some(SseEvent::Comment(_)) => continue,
            None => return None,
        }
    }
}

/// All `data:` payloads until the end of the stream.
pub fn all_data(sse: &mut SseReader) -> Vec<String> {
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
