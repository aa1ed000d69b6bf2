//! `slm-loadgen`: N concurrent streaming users against a running slm-server
//! for a bounded time; prints a JSON summary (see `loadgen`).

mod loadgen;
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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.users >= 1, "--users must be at least 1");
    anyhow::ensure!(
        args.duration.is_finite() && args.duration > 0.0,
        "--duration must be a positive number of seconds"
    );
    anyhow::ensure!(
        args.timeout.is_finite() && args.timeout > 0.0,
        "--timeout must be a positive number of seconds"
    );
    let base = args.url.trim_end_matches('/').to_string();
    let opts = LoadOptions {
        base_url: base.clone(),
        users: args.users,
        duration: Duration::from_secs_f64(args.duration),
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        chat: args.chat,
        api_key: args.api_key,
        request_timeout: Duration::from_secs_f64(args.timeout),
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
    let started = Instant::now();
    let samples = loadgen::run(&opts);
    let elapsed = started.elapsed();
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
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
