//! The binary itself: `healthcheck` exit codes and the missing-model message.

mod common;

use std::process::Command;

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
