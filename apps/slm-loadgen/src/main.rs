//! `slm-loadgen`: N concurrent streaming users against a running slm-server
//! for a bounded time; prints a JSON summary (see `loadgen`). With `--soak`,
//! also cut-off streams, malformed requests, an RSS time series and a check
//! that every engine slot is freed at the end (see `soak`); exits 1 when the
//! soak does not pass.

mod loadgen;
mod soak;
mod sse;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use loadgen::LoadOptions;

#[derive(Debug, Parser)]
#[command(about = "Load-test a running slm-server with concurrent streaming users")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Concurrent users.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Seconds during which users start new requests.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// max_tokens of each request.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Use /v1/chat/completions instead of /v1/completions.
    #[arg(long)]
    chat: bool,
    /// Bearer key, if the server requires one (also SLM_API_KEY).
    #[arg(long, env = "SLM_API_KEY")]
    api_key: Option<String>,
    /// Server process id, to read its peak RSS (VmHWM) from /proc; otherwise
    /// the server's /metrics is asked.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Per-request timeout in seconds (connect, and each wait for data).
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Free-form note copied into the JSON (e.g. which model was served).
    #[arg(long)]
    note: Option<String>,
    /// Also write every request to FILE, one JSON object a line: start and end (Unix
    /// seconds), HTTP status, error (`null` for a complete stream), completion tokens.
    #[arg(long, value_name = "FILE", conflicts_with = "soak")]
    requests_out: Option<std::path::PathBuf>,
    /// Soak mode: the options below, RSS sampling, the slot check after the
    /// run, and a pass/fail verdict in the JSON's `soak` object.
    #[arg(long)]
    soak: bool,
    /// Share of streaming requests the client closes mid-stream (soak).
    #[arg(long, default_value_t = 0.0, requires = "soak")]
    disconnect_share: f64,
    /// Streamed text events to read before closing a cut-off stream (soak).
    #[arg(long, default_value_t = 3, requires = "soak")]
    disconnect_after_events: usize,
    /// Share of requests sent malformed, rotating through invalid JSON, wrong
    /// field types, missing prompt/messages, a prompt beyond the context and
    /// bad UTF-8; each must get a 4xx in OpenAI's error shape (soak).
    #[arg(long, default_value_t = 0.0, requires = "soak")]
    malformed_share: f64,
    /// Seconds of warm-up excluded from the RSS flatness check [default: a
    /// tenth of --duration] (soak).
    #[arg(long, requires = "soak")]
    warmup: Option<f64>,
    /// Seconds between RSS samples of the server (soak). With --server-pid,
    /// VmRSS from /proc; otherwise the server's /metrics.
    #[arg(long, default_value_t = 5.0, requires = "soak")]
    rss_interval: f64,
    /// Seconds to wait after the run for the queue and running gauges to read 0 (soak).
    #[arg(long, default_value_t = 30.0, requires = "soak")]
    drain_timeout: f64,
}

fn positive_secs(v: f64, flag: &str) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        v.is_finite() && v > 0.0,
        "{flag} must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(v))
}

fn share(v: f64, flag: &str) -> anyhow::Result<f64> {
    anyhow::ensure!((0.0..=1.0).contains(&v), "{flag} must be between 0 and 1");
    Ok(v)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.users >= 1, "--users must be at least 1");
    let duration = positive_secs(args.duration, "--duration")?;
    let request_timeout = positive_secs(args.timeout, "--timeout")?;
    let base = args.url.trim_end_matches('/').to_string();
    let opts = LoadOptions {
        base_url: base.clone(),
        users: args.users,
        duration,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        chat: args.chat,
        api_key: args.api_key.clone(),
        request_timeout,
    };
    let health = loadgen::agent(Duration::from_secs(5))
        .get(format!("{base}/health"))
        .call()
        .with_context(|| format!("server at {} is not reachable", args.url))?;
    anyhow::ensure!(
        health.status() == 200,
        "server health check answered {}",
        health.status().as_u16()
    );
    let soak_opts = if args.soak {
        let warmup = args.warmup.unwrap_or(args.duration / 10.0);
        anyhow::ensure!(
            warmup.is_finite() && (0.0..args.duration).contains(&warmup),
            "--warmup must be at least 0 and shorter than --duration"
        );
        anyhow::ensure!(
            args.disconnect_after_events >= 1,
            "--disconnect-after-events must be at least 1"
        );
        Some(soak::SoakOptions {
            disconnect_share: share(args.disconnect_share, "--disconnect-share")?,
            disconnect_after_events: args.disconnect_after_events,
            malformed_share: share(args.malformed_share, "--malformed-share")?,
            warmup: Duration::from_secs_f64(warmup),
            rss_interval: positive_secs(args.rss_interval, "--rss-interval")?,
            server_pid: args.server_pid,
            drain_timeout: positive_secs(args.drain_timeout, "--drain-timeout")?,
        })
    } else {
        None
    };
    let (samples, elapsed, soak_report) = match &soak_opts {
        None => {
            let started = Instant::now();
            let samples = loadgen::run(&opts);
            let elapsed = started.elapsed();
            if let Some(path) = &args.requests_out {
                let lines: String = samples
                    .iter()
                    .map(|s| format!("{}\n", loadgen::request_line(s)))
                    .collect();
                std::fs::write(path, lines)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            (samples, elapsed, None)
        }
        Some(so) => {
            let run = soak::run(&opts, so);
            let (tally, normal) = soak::tally(&run.samples);
            let report = soak::report(so, &run, &tally);
            (normal, run.elapsed, Some(report))
        }
    };
    let rss = loadgen::server_peak_rss(args.server_pid, &base);
    let summary = loadgen::summarize(&samples, args.users, args.max_tokens, elapsed, rss);
    let mut out = serde_json::to_value(&summary)?;
    out["endpoint"] = if args.chat {
        "/v1/chat/completions".into()
    } else {
        "/v1/completions".into()
    };
    if let Some(note) = args.note {
        out["note"] = note.into();
    }
    out["cpu"] = serde_json::to_value(slm_observe::cpu::detect())?;
    let passed = soak_report.as_ref().is_none_or(|(_, pass)| *pass);
    if let Some((report, _)) = soak_report {
        out["soak"] = report;
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    if !passed {
        std::process::exit(1);
    }
    Ok(())
}
