#!/usr/bin/env bash
# Runs the web UI's tests: unit tests (node --test) and real-browser tests
# (playwright-core driving Debian's Chromium) against a real slm-server
# serving the committed tiny random model. Works on a fresh machine: installs
# Chromium and the npm packages if missing, builds the server, always stops it.
#
#   scripts/web-test.sh            # everything
#   SLM_TEST_MODEL=models/x scripts/web-test.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL_DIR="${SLM_TEST_MODEL:-models/tiny-random}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "==> installing chromium (not found at $CHROMIUM_PATH)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

if [ ! -f "$MODEL_DIR/config.json" ]; then
  echo "error: test model not found at $MODEL_DIR (expected config.json, model.safetensors, tokenizer.json)" >&2
  exit 1
fi

echo "==> npm ci (web/)"
(cd web && npm ci --no-audit --no-fund)

echo "==> unit tests (web/tests/unit)"
(cd web && node --test tests/unit/)

echo "==> building slm-server"
cargo build -p slm-server
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="$TARGET_DIR/debug/slm-server"

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
BASE_URL="http://127.0.0.1:$PORT"
SERVER_LOG="$(mktemp -t slm-server-web-test.XXXXXX.log)"

echo "==> starting slm-server on $BASE_URL with $MODEL_DIR"
"$SERVER_BIN" --host 127.0.0.1 --port "$PORT" --model "$MODEL_DIR" --web-dir web >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

cleanup() {
  local status=$?
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    # Give it its graceful shutdown, then make sure it is gone.
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "---- slm-server log (last 40 lines) ----" >&2
    tail -n 40 "$SERVER_LOG" >&2 || true
  fi
  rm -f "$SERVER_LOG"
  exit "$status"
}
trap cleanup EXIT INT TERM

# Wait for /ready (model loaded), failing fast if the server dies.
ready=0
for _ in $(seq 1 600); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "error: slm-server exited before becoming ready" >&2
    exit 1
  fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$BASE_URL/ready"; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ "$ready" -ne 1 ]; then
  echo "error: slm-server was not ready at $BASE_URL/ready after 120 s" >&2
  exit 1
fi

echo "==> browser tests (web/tests/e2e) against $BASE_URL"
(cd web && SLM_BASE_URL="$BASE_URL" node --test --test-concurrency=1 tests/e2e/)
echo "==> screenshots in web/test-artifacts/"
