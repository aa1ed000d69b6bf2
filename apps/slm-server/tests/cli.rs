//! The binary itself: `healthcheck` exit codes, the missing-model message and
//! stopping on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_slm-server");

#[test]
fn healthcheck_exits_0_when_healthy_and_1_otherwise() {
    let srv = start_tiny();
    let out = Command::new(BIN)
        .args(["healthcheck", "--url", &srv.url("/health")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let closed = srv.url("/health");
    drop(srv);
    let out = Command::new(BIN)
        .args(["healthcheck", "--url", &closed, "--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("health check"));
}

#[test]
fn missing_model_fails_with_the_path_and_the_flag() {
    let out = Command::new(BIN)
        .args(["--model", "/nonexistent/slm-model", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/slm-model"), "{err}");
    assert!(err.contains("--model"), "{err}");
}

/// Sends `signal` (e.g. `-TERM`) to `pid` with kill(1).
#[cfg(unix)]
fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A server process that is killed if the test fails before it exits.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real process on real signals: SIGTERM starts the drain (`/ready` → 503) and the
/// stream in flight goes on to its end, unless a second SIGTERM cancels it; the server
/// exits 0 either way.
#[cfg(unix)]
#[test]
fn sigterm_drains_and_exits_0() {
    for signals in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Child(
            Command::new(BIN)
                .args([
                    "--port",
                    "0",
                    "--web-dir",
                    "/nonexistent/slm-web",
                    "--model",
                ])
                .arg(slow_model(dir.path()))
                .args(["--max-tokens-limit", "4096", "--shutdown-grace-secs", "300"])
                .env("RUST_LOG", "info")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut log = BufReader::new(child.0.stderr.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            assert!(log.read_line(&mut line).unwrap() > 0, "server exited early");
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        let srv = External(addr);
        // Over a second on this model: the stream outlasts the checks below (and, to be
        // cut by the second signal, is longer still).
        let max_tokens = if signals == 2 { 4000 } else { 1500 };
        let body = serde_json::json!({"prompt": "Once", "max_tokens": max_tokens,
                                      "temperature": 0, "stream": true});
        let (head, mut sse) = open_stream(&srv, "/v1/completions", &body);
        assert_eq!(head.status, 200);
        assert_ne!(next_data(&mut sse).unwrap(), "[DONE]");
        assert_eq!(get(&srv, "/ready").status(), 200);
        kill("-TERM", child.0.id());
        assert!(wait_until(Duration::from_secs(10), || get(&srv, "/ready")
            .status()
            == 503));
        if signals == 2 {
            kill("-TERM", child.0.id());
        }
        let events = all_data(&mut sse);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let cut = events.iter().any(|e| e.contains("shutting_down"));
        assert_eq!(cut, signals == 2, "{events:?}");
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "after {signals} SIGTERM");
    }
}
