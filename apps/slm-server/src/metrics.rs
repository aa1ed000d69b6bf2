//! Prometheus metrics in the text exposition format, named in the style of
//! vLLM/TGI (`slm_` prefix), plus short windows of recent latencies that
//! `/api/info` summarises for the web UI.
//!
//! Hand-rolled on atomics and small mutexes: the set of metrics is fixed and
//! small, and the text format is simple enough that a registry crate would
//! add more than it saves.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use slm_observe::{ProcessMemory, percentile};

/// Latency buckets in seconds, from 1 ms to 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    60.0,
];
/// Per-token latency buckets in seconds, finer at the low end.
const TOKEN_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5,
    1.0,
];
/// How many recent requests `/api/info` averages over.
const RECENT_WINDOW: usize = 100;

/// A Prometheus histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    state: Mutex<HistogramState>,
}

#[derive(Debug, Default, Clone)]
struct HistogramState {
    /// Non-cumulative count per bucket; the last entry is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            state: Mutex::new(HistogramState {
                counts: vec![0; bounds.len() + 1],
                ..Default::default()
            }),
        }
    }

    pub fn observe(&self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let idx = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.counts[idx] += 1;
        s.sum += value;
        s.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).count
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, c) in self.bounds.iter().zip(&s.counts) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "{name}_sum {}", s.sum);
        let _ = writeln!(out, "{name}_count {}", s.count);
    }
}

/// Engine state sampled at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineGauges {
    pub queued: usize,
    pub running: usize,
    pub max_batch: usize,
}

/// All server metrics; one instance shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    /// (route, status) -> count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// finish reason -> count of generations that ended that way.
    finished: Mutex<BTreeMap<&'static str, u64>>,
    /// reason (client_disconnected, timeout) -> generations the server abandoned.
    aborted: Mutex<BTreeMap<&'static str, u64>>,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    pub ttft: Histogram,
    pub inter_token: Histogram,
    pub e2e: Histogram,
    pub queue_time: Histogram,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    ttft_ms: VecDeque<f64>,
    decode_tokens_per_s: VecDeque<f64>,
}

fn push_bounded(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == RECENT_WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            requests: Mutex::new(BTreeMap::new()),
            finished: Mutex::new(BTreeMap::new()),
            aborted: Mutex::new(BTreeMap::new()),
            prompt_tokens: AtomicU64::new(0),
            generation_tokens: AtomicU64::new(0),
            ttft: Histogram::new(LATENCY_BUCKETS),
            inter_token: Histogram::new(TOKEN_BUCKETS),
            e2e: Histogram::new(LATENCY_BUCKETS),
            queue_time: Histogram::new(LATENCY_BUCKETS),
            recent: Mutex::new(Recent::default()),
        }
    }

    /// Counts one finished HTTP request to an API route.
    pub fn record_request(&self, route: &str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_string(), status)).or_default() += 1;
    }

    pub fn request_count(&self, route: &str, status: u16) -> u64 {
        let m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(route.to_string(), status)).copied().unwrap_or(0)
    }

    /// Records a finished generation: its reason, token counts and timings.
    pub fn record_generation(&self, g: &GenerationRecord) {
        {
            let mut f = self.finished.lock().unwrap_or_else(|p| p.into_inner());
            *f.entry(g.finish_reason).or_default() += 1;
        }
        self.prompt_tokens
            .fetch_add(g.prompt_tokens as u64, Ordering::Relaxed);
        self.generation_tokens
            .fetch_add(g.completion_tokens as u64, Ordering::Relaxed);
        self.e2e.observe(g.total_s);
        self.queue_time.observe(g.queue_s);
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ttft) = g.ttft_s {
            push_bounded(&mut r.ttft_ms, ttft * 1000.0);
        }
        if g.completion_tokens > 1
            && g.decode_tokens_per_s.is_finite()
            && g.decode_tokens_per_s > 0.0
        {
            push_bounded(&mut r.decode_tokens_per_s, g.decode_tokens_per_s);
        }
    }

    /// Counts a generation abandoned before it finished (client gone, timeout).
    pub fn record_aborted(&self, reason: &'static str) {
        let mut a = self.aborted.lock().unwrap_or_else(|p| p.into_inner());
        *a.entry(reason).or_default() += 1;
    }

    pub fn aborted_count(&self, reason: &str) -> u64 {
        let a = self.aborted.lock().unwrap_or_else(|p| p.into_inner());
        a.get(reason).copied().unwrap_or(0)
    }

    pub fn finished_count(&self, reason: &str) -> u64 {
        let f = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        f.get(reason).copied().unwrap_or(0)
    }

    pub fn generation_tokens(&self) -> u64 {
        self.generation_tokens.load(Ordering::Relaxed)
    }

    /// Median time to first token over recent requests, in ms.
    pub fn recent_ttft_p50_ms(&self) -> Option<f64> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let v: Vec<f64> = r.ttft_ms.iter().copied().collect();
        percentile(&v, 50.0)
    }

    /// Mean decode speed over recent requests, in tokens/s.
    pub fn recent_decode_tokens_per_s(&self) -> Option<f64> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.decode_tokens_per_s.is_empty() {
            return None;
        }
        Some(r.decode_tokens_per_s.iter().sum::<f64>() / r.decode_tokens_per_s.len() as f64)
    }

    /// The whole exposition text.
    pub fn render(&self, engine: EngineGauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP slm_http_requests_total API requests by route and HTTP status.\n");
        out.push_str("# TYPE slm_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "slm_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP slm_request_success_total Finished generations by finish reason.\n\
             # TYPE slm_request_success_total counter\n",
        );
        for (reason, n) in self
            .finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "slm_request_success_total{{finished_reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP slm_request_aborted_total Generations abandoned before they finished, by reason.\n\
             # TYPE slm_request_aborted_total counter\n",
        );
        for (reason, n) in self
            .aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "slm_request_aborted_total{{reason=\"{reason}\"}} {n}");
        }
        let gauges = [
            (
                "slm_num_requests_waiting",
                "Requests waiting in the engine queue.",
                engine.queued as f64,
            ),
            (
                "slm_num_requests_running",
                "Sequences currently being generated.",
                engine.running as f64,
            ),
            (
                "slm_max_batch_size",
                "Most sequences the engine runs at once.",
                engine.max_batch as f64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters = [
            (
                "slm_prompt_tokens_total",
                "Prompt tokens processed.",
                self.prompt_tokens.load(Ordering::Relaxed),
            ),
            (
                "slm_generation_tokens_total",
                "Tokens generated.",
                self.generation_tokens.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        self.ttft.render(
            &mut out,
            "slm_time_to_first_token_seconds",
            "Time from request arrival to the first generated token.",
        );
        self.inter_token.render(
            &mut out,
            "slm_time_per_output_token_seconds",
            "Time between consecutive streamed tokens (inter-token latency).",
        );
        self.e2e.render(
            &mut out,
            "slm_e2e_request_latency_seconds",
            "Time from request arrival to the end of generation.",
        );
        self.queue_time.render(
            &mut out,
            "slm_request_queue_time_seconds",
            "Time a request waited in the engine queue.",
        );
        if let Some(mem) = ProcessMemory::of(None) {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident set size.\n\
                 # TYPE process_resident_memory_bytes gauge\n\
                 process_resident_memory_bytes {}\n\
                 # HELP slm_process_peak_resident_memory_bytes Peak resident set size (VmHWM).\n\
                 # TYPE slm_process_peak_resident_memory_bytes gauge\n\
                 slm_process_peak_resident_memory_bytes {}",
                mem.rss_bytes, mem.peak_rss_bytes
            );
        }
        out
    }
}

/// What one finished generation contributes to the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    pub finish_reason: &'static str,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub queue_s: f64,
    pub ttft_s: Option<f64>,
    pub total_s: f64,
    pub decode_tokens_per_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum 5.55\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn render_includes_requests_gauges_and_generation() {
        let m = Metrics::new();
        m.record_request("/v1/completions", 200);
        m.record_request("/v1/completions", 200);
        m.record_request("/v1/completions", 429);
        m.record_generation(&GenerationRecord {
            finish_reason: "length",
            prompt_tokens: 5,
            completion_tokens: 10,
            queue_s: 0.001,
            ttft_s: Some(0.02),
            total_s: 0.2,
            decode_tokens_per_s: 50.0,
        });
        let text = m.render(EngineGauges {
            queued: 3,
            running: 2,
            max_batch: 8,
        });
        assert!(
            text.contains("slm_http_requests_total{route=\"/v1/completions\",status=\"200\"} 2\n")
        );
        assert!(
            text.contains("slm_http_requests_total{route=\"/v1/completions\",status=\"429\"} 1\n")
        );
        assert!(text.contains("slm_num_requests_waiting 3\n"));
        assert!(text.contains("slm_num_requests_running 2\n"));
        assert!(text.contains("slm_generation_tokens_total 10\n"));
        assert!(text.contains("slm_prompt_tokens_total 5\n"));
        assert!(text.contains("slm_request_success_total{finished_reason=\"length\"} 1\n"));
        m.record_aborted("timeout");
        let text = m.render(EngineGauges::default());
        assert!(text.contains("slm_request_aborted_total{reason=\"timeout\"} 1\n"));
        assert_eq!(m.recent_ttft_p50_ms(), Some(20.0));
        assert_eq!(m.recent_decode_tokens_per_s(), Some(50.0));
    }

    #[test]
    fn recent_window_is_bounded_and_empty_is_none() {
        let m = Metrics::new();
        assert_eq!(m.recent_ttft_p50_ms(), None);
        assert_eq!(m.recent_decode_tokens_per_s(), None);
        for i in 0..(RECENT_WINDOW + 50) {
            m.record_generation(&GenerationRecord {
                finish_reason: "stop",
                prompt_tokens: 1,
                completion_tokens: 2,
                queue_s: 0.0,
                ttft_s: Some(i as f64 / 1000.0),
                total_s: 0.1,
                decode_tokens_per_s: i as f64,
            });
        }
        // Only the last RECENT_WINDOW samples (50..150) count.
        assert_eq!(m.recent_decode_tokens_per_s(), Some(99.5));
    }
}
