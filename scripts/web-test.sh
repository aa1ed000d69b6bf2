#!/usr/bin/env bash
# Runs the web UI's tests: unit tests (node --test) and real-browser tests
# (playwright-core driving Debian's Chromium) against real slm-servers: one
# serving the committed tiny random model (SLM_BASE_URL), one the bundled chat
# model (SLM_CHAT_BASE_URL). Works on a fresh machine: installs Chromium and
# the npm packages if missing, builds the server, always stops the servers.
#
#   scripts/web-test.sh            # everything
#   SLM_TEST_MODEL=models/x SLM_TEST_CHAT_MODEL=models/y scripts/web-test.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL_DIR="${SLM_TEST_MODEL:-models/tiny-random}"
CHAT_MODEL_DIR="${SLM_TEST_CHAT_MODEL:-models/tinystories-15m-chat}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "==> installing chromium (not found at $CHROMIUM_PATH)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

for dir in "$MODEL_DIR" "$CHAT_MODEL_DIR"; do
  if [ ! -f "$dir/config.json" ]; then
    echo "error: test model not found at $dir (expected config.json, model.safetensors, tokenizer.json)" >&2
    exit 1
  fi
done

echo "==> npm ci (web/)"
(cd web && npm ci --no-audit --no-fund)

echo "==> unit tests (web/tests/unit)"
(cd web && node --test tests/unit/)

echo "==> building slm-server"
cargo build -p slm-server
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="$TARGET_DIR/debug/slm-server"

# The servers started so far (pid, log, name) and the one that failed to start, if any.
SERVER_PIDS=()
SERVER_LOGS=()
SERVER_NAMES=()
FAILED_SERVER=""

cleanup() {
  local status=$?
  local i pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    # Give it its graceful shutdown, then make sure it is gone.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    # The server that failed to start, else every server (a test failed: either may explain it).
    for i in "${!SERVER_PIDS[@]}"; do
      if [ -n "$FAILED_SERVER" ] && [ "$FAILED_SERVER" != "$i" ]; then continue; fi
      echo "---- slm-server (${SERVER_NAMES[$i]}) log (last 40 lines) ----" >&2
      tail -n 40 "${SERVER_LOGS[$i]}" >&2 || true
    done
  fi
  rm -f "${SERVER_LOGS[@]}"
  exit "$status"
}
trap cleanup EXIT INT TERM

# start_server NAME MODEL_DIR: starts slm-server on a free port and waits for its
# /ready (model loaded), failing fast if it dies. Sets SERVER_URL.
start_server() {
  local name=$1 model=$2 port url log pid index
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  url="http://127.0.0.1:$port"
  log="$(mktemp -t "slm-server-web-test-$name.XXXXXX.log")"
  echo "==> starting slm-server ($name) on $url with $model"
  "$SERVER_BIN" --host 127.0.0.1 --port "$port" --model "$model" --web-dir web >"$log" 2>&1 &
  pid=$!
  index=${#SERVER_PIDS[@]}
  SERVER_PIDS+=("$pid")
  SERVER_LOGS+=("$log")
  SERVER_NAMES+=("$name")
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      FAILED_SERVER=$index
      echo "error: slm-server ($name) exited before becoming ready" >&2
      exit 1
    fi
    if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$url/ready"; then
      SERVER_URL=$url
      return 0
    fi
    sleep 0.2
  done
  FAILED_SERVER=$index
  echo "error: slm-server ($name) was not ready at $url/ready after 120 s" >&2
  exit 1
}

start_server tiny "$MODEL_DIR"
BASE_URL=$SERVER_URL
start_server chat "$CHAT_MODEL_DIR"
CHAT_BASE_URL=$SERVER_URL

echo "==> browser tests (web/tests/e2e) against $BASE_URL (chat model: $CHAT_BASE_URL)"
(cd web && SLM_BASE_URL="$BASE_URL" SLM_CHAT_BASE_URL="$CHAT_BASE_URL" node --test --test-concurrency=1 tests/e2e/)
echo "==> screenshots in web/test-artifacts/"
