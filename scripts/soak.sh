#!/usr/bin/env bash
# Soak test of slm-server: 50 streaming chat users for 10 minutes against the
# bundled model, 5 % of streams cut off by the client mid-stream, 1 % malformed requests. Passes
# with 0 unexpected errors, every engine slot freed afterwards (/metrics gauges
# slm_num_requests_waiting and slm_num_requests_running back to 0) and the server's RSS within
# ±10 % of its post-warm-up median. Result: bench/results/soak.json (the `soak` object holds the verdict);
# exits 1 when the soak does not pass.
#
#   scripts/soak.sh                                   the full soak (~11 minutes)
#   SOAK_DURATION=30 SOAK_WARMUP=5 SOAK_USERS=8 SOAK_OUT=/tmp/soak.json scripts/soak.sh
#                                                     a quick check
#
# Environment (defaults in brackets):
#   SOAK_USERS [50]  SOAK_DURATION [600] s  SOAK_WARMUP [60] s  SOAK_MAX_TOKENS [64]
#   SOAK_DISCONNECT [0.05]   share of streams the client closes after SOAK_CUT_AFTER [3] tokens
#   SOAK_MALFORMED [0.01]    share of requests sent malformed (five kinds in rotation)
#   SOAK_RSS_INTERVAL [5] s  SOAK_DRAIN_TIMEOUT [30] s
#   SOAK_MODEL               model directory [the server's default, models/tinystories-15m]
#   SOAK_PROFILE [release]   or debug (dev build: quicker to build, slower to serve)
#   SOAK_OUT [bench/results/soak.json]
#   SOAK_SERVER_ARGS         extra slm-server arguments (word-split)
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${SOAK_USERS:-50}
DURATION=${SOAK_DURATION:-600}
WARMUP=${SOAK_WARMUP:-60}
MAX_TOKENS=${SOAK_MAX_TOKENS:-64}
DISCONNECT=${SOAK_DISCONNECT:-0.05}
CUT_AFTER=${SOAK_CUT_AFTER:-3}
MALFORMED=${SOAK_MALFORMED:-0.01}
RSS_INTERVAL=${SOAK_RSS_INTERVAL:-5}
DRAIN_TIMEOUT=${SOAK_DRAIN_TIMEOUT:-30}
PROFILE=${SOAK_PROFILE:-release}
OUT=${SOAK_OUT:-bench/results/soak.json}
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

case "$PROFILE" in
  release) cargo build --release -p slm-server -p slm-loadgen; BIN="$TARGET_DIR/release" ;;
  debug) cargo build -p slm-server -p slm-loadgen; BIN="$TARGET_DIR/debug" ;;
  *) echo "SOAK_PROFILE must be release or debug, not '$PROFILE'" >&2; exit 2 ;;
esac

WORK=$(mktemp -d)
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_ARGS=()
[ -n "${SOAK_MODEL:-}" ] && SERVER_ARGS+=(--model "$SOAK_MODEL")
# shellcheck disable=SC2206
[ -n "${SOAK_SERVER_ARGS:-}" ] && SERVER_ARGS+=(${SOAK_SERVER_ARGS})
start_server "$BIN/slm-server" "$WORK/server.log" "${SERVER_ARGS[@]}"
SERVER_ARGS=(--port "$PORT" "${SERVER_ARGS[@]}") # as recorded in the note

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+dirty" || true)
NOTE="scripts/soak.sh ($PROFILE build, commit $COMMIT$DIRTY): slm-server ${SERVER_ARGS[*]}"
LOADGEN_ARGS=(--url "$BASE" --chat --users "$USERS" --duration "$DURATION" --max-tokens "$MAX_TOKENS"
  --server-pid "$SERVER" --soak --warmup "$WARMUP" --disconnect-share "$DISCONNECT"
  --disconnect-after-events "$CUT_AFTER" --malformed-share "$MALFORMED"
  --rss-interval "$RSS_INTERVAL" --drain-timeout "$DRAIN_TIMEOUT")
echo "== soak: $USERS users, ${DURATION}s (warm-up ${WARMUP}s) against $BASE (pid $SERVER)" >&2
set +e
"$BIN/slm-loadgen" "${LOADGEN_ARGS[@]}" --note "$NOTE" >"$WORK/soak.json"
RC=$?
set -e

if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "slm-server died during the soak; its log:" >&2
  tail -n 50 "$WORK/server.log" >&2
  RC=1
fi
# slm-loadgen exits 0 (pass) or 1 (soak failed, JSON written); anything else is its own error.
if [ "$RC" -le 1 ] && [ -s "$WORK/soak.json" ]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$WORK/soak.json" "$OUT"
  python3 - "$OUT" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["soak"]
q = s["requests"]
rss = s["rss"]["stats"]
dev = rss["max_rel_deviation"]
print(f'soak: {q["requests_total"]} requests ({q["disconnected"]} cut off, {q["malformed_rejected_4xx"]}/'
      f'{q["malformed_sent"]} malformed refused), {s["unexpected_errors"]} unexpected errors; '
      f'slots freed: {s["slots_freed"]}; RSS max deviation '
      f'{"n/a" if dev is None else f"{dev * 100:.1f} %"} over {rss["post_warmup_samples"]} samples '
      f'(flat: {s["rss_flat_within_10pct"]}) -> {"PASS" if s["pass"] else "FAIL"}: {sys.argv[1]}',
      file=sys.stderr)
EOF
else
  echo "slm-loadgen failed (exit $RC); server log tail:" >&2
  tail -n 20 "$WORK/server.log" >&2
fi
exit "$RC"
