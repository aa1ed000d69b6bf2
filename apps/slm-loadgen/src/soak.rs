//! Soak mode (`slm-loadgen --soak`): the normal streaming load, plus
//! - a share of streams the client cuts off after a few tokens (expected:
//!   counted as `disconnected`, not as errors);
//! - a share of malformed requests, rotating through five kinds, each of which
//!   must be refused with a 4xx carrying OpenAI's error shape;
//! - the server's RSS sampled over time, judged flat when every sample after
//!   the warm-up is within ±10 % of their median;
//! - after the last client stopped, `/metrics` polled until the engine's queue
//!   and running gauges read 0 (every slot freed).
//!
//! Anything else (a stream that fails, a malformed request that is not
//! refused with a proper 4xx) is an unexpected error; `pass` needs none.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use slm_observe::ProcessMemory;

use crate::loadgen::{self, LoadOptions, PROMPTS, RequestSample, metric_value, scrape};

/// RSS after the warm-up may deviate this much from its median.
pub const RSS_TOLERANCE: f64 = 0.10;
/// Fewer samples than this after the warm-up cannot show a trend.
pub const MIN_POST_WARMUP_SAMPLES: usize = 3;
/// The engine gauges that must read 0 once no client is left.
pub const SLOT_GAUGES: [&str; 2] = ["slm_num_requests_waiting", "slm_num_requests_running"];
/// Context length assumed when the server does not report one.
const FALLBACK_CONTEXT: usize = 2048;
/// Examples of unexpected errors kept in the JSON.
const MAX_EXAMPLES: usize = 10;

#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Share of streaming requests the client cuts off mid-stream.
    pub disconnect_share: f64,
    /// Text events to read before cutting a stream off.
    pub disconnect_after_events: usize,
    /// Share of all requests sent malformed.
    pub malformed_share: f64,
    pub warmup: Duration,
    pub rss_interval: Duration,
    pub server_pid: Option<u32>,
    pub drain_timeout: Duration,
}

// ---------------------------------------------------------------- planning

/// How the request is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MalformedKind {
    InvalidJson,
    WrongTypes,
    MissingPrompt,
    OversizedPrompt,
    BadUtf8,
}

impl MalformedKind {
    /// In rotation order.
    pub const ALL: [MalformedKind; 5] = [
        MalformedKind::InvalidJson,
        MalformedKind::WrongTypes,
        MalformedKind::MissingPrompt,
        MalformedKind::OversizedPrompt,
        MalformedKind::BadUtf8,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MalformedKind::InvalidJson => "invalid_json",
            MalformedKind::WrongTypes => "wrong_field_types",
            MalformedKind::MissingPrompt => "missing_prompt",
            MalformedKind::OversizedPrompt => "oversized_prompt",
            MalformedKind::BadUtf8 => "bad_utf8",
        }
    }
}

/// What one request will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Stream { disconnect: bool },
    Malformed(MalformedKind),
}

/// Whether item `k` (0-based) of a sequence belongs to the evenly spread
/// `share` of it: exactly `round(n * share)` of the first `n` items are picked
/// (the first about half a period in, so short runs see some).
pub fn is_picked(k: u64, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let at = |n: u64| (n as f64 * share + 0.5).floor();
    at(k + 1) > at(k)
}

/// Hands out plans to all users: `malformed_share` of all requests are
/// malformed (kinds in rotation), `disconnect_share` of the remaining
/// streaming requests are cut off.
#[derive(Debug)]
pub struct Planner {
    malformed_share: f64,
    disconnect_share: f64,
    requests: AtomicU64,
    streams: AtomicU64,
    malformed: AtomicU64,
}

impl Planner {
    pub fn new(malformed_share: f64, disconnect_share: f64) -> Self {
        Self {
            malformed_share,
            disconnect_share,
            requests: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> Plan {
        let k = self.requests.fetch_add(1, Ordering::Relaxed);
        if is_picked(k, self.malformed_share) {
            let m = self.malformed.fetch_add(1, Ordering::Relaxed);
            let kinds = &MalformedKind::ALL;
            return Plan::Malformed(kinds[(m % kinds.len() as u64) as usize]);
        }
        let s = self.streams.fetch_add(1, Ordering::Relaxed);
        Plan::Stream {
            disconnect: is_picked(s, self.disconnect_share),
        }
    }
}

/// The body of a malformed request to the chat or completions endpoint.
/// `context_length` sizes the oversized prompt (about 4× the context in
/// tokens: "Once upon a time " is at least 4 tokens).
pub fn malformed_body(
    kind: MalformedKind,
    chat: bool,
    max_tokens: usize,
    context_length: usize,
) -> Vec<u8> {
    let with_prompt = |text: &str, extra: Value| {
        let mut v = if chat {
            json!({"messages": [{"role": "user", "content": text}]})
        } else {
            json!({"prompt": text})
        };
        v["stream"] = true.into();
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            obj.extend(extra.clone());
        }
        v.to_string().into_bytes()
    };
    match kind {
        MalformedKind::InvalidJson => {
            // A body cut off in the middle of the prompt.
            let full = with_prompt(PROMPTS[0], json!({"max_tokens": max_tokens}));
            full[..full.len() / 2].to_vec()
        }
        MalformedKind::WrongTypes => with_prompt(
            PROMPTS[1],
            json!({"max_tokens": "sixty-four", "temperature": [0.8]}),
        ),
        MalformedKind::MissingPrompt => {
            json!({"max_tokens": max_tokens, "stream": true, "temperature": 0.8})
                .to_string()
                .into_bytes()
        }
        MalformedKind::OversizedPrompt => with_prompt(
            &"Once upon a time ".repeat(context_length + 16),
            json!({"max_tokens": max_tokens}),
        ),
        MalformedKind::BadUtf8 => {
            let mut b = with_prompt(
                "Once upon a time BADBYTES",
                json!({"max_tokens": max_tokens}),
            );
            let at = b
                .windows(8)
                .position(|w| w == b"BADBYTES")
                .expect("marker is in the body");
            // A lone continuation byte, an invalid lead byte, a truncated sequence.
            b.splice(at..at + 8, [0x80, 0xff, 0xc3]);
            b
        }
    }
}

/// `{"error": {"message": "...", "type": "...", ...}}`.
pub fn is_openai_error(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v["error"]["message"].is_string() && v["error"]["type"].is_string())
}

/// `error.code` of an OpenAI-style error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["error"]["code"].as_str().map(str::to_string)
}

/// The verdict on a malformed request's answer: `Ok` for a 4xx in OpenAI's
/// error shape, else the key it is counted under.
pub fn judge_malformed(status: u16, body: &[u8]) -> Result<(), String> {
    match status {
        0 => Err("transport".into()),
        400..=499 if is_openai_error(body) => Ok(()),
        400..=499 => Err(format!("{status}_without_error_shape")),
        s => Err(s.to_string()),
    }
}

// ---------------------------------------------------------------- requests

/// What one soak request observed.
#[derive(Debug, Clone, PartialEq)]
pub enum SoakSample {
    Stream {
        sample: RequestSample,
        planned_disconnect: bool,
    },
    Malformed {
        kind: MalformedKind,
        status: u16,
        verdict: Result<(), String>,
        /// `error.code` of the answer, when it has one.
        code: Option<String>,
        /// Start of the answer (or the transport error), for the examples.
        detail: String,
    },
}

impl SoakSample {
    /// HTTP status of the answer (0: none).
    pub fn status(&self) -> u16 {
        match self {
            SoakSample::Stream { sample, .. } => sample.status,
            SoakSample::Malformed { status, .. } => *status,
        }
    }
}

fn send_malformed(
    agent: &ureq::Agent,
    opts: &LoadOptions,
    kind: MalformedKind,
    context_length: usize,
) -> SoakSample {
    let body = malformed_body(kind, opts.chat, opts.max_tokens, context_length);
    let mut request = agent
        .post(format!("{}{}", opts.base_url, loadgen::endpoint_path(opts)))
        .header("Content-Type", "application/json");
    if let Some(key) = &opts.api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let (status, answer) = match request.send(&body[..]) {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.into_body().read_to_vec() {
                Ok(b) => (status, b),
                Err(e) => (0, format!("reading the answer: {e}").into_bytes()),
            }
        }
        Err(e) => (0, e.to_string().into_bytes()),
    };
    let detail: String = String::from_utf8_lossy(&answer).chars().take(200).collect();
    SoakSample::Malformed {
        kind,
        status,
        verdict: judge_malformed(status, &answer),
        code: error_code(&answer),
        detail,
    }
}

// ---------------------------------------------------------------- tallying

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KindTally {
    pub sent: usize,
    pub rejected_4xx: usize,
    /// The answers' `error.code` (`none` when missing).
    pub codes: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Tally {
    pub requests_total: usize,
    pub streaming_requests: usize,
    pub disconnect_planned: usize,
    /// Streams the client cut off as planned (expected, not errors).
    pub disconnected: usize,
    /// Planned cut-offs whose stream ended first; counted as normal requests.
    pub disconnect_missed: usize,
    pub malformed_sent: usize,
    /// Malformed requests refused with a 4xx in OpenAI's error shape (expected).
    pub malformed_rejected_4xx: usize,
    pub malformed_by_kind: BTreeMap<&'static str, KindTally>,
    /// HTTP status of the malformed requests' answers (0: transport error).
    pub malformed_statuses: BTreeMap<String, usize>,
    pub unexpected_errors: usize,
    /// `stream:<status|stream_error|transport>` and `malformed:<status|...>`.
    pub unexpected: BTreeMap<String, usize>,
    pub unexpected_examples: Vec<String>,
}

/// Counts the soak samples; also returns the streaming samples that were not
/// cut off on purpose, for the normal throughput/latency summary.
pub fn tally(samples: &[SoakSample]) -> (Tally, Vec<RequestSample>) {
    let mut t = Tally {
        requests_total: samples.len(),
        ..Default::default()
    };
    let mut normal = Vec::new();
    let unexpected = |t: &mut Tally, key: String, example: String| {
        t.unexpected_errors += 1;
        *t.unexpected.entry(key).or_insert(0) += 1;
        if t.unexpected_examples.len() < MAX_EXAMPLES {
            t.unexpected_examples.push(example);
        }
    };
    for s in samples {
        match s {
            SoakSample::Stream {
                sample,
                planned_disconnect,
            } => {
                t.streaming_requests += 1;
                t.disconnect_planned += usize::from(*planned_disconnect);
                if sample.disconnected {
                    t.disconnected += 1;
                    continue;
                }
                let key = match (sample.status, &sample.stream_error) {
                    (200, None) => None,
                    (200, Some(e)) => Some(("stream_error".to_string(), e.clone())),
                    (0, e) => Some((
                        "transport".to_string(),
                        e.clone().unwrap_or_else(|| "no HTTP answer".into()),
                    )),
                    (code, _) => Some((code.to_string(), format!("HTTP {code}"))),
                };
                match key {
                    None => t.disconnect_missed += usize::from(*planned_disconnect),
                    Some((k, e)) => {
                        unexpected(&mut t, format!("stream:{k}"), format!("stream: {e}"))
                    }
                }
                normal.push(sample.clone());
            }
            SoakSample::Malformed {
                kind,
                status,
                verdict,
                code,
                detail,
            } => {
                t.malformed_sent += 1;
                *t.malformed_statuses.entry(status.to_string()).or_insert(0) += 1;
                let k = t.malformed_by_kind.entry(kind.as_str()).or_default();
                k.sent += 1;
                *k.codes
                    .entry(code.clone().unwrap_or_else(|| "none".into()))
                    .or_insert(0) += 1;
                match verdict {
                    Ok(()) => {
                        k.rejected_4xx += 1;
                        t.malformed_rejected_4xx += 1;
                    }
                    Err(key) => unexpected(
                        &mut t,
                        format!("malformed:{key}"),
                        format!("malformed {}: HTTP {status}: {detail}", kind.as_str()),
                    ),
                }
            }
        }
    }
    (t, normal)
}

// ---------------------------------------------------------------- RSS

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RssStats {
    /// The first sample at or after the end of the warm-up.
    pub at_warmup_end_bytes: Option<u64>,
    pub post_warmup_samples: usize,
    pub post_warmup_min_bytes: Option<u64>,
    pub post_warmup_max_bytes: Option<u64>,
    pub post_warmup_median_bytes: Option<f64>,
    /// max |rss − median| / median over the samples after the warm-up.
    pub max_rel_deviation: Option<f64>,
    /// Last sample relative to `at_warmup_end_bytes`, minus 1.
    pub drift_from_warmup_end: Option<f64>,
    /// At least [`MIN_POST_WARMUP_SAMPLES`] samples after the warm-up, all
    /// within ±`tolerance` of their median.
    pub flat: bool,
}

/// Median of the values (mean of the middle two for an even count).
pub fn median(values: &[u64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0),
    }
}

/// Judges a time series of `(seconds since start, rss bytes)` samples.
pub fn rss_stats(samples: &[(f64, u64)], warmup_s: f64, tolerance: f64) -> RssStats {
    let post: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warmup_s)
        .map(|&(_, b)| b)
        .collect();
    let med = median(&post);
    let max_rel_deviation = med.filter(|m| *m > 0.0).map(|m| {
        post.iter()
            .map(|&b| (b as f64 - m).abs() / m)
            .fold(0.0, f64::max)
    });
    let first = post.first().copied();
    RssStats {
        at_warmup_end_bytes: first,
        post_warmup_samples: post.len(),
        post_warmup_min_bytes: post.iter().copied().min(),
        post_warmup_max_bytes: post.iter().copied().max(),
        post_warmup_median_bytes: med,
        max_rel_deviation,
        drift_from_warmup_end: first
            .zip(post.last().copied())
            .filter(|(f, _)| *f > 0)
            .map(|(f, l)| l as f64 / f as f64 - 1.0),
        flat: post.len() >= MIN_POST_WARMUP_SAMPLES
            && max_rel_deviation.is_some_and(|d| d <= tolerance),
    }
}

/// Where RSS samples come from.
#[derive(Debug, Clone)]
pub enum RssSource {
    /// `VmRSS` of `/proc/<pid>/status`.
    Proc(u32),
    /// The server's own `process_resident_memory_bytes`.
    Metrics(String),
}

impl RssSource {
    pub fn name(&self) -> &'static str {
        match self {
            RssSource::Proc(_) => "proc_vmrss",
            RssSource::Metrics(_) => "metrics_process_resident_memory_bytes",
        }
    }

    pub fn sample(&self) -> Option<u64> {
        match self {
            RssSource::Proc(pid) => ProcessMemory::of(Some(*pid)).map(|m| m.rss_bytes),
            RssSource::Metrics(base) => {
                let text = scrape(base)?;
                metric_value(&text, "process_resident_memory_bytes").map(|v| v as u64)
            }
        }
    }
}

/// Samples `source` every `interval` until `stop`'s sender is dropped.
fn sample_rss_until(
    source: &RssSource,
    start: Instant,
    interval: Duration,
    stop: mpsc::Receiver<()>,
) -> Vec<(f64, u64)> {
    let mut series = Vec::new();
    loop {
        if let Some(b) = source.sample() {
            let t = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            series.push((t, b));
        }
        match stop.recv_timeout(interval) {
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            _ => return series,
        }
    }
}

// ---------------------------------------------------------------- metrics

/// The server-side counters a soak compares before and after.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServerCounters {
    pub aborted_client_disconnected: f64,
    pub aborted_timeout: f64,
    /// `slm_http_requests_total` summed over 4xx and 5xx statuses.
    pub http_4xx: f64,
    pub http_5xx: f64,
}

pub fn server_counters(text: &str) -> ServerCounters {
    let mut c = ServerCounters {
        aborted_client_disconnected: metric_value(
            text,
            "slm_request_aborted_total{reason=\"client_disconnected\"}",
        )
        .unwrap_or(0.0),
        aborted_timeout: metric_value(text, "slm_request_aborted_total{reason=\"timeout\"}")
            .unwrap_or(0.0),
        ..Default::default()
    };
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("slm_http_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        if labels.contains("status=\"4") {
            c.http_4xx += v;
        } else if labels.contains("status=\"5") {
            c.http_5xx += v;
        }
    }
    c
}

impl ServerCounters {
    fn minus(&self, before: &ServerCounters) -> ServerCounters {
        ServerCounters {
            aborted_client_disconnected: self.aborted_client_disconnected
                - before.aborted_client_disconnected,
            aborted_timeout: self.aborted_timeout - before.aborted_timeout,
            http_4xx: self.http_4xx - before.http_4xx,
            http_5xx: self.http_5xx - before.http_5xx,
        }
    }
}

/// The slot gauges in a scrape; `None` for one that is missing.
pub fn slot_gauges(text: &str) -> BTreeMap<&'static str, Option<f64>> {
    SLOT_GAUGES
        .iter()
        .map(|&g| (g, metric_value(text, g)))
        .collect()
}

/// Every slot gauge present and 0.
pub fn slots_free(gauges: &BTreeMap<&'static str, Option<f64>>) -> bool {
    !gauges.is_empty() && gauges.values().all(|v| *v == Some(0.0))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Drain {
    /// The gauges at the last poll (`null`: missing or `/metrics` unreachable).
    pub final_values: BTreeMap<&'static str, Option<f64>>,
    /// Seconds from the last client stopping to the gauges reading 0 (or the timeout).
    pub drain_s: f64,
    pub timeout_s: f64,
    pub polls: usize,
    /// The scrape the gauges came from, for the server counters.
    #[serde(skip)]
    pub text: Option<String>,
}

/// Polls `/metrics` until the slot gauges read 0 or `timeout` passes.
pub fn drain(base_url: &str, timeout: Duration) -> Drain {
    let start = Instant::now();
    let mut polls = 0;
    loop {
        let text = scrape(base_url);
        polls += 1;
        let gauges = text
            .as_deref()
            .map(slot_gauges)
            .unwrap_or_else(|| SLOT_GAUGES.iter().map(|&g| (g, None)).collect());
        if slots_free(&gauges) || start.elapsed() >= timeout {
            return Drain {
                final_values: gauges,
                drain_s: start.elapsed().as_secs_f64(),
                timeout_s: timeout.as_secs_f64(),
                polls,
                text,
            };
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The served model's context length from `/v1/models`, if it says.
pub fn context_length(base_url: &str, api_key: Option<&str>) -> Option<usize> {
    let mut request = loadgen::agent(Duration::from_secs(5)).get(format!("{base_url}/v1/models"));
    if let Some(key) = api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let text = request.call().ok()?.into_body().read_to_string().ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["data"][0]["max_model_len"].as_u64().map(|n| n as usize)
}

// ---------------------------------------------------------------- the run

/// Everything a soak measured, apart from the normal summary.
pub struct SoakRun {
    pub samples: Vec<SoakSample>,
    pub elapsed: Duration,
    pub rss_source: RssSource,
    pub rss_series: Vec<(f64, u64)>,
    pub rss_after_drain_bytes: Option<u64>,
    pub drain: Drain,
    pub context_length: usize,
    pub counters_before: Option<ServerCounters>,
}

/// Runs the soak: users as in a normal run (each request planned by a shared
/// [`Planner`]), RSS sampled beside them, then the drain.
pub fn run(opts: &LoadOptions, soak: &SoakOptions) -> SoakRun {
    let base = &opts.base_url;
    let context_length = context_length(base, opts.api_key.as_deref()).unwrap_or(FALLBACK_CONTEXT);
    let counters_before = scrape(base).map(|t| server_counters(&t));
    let rss_source = match soak.server_pid {
        Some(pid) => RssSource::Proc(pid),
        None => RssSource::Metrics(base.clone()),
    };
    let planner = Planner::new(soak.malformed_share, soak.disconnect_share);
    let start = Instant::now();
    let (stop, stopped) = mpsc::channel::<()>();
    let (samples, rss_series) = std::thread::scope(|scope| {
        let source = &rss_source;
        let sampler =
            scope.spawn(move || sample_rss_until(source, start, soak.rss_interval, stopped));
        let samples = loadgen::drive(opts, |agent, i| {
            let s = match planner.next() {
                Plan::Stream { disconnect } => {
                    let cut = disconnect.then_some(soak.disconnect_after_events);
                    SoakSample::Stream {
                        sample: loadgen::run_one_cut(agent, opts, PROMPTS[i % PROMPTS.len()], cut),
                        planned_disconnect: disconnect,
                    }
                }
                Plan::Malformed(kind) => send_malformed(agent, opts, kind, context_length),
            };
            let status = s.status();
            (s, status)
        });
        drop(stop);
        (samples, sampler.join().unwrap_or_default())
    });
    let elapsed = start.elapsed();
    let drain = drain(base, soak.drain_timeout);
    SoakRun {
        samples,
        elapsed,
        rss_after_drain_bytes: rss_source.sample(),
        rss_source,
        rss_series,
        drain,
        context_length,
        counters_before,
    }
}

/// The `soak` object of the JSON output; `pass` is its verdict.
pub fn report(soak: &SoakOptions, r: &SoakRun, t: &Tally) -> (Value, bool) {
    let rss = rss_stats(&r.rss_series, soak.warmup.as_secs_f64(), RSS_TOLERANCE);
    let slots_freed = slots_free(&r.drain.final_values);
    let pass = t.unexpected_errors == 0 && slots_freed && rss.flat;
    let counters_after = r.drain.text.as_deref().map(server_counters);
    let server_counters = match (&counters_after, &r.counters_before) {
        (Some(after), Some(before)) => Some(after.minus(before)),
        _ => None,
    };
    let v = json!({
        "settings": {
            "disconnect_share": soak.disconnect_share,
            "disconnect_after_events": soak.disconnect_after_events,
            "malformed_share": soak.malformed_share,
            "malformed_kinds": MalformedKind::ALL.map(MalformedKind::as_str),
            "warmup_s": soak.warmup.as_secs_f64(),
            "rss_interval_s": soak.rss_interval.as_secs_f64(),
            "rss_tolerance": RSS_TOLERANCE,
            "drain_timeout_s": soak.drain_timeout.as_secs_f64(),
            "context_length": r.context_length,
        },
        "requests": t,
        "unexpected_errors": t.unexpected_errors,
        "rss": {
            "source": r.rss_source.name(),
            "stats": rss,
            "after_drain_bytes": r.rss_after_drain_bytes,
            "series": r.rss_series,
        },
        "rss_flat_within_10pct": rss.flat,
        "gauges": r.drain,
        "slots_freed": slots_freed,
        "server_counters_delta": server_counters,
        "pass": pass,
    });
    (v, pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_exact_and_evenly_spread() {
        for share in [0.01, 0.05, 0.25, 0.5, 1.0] {
            let n = 10_000u64;
            let picked: Vec<u64> = (0..n).filter(|&k| is_picked(k, share)).collect();
            assert_eq!(picked.len() as f64, (n as f64 * share).round(), "{share}");
            let gap = (1.0 / share).round() as u64;
            assert!(picked.windows(2).all(|w| w[1] - w[0] == gap), "{share}");
        }
        assert!(!(0..1000).any(|k| is_picked(k, 0.0)));
        // The first pick comes half a period in.
        assert_eq!((0..100).find(|&k| is_picked(k, 0.05)), Some(9));
    }

    #[test]
    fn planner_shares_and_rotation() {
        let p = Planner::new(0.01, 0.05);
        let plans: Vec<Plan> = (0..10_000).map(|_| p.next()).collect();
        let malformed: Vec<MalformedKind> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Malformed(k) => Some(*k),
                Plan::Stream { .. } => None,
            })
            .collect();
        assert_eq!(malformed.len(), 100);
        for (i, k) in malformed.iter().enumerate() {
            assert_eq!(*k, MalformedKind::ALL[i % 5]);
        }
        let cut = plans
            .iter()
            .filter(|p| **p == Plan::Stream { disconnect: true })
            .count();
        assert_eq!(cut, 495, "5 % of the 9,900 streaming requests");
        let none = Planner::new(0.0, 0.0);
        assert!((0..100).all(|_| none.next() == Plan::Stream { disconnect: false }));
    }

    #[test]
    fn malformed_bodies_are_broken_as_labelled() {
        for chat in [false, true] {
            let prompt_field = if chat { "messages" } else { "prompt" };
            let body = |k| malformed_body(k, chat, 64, 512);

            let b = body(MalformedKind::InvalidJson);
            assert!(std::str::from_utf8(&b).is_ok());
            assert!(serde_json::from_slice::<Value>(&b).is_err());

            let v: Value = serde_json::from_slice(&body(MalformedKind::WrongTypes)).unwrap();
            assert!(v["max_tokens"].is_string() && v[prompt_field].is_array() == chat);

            let v: Value = serde_json::from_slice(&body(MalformedKind::MissingPrompt)).unwrap();
            assert!(v.get("prompt").is_none() && v.get("messages").is_none());
            assert_eq!(v["stream"], true);

            let v: Value = serde_json::from_slice(&body(MalformedKind::OversizedPrompt)).unwrap();
            let text = if chat {
                v["messages"][0]["content"].as_str().unwrap()
            } else {
                v["prompt"].as_str().unwrap()
            };
            assert!(text.split_whitespace().count() >= 4 * 512);
            assert!(
                body(MalformedKind::OversizedPrompt).len() < 256 * 1024,
                "under the server's body limit, so the context check answers"
            );

            let b = body(MalformedKind::BadUtf8);
            assert!(std::str::from_utf8(&b).is_err());
            assert!(String::from_utf8_lossy(&b).starts_with('{'));
        }
    }

    #[test]
    fn malformed_answers_are_judged() {
        let err = br#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"invalid_json"}}"#;
        assert_eq!(judge_malformed(400, err), Ok(()));
        assert_eq!(judge_malformed(413, err), Ok(()));
        assert_eq!(
            judge_malformed(400, b"Json deserialize error"),
            Err("400_without_error_shape".into())
        );
        assert_eq!(judge_malformed(500, err), Err("500".into()));
        assert_eq!(judge_malformed(200, b"data: {}"), Err("200".into()));
        assert_eq!(judge_malformed(0, b""), Err("transport".into()));
        assert!(!is_openai_error(br#"{"error":"bad"}"#));
        assert_eq!(error_code(err).as_deref(), Some("invalid_json"));
        assert_eq!(error_code(br#"{"error":{"code":null}}"#), None);
        assert_eq!(error_code(b"\xff"), None);
    }

    fn stream(status: u16, err: Option<&str>, disconnected: bool, planned: bool) -> SoakSample {
        SoakSample::Stream {
            sample: RequestSample {
                status,
                stream_error: err.map(str::to_string),
                disconnected,
                completion_tokens: 3,
                ..Default::default()
            },
            planned_disconnect: planned,
        }
    }

    #[test]
    fn tally_separates_expected_from_unexpected() {
        let bad = |kind, status, verdict: Result<(), String>| SoakSample::Malformed {
            kind,
            status,
            code: (status == 400).then(|| "invalid_json".to_string()),
            verdict,
            detail: "x".into(),
        };
        let samples = vec![
            stream(200, None, false, false),
            stream(200, None, true, true),
            stream(200, None, false, true),
            stream(200, Some("cut"), false, false),
            stream(0, None, false, false),
            bad(MalformedKind::BadUtf8, 400, Ok(())),
            bad(MalformedKind::BadUtf8, 500, Err("500".into())),
            bad(MalformedKind::InvalidJson, 400, Ok(())),
        ];
        let (t, normal) = tally(&samples);
        assert_eq!(t.requests_total, 8);
        assert_eq!(t.streaming_requests, 5);
        assert_eq!(
            (t.disconnect_planned, t.disconnected, t.disconnect_missed),
            (2, 1, 1)
        );
        assert_eq!((t.malformed_sent, t.malformed_rejected_4xx), (3, 2));
        assert_eq!(
            t.malformed_by_kind["bad_utf8"],
            KindTally {
                sent: 2,
                rejected_4xx: 1,
                codes: BTreeMap::from([("invalid_json".into(), 1), ("none".into(), 1)]),
            }
        );
        assert_eq!(t.malformed_statuses["400"], 2);
        assert_eq!(t.unexpected_errors, 3);
        assert_eq!(t.unexpected["stream:stream_error"], 1);
        assert_eq!(t.unexpected["stream:transport"], 1);
        assert_eq!(t.unexpected["malformed:500"], 1);
        assert_eq!(t.unexpected_examples.len(), 3);
        // Cut-off streams and malformed requests stay out of the latency summary.
        assert_eq!(normal.len(), 4);
        assert!(normal.iter().all(|s| !s.disconnected));
    }

    #[test]
    fn rss_flatness() {
        const MB: u64 = 1 << 20;
        // Warm-up growth from 50 to 100 MB is ignored; afterwards ±5 %.
        let series: Vec<(f64, u64)> = [50, 80, 100, 95, 100, 105, 100]
            .iter()
            .enumerate()
            .map(|(i, &mb)| (i as f64 * 10.0, mb * MB))
            .collect();
        let s = rss_stats(&series, 20.0, 0.10);
        assert_eq!(s.at_warmup_end_bytes, Some(100 * MB));
        assert_eq!(s.post_warmup_samples, 5);
        assert_eq!(s.post_warmup_min_bytes, Some(95 * MB));
        assert_eq!(s.post_warmup_max_bytes, Some(105 * MB));
        assert_eq!(s.post_warmup_median_bytes, Some(100.0 * MB as f64));
        assert!((s.max_rel_deviation.unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(s.drift_from_warmup_end, Some(0.0));
        assert!(s.flat);

        // A leak: 100 -> 130 MB after warm-up is more than ±10 % of the median.
        let leak: Vec<(f64, u64)> = (0..7)
            .map(|i| (i as f64 * 10.0, (100 + 5 * i) * MB))
            .collect();
        let s = rss_stats(&leak, 0.0, 0.10);
        assert_eq!(s.post_warmup_median_bytes, Some(115.0 * MB as f64));
        assert!(s.max_rel_deviation.unwrap() > 0.13);
        assert!((s.drift_from_warmup_end.unwrap() - 0.3).abs() < 1e-12);
        assert!(!s.flat);

        // Too few samples after the warm-up prove nothing.
        let s = rss_stats(&series, 55.0, 0.10);
        assert_eq!(s.post_warmup_samples, 1);
        assert!(!s.flat);
        let s = rss_stats(&[], 0.0, 0.10);
        assert_eq!((s.max_rel_deviation, s.flat), (None, false));
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&[3, 1, 2]), Some(2.0));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    const SCRAPE: &str = "\
# HELP slm_http_requests_total API requests by route and HTTP status.
# TYPE slm_http_requests_total counter
slm_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 120
slm_http_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 7
slm_http_requests_total{route=\"/v1/completions\",status=\"413\"} 1
slm_http_requests_total{route=\"/v1/completions\",status=\"503\"} 2
slm_request_aborted_total{reason=\"client_disconnected\"} 6
# HELP slm_num_requests_waiting Requests waiting in the engine queue.
# TYPE slm_num_requests_waiting gauge
slm_num_requests_waiting 0
# TYPE slm_num_requests_running gauge
slm_num_requests_running 3
slm_num_requests_running_extra 9
slm_max_batch_size 32
process_resident_memory_bytes 73400320
";

    #[test]
    fn gauges_and_counters_are_parsed() {
        let g = slot_gauges(SCRAPE);
        assert_eq!(g["slm_num_requests_waiting"], Some(0.0));
        assert_eq!(g["slm_num_requests_running"], Some(3.0));
        assert!(!slots_free(&g));
        let freed = SCRAPE.replace("slm_num_requests_running 3", "slm_num_requests_running 0");
        assert!(slots_free(&slot_gauges(&freed)));
        let missing = SCRAPE.replace("slm_num_requests_waiting 0\n", "");
        assert!(
            !slots_free(&slot_gauges(&missing)),
            "a missing gauge is not 0"
        );
        assert_eq!(
            metric_value(SCRAPE, "process_resident_memory_bytes"),
            Some(73400320.0)
        );
        assert_eq!(metric_value(SCRAPE, "slm_num_requests"), None);

        let c = server_counters(SCRAPE);
        assert_eq!(c.aborted_client_disconnected, 6.0);
        assert_eq!(c.aborted_timeout, 0.0);
        assert_eq!((c.http_4xx, c.http_5xx), (8.0, 2.0));
        let d = c.minus(&ServerCounters {
            aborted_client_disconnected: 1.0,
            ..Default::default()
        });
        assert_eq!(d.aborted_client_disconnected, 5.0);
    }
}
