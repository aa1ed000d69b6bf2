#!/usr/bin/env bash
# `promtool check metrics` (Debian's prometheus package) on the server's /metrics after
# successful, streamed, failed and cancelled requests, so every metric family has samples.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
fi

cargo build -q -p slm-server
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
LOG="$(mktemp)"
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
trap 'stop_server; rm -f "$LOG"' EXIT
start_server "$TARGET_DIR/debug/slm-server" "$LOG" --model models/tiny-random

post() { curl -s -o /dev/null -H 'content-type: application/json' -d "$2" "$BASE$1" || true; }
post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 8}'
post /v1/completions '{"prompt": "Once", "max_tokens": 8, "stream": true}'
post /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}'
post /v1/completions '{"prompt": 5}'
# A streaming client that leaves early.
curl -s -m 0.3 -H 'content-type: application/json' \
  -d '{"prompt": "Once", "max_tokens": 100, "stream": true}' "$BASE/v1/completions" >/dev/null || true

METRICS="$(mktemp)"
curl -sf "$BASE/metrics" >"$METRICS"
promtool check metrics <"$METRICS"
echo "promtool: $(grep -c '^# TYPE' "$METRICS") metric families, $(grep -vc '^#' "$METRICS") samples, no problems"
