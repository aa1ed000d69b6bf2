#!/usr/bin/env bash
# Runs every test of the project: Rust unit/integration tests (nextest), then the web UI's
# browser tests against a real slm-server. Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

echo "== no TinyStories text in tracked files"
scripts/check-no-story-text.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== Rust tests (cargo nextest)"
# slm-infer's optional Burn decoder is tested too (Burn is already built for the trainer).
cargo nextest run --workspace --features slm-infer/burn --no-fail-fast

echo "== /metrics through promtool"
scripts/promtool-check.sh

echo "== the official openai client (logprobs, streaming)"
scripts/openai-client-check.sh

echo "== API fuzzing, short pass (schemathesis; scripts/api-fuzz.sh runs the full one)"
scripts/api-fuzz.sh --quick

echo "== deploy/: Kubernetes manifests (schemas), HAProxy and Compose configuration"
deploy/check.sh

if [ -x scripts/web-test.sh ]; then
  echo "== web UI browser tests"
  scripts/web-test.sh
fi
