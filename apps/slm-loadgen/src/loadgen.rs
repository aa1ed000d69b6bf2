//! The load generator behind `slm-loadgen`: N concurrent users, each sending
//! streaming completion requests back to back for a bounded time, and a JSON
//! summary of what they saw (throughput, TTFT, inter-token latency, errors,
//! server peak RSS).
//!
//! One OS thread per user with the blocking client: at ≤ a few hundred users
//! that is simpler than an async client and measures the same thing.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use slm_observe::{ProcessMemory, percentile};

use crate::sse;

/// Story beginnings the users cycle through.
pub const PROMPTS: &[&str] = &[
    "Once upon a time, there was a little girl named Lily.",
    "Tom had a red ball. One day,",
    "The sun was shining and the birds were singing. A small dog",
    "Sara and Ben went to the park to play.",
    "There was a big tree in the garden.",
];

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Server base URL without a trailing `/`, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub users: usize,
    pub duration: Duration,
    pub max_tokens: usize,
    pub temperature: f32,
    pub chat: bool,
    pub api_key: Option<String>,
    pub request_timeout: Duration,
}

/// An HTTP client that hands back 4xx/5xx responses instead of errors and
/// opens one connection per request (no keep-alive pool, so every request's
/// TTFT includes its connect, as with any fresh client). `timeout` bounds the
/// connect and each socket read or write, not the whole request: a long
/// stream is fine as long as the server keeps sending.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .timeout_connect(Some(timeout))
        .timeout_per_read(Some(timeout))
        .timeout_per_write(Some(timeout))
        .build()
        .into()
}

/// What one request observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestSample {
    /// HTTP status, or 0 when the request failed below HTTP.
    pub status: u16,
    /// Set when a 200 stream was cut short or carried an error event, and to the
    /// transport's error when there was no answer (status 0).
    pub stream_error: Option<String>,
    /// Unix times (seconds) just before the request was sent and when it ended, to line
    /// requests up with events outside the client (`--requests-out`).
    pub started_at: f64,
    pub ended_at: f64,
    pub ttft: Option<Duration>,
    pub inter_token: Vec<Duration>,
    pub completion_tokens: usize,
    /// The client closed the connection on purpose mid-stream (soak runs).
    pub disconnected: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

fn pct(v: &[f64]) -> Percentiles {
    Percentiles {
        p50: percentile(v, 50.0),
        p95: percentile(v, 95.0),
        p99: percentile(v, 99.0),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub users: usize,
    pub duration_s: f64,
    pub max_tokens: usize,
    pub requests_ok: usize,
    pub requests_failed: usize,
    pub requests_per_s: f64,
    pub ttft_ms: Percentiles,
    pub inter_token_ms: Percentiles,
    pub output_tokens: usize,
    pub output_tokens_per_s: f64,
    /// Keyed by HTTP status, `stream_error` or `transport`.
    pub errors: BTreeMap<String, usize>,
    pub server_peak_rss_bytes: Option<u64>,
}

/// Aggregates samples collected over `elapsed`.
pub fn summarize(
    samples: &[RequestSample],
    users: usize,
    max_tokens: usize,
    elapsed: Duration,
    server_peak_rss_bytes: Option<u64>,
) -> Summary {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut errors = BTreeMap::new();
    let mut ttft = Vec::new();
    let mut itl = Vec::new();
    let mut ok = 0;
    let mut tokens = 0;
    for s in samples {
        let key = match (s.status, &s.stream_error) {
            (200, None) => None,
            (200, Some(_)) => Some("stream_error".to_string()),
            (0, _) => Some("transport".to_string()),
            (code, _) => Some(code.to_string()),
        };
        match key {
            Some(k) => *errors.entry(k).or_insert(0) += 1,
            None => {
                ok += 1;
                tokens += s.completion_tokens;
                if let Some(t) = s.ttft {
                    ttft.push(t.as_secs_f64() * 1000.0);
                }
                itl.extend(s.inter_token.iter().map(|d| d.as_secs_f64() * 1000.0));
            }
        }
    }
    Summary {
        users,
        duration_s: secs,
        max_tokens,
        requests_ok: ok,
        requests_failed: samples.len() - ok,
        requests_per_s: ok as f64 / secs,
        ttft_ms: pct(&ttft),
        inter_token_ms: pct(&itl),
        output_tokens: tokens,
        output_tokens_per_s: tokens as f64 / secs,
        errors,
        server_peak_rss_bytes,
    }
}

/// The endpoint path for `opts` (`/v1/chat/completions` or `/v1/completions`).
pub fn endpoint_path(opts: &LoadOptions) -> &'static str {
    if opts.chat {
        "/v1/chat/completions"
    } else {
        "/v1/completions"
    }
}

/// Sends one streaming request and records its timings. TTFT runs from just
/// before the request is sent to the first SSE data event carrying text;
/// each later event with text adds one inter-token gap.
pub fn run_one(agent: &ureq::Agent, opts: &LoadOptions, prompt: &str) -> RequestSample {
    run_one_cut(agent, opts, prompt, None)
}

/// [`run_one`], but with `disconnect_after: Some(n)` the client drops the
/// connection once `n` events carrying text have arrived (the sample is then
/// marked `disconnected`). A stream that ends before that is recorded as usual.
pub fn run_one_cut(
    agent: &ureq::Agent,
    opts: &LoadOptions,
    prompt: &str,
    disconnect_after: Option<usize>,
) -> RequestSample {
    let started_at = unix_now();
    let sample = stream_one(agent, opts, prompt, disconnect_after);
    RequestSample {
        started_at,
        ended_at: unix_now(),
        ..sample
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The request of [`run_one_cut`], without its start and end times.
fn stream_one(
    agent: &ureq::Agent,
    opts: &LoadOptions,
    prompt: &str,
    disconnect_after: Option<usize>,
) -> RequestSample {
    let mut sample = RequestSample::default();
    let (path, body) = if opts.chat {
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": opts.max_tokens,
                   "temperature": opts.temperature, "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
    } else {
        (
            "/v1/completions",
            json!({"prompt": prompt, "max_tokens": opts.max_tokens, "temperature": opts.temperature,
                   "stream": true, "stream_options": {"include_usage": true}}),
        )
    };
    let body = body.to_string();
    let mut request = agent
        .post(format!("{}{path}", opts.base_url))
        .header("Content-Type", "application/json");
    if let Some(key) = &opts.api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let start = Instant::now();
    let response = match request.send(body.as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            sample.stream_error = Some(e.to_string());
            return sample;
        }
    };
    sample.status = response.status().as_u16();
    if sample.status != 200 {
        return sample;
    }
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut last: Option<Instant> = None;
    let mut text_events = 0;
    loop {
        match sse::next_data(&mut reader) {
            Ok(Some(d)) if d == "[DONE]" => return sample,
            Ok(Some(d)) => {
                let v: Value = match serde_json::from_str(&d) {
                    Ok(v) => v,
                    Err(e) => {
                        sample.stream_error = Some(format!("bad chunk: {e}"));
                        return sample;
                    }
                };
                if let Some(err) = v.get("error") {
                    sample.stream_error = Some(err.to_string());
                    return sample;
                }
                let choice = &v["choices"][0];
                let text = choice["text"]
                    .as_str()
                    .or_else(|| choice["delta"]["content"].as_str())
                    .unwrap_or("");
                if !text.is_empty() {
                    let now = Instant::now();
                    match last {
                        None => sample.ttft = Some(now - start),
                        Some(prev) => sample.inter_token.push(now - prev),
                    }
                    last = Some(now);
                    text_events += 1;
                }
                if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
                    sample.completion_tokens = n as usize;
                }
                if disconnect_after.is_some_and(|n| text_events >= n) {
                    // Dropping the reader closes the socket: the agent keeps
                    // no idle connections and this body was not read to its end.
                    drop(reader);
                    sample.disconnected = true;
                    return sample;
                }
            }
            Ok(None) => {
                sample.stream_error = Some("stream ended without [DONE]".into());
                return sample;
            }
            Err(e) => {
                sample.stream_error = Some(e.to_string());
                return sample;
            }
        }
    }
}

/// One request as a line of `--requests-out`: when it ran and how it ended (`error` is
/// the stream's or the transport's error, `null` for a complete stream).
pub fn request_line(s: &RequestSample) -> Value {
    json!({
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "status": s.status,
        "error": s.stream_error,
        "completion_tokens": s.completion_tokens,
    })
}

/// `GET /metrics`, as text.
pub fn scrape(base_url: &str) -> Option<String> {
    let r = agent(Duration::from_secs(5))
        .get(format!("{base_url}/metrics"))
        .call()
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.into_body().read_to_string().ok()
}

/// The value of series `series` (the name with its `{labels}` exactly as the
/// server writes them, or a bare name) in a Prometheus text exposition.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Peak RSS of `pid` from `/proc`, else the server's own metric.
pub fn server_peak_rss(pid: Option<u32>, base_url: &str) -> Option<u64> {
    if let Some(pid) = pid {
        return ProcessMemory::of(Some(pid)).map(|m| m.peak_rss_bytes);
    }
    let text = scrape(base_url)?;
    metric_value(&text, "slm_process_peak_resident_memory_bytes").map(|v| v as u64)
}

/// Runs the whole load test. Users stop starting requests at the deadline
/// and let the ones in flight finish; elapsed time includes that tail.
pub fn run(opts: &LoadOptions) -> Vec<RequestSample> {
    drive(opts, |agent, i| {
        let s = run_one(agent, opts, PROMPTS[i % PROMPTS.len()]);
        let status = s.status;
        (s, status)
    })
}

/// The user loop behind [`run`]: `opts.users` threads, each calling
/// `one(agent, i)` back to back until the deadline (`i` counts that user's
/// requests, starting at the user's index so users begin on different
/// prompts). `one` returns its sample and the HTTP status it got.
pub fn drive<S: Send>(
    opts: &LoadOptions,
    one: impl Fn(&ureq::Agent, usize) -> (S, u16) + Sync,
) -> Vec<S> {
    let agent = agent(opts.request_timeout);
    let deadline = Instant::now() + opts.duration;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.users)
            .map(|user| {
                let agent = &agent;
                let one = &one;
                scope.spawn(move || {
                    let mut samples = Vec::new();
                    let mut i = user;
                    while Instant::now() < deadline {
                        let (s, status) = one(agent, i);
                        i += 1;
                        // Back off briefly on rejections, as a polite client
                        // honouring Retry-After would, instead of spinning.
                        let backoff = matches!(status, 0 | 429 | 503);
                        samples.push(s);
                        if backoff {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                    samples
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ttft_ms: u64, gaps_ms: &[u64], tokens: usize) -> RequestSample {
        RequestSample {
            status: 200,
            stream_error: None,
            ttft: Some(Duration::from_millis(ttft_ms)),
            inter_token: gaps_ms.iter().map(|&g| Duration::from_millis(g)).collect(),
            completion_tokens: tokens,
            ..Default::default()
        }
    }

    #[test]
    fn summary_counts_successes_errors_and_rates() {
        let samples = vec![
            ok(10, &[5, 5, 5], 4),
            ok(30, &[7], 2),
            RequestSample {
                status: 429,
                ..Default::default()
            },
            RequestSample {
                status: 200,
                stream_error: Some("cut".into()),
                ..Default::default()
            },
            RequestSample::default(),
        ];
        let s = summarize(&samples, 3, 16, Duration::from_secs(2), Some(42));
        assert_eq!(s.requests_ok, 2);
        assert_eq!(s.requests_failed, 3);
        assert_eq!(s.requests_per_s, 1.0);
        assert_eq!(s.output_tokens, 6);
        assert_eq!(s.output_tokens_per_s, 3.0);
        assert_eq!(s.ttft_ms.p50, Some(10.0));
        assert_eq!(s.ttft_ms.p99, Some(30.0));
        assert_eq!(s.inter_token_ms.p50, Some(5.0));
        assert_eq!(s.inter_token_ms.p95, Some(7.0));
        assert_eq!(s.errors.get("429"), Some(&1));
        assert_eq!(s.errors.get("stream_error"), Some(&1));
        assert_eq!(s.errors.get("transport"), Some(&1));
        assert_eq!(s.server_peak_rss_bytes, Some(42));
    }

    #[test]
    fn a_refused_connection_is_a_timed_transport_error() {
        // Port 1 on loopback: nothing listens there, so the connect is refused at once.
        let opts = LoadOptions {
            base_url: "http://127.0.0.1:1".into(),
            users: 1,
            duration: Duration::from_secs(1),
            max_tokens: 4,
            temperature: 0.0,
            chat: false,
            api_key: None,
            request_timeout: Duration::from_secs(5),
        };
        let s = run_one(&agent(opts.request_timeout), &opts, "Once");
        assert_eq!(s.status, 0);
        assert!(s.started_at > 0.0 && s.ended_at >= s.started_at, "{s:?}");
        let line = request_line(&s);
        assert_eq!(line["status"], 0);
        assert!(
            line["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{line}"
        );
        assert_eq!(line["completion_tokens"], 0);
    }

    #[test]
    fn empty_run_has_no_percentiles() {
        let s = summarize(&[], 1, 16, Duration::from_secs(1), None);
        assert_eq!(s.ttft_ms.p50, None);
        assert_eq!(s.requests_per_s, 0.0);
    }
}
