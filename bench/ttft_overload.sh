#!/usr/bin/env bash
# First tokens under load: slm-server on the bundled model, slm-loadgen with 1, 10, 50 and
# 100 streaming users (128 tokens each, DURATION seconds per run), once with each
# --max-batch given (0 = auto: as many slots as --kv-cache-mib holds, 75 for the bundled
# model; 32 = the old fixed default). Prints one JSON object; nothing else may run meanwhile.
#
#   cargo build --release -p slm-server -p slm-loadgen
#   bash bench/ttft_overload.sh > bench/results/ttft-overload.json
#   MAX_BATCHES="0 32" USERS="1 10 50 100" DURATION=20 bash bench/ttft_overload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_BATCHES="${MAX_BATCHES:-0 32}"
USERS="${USERS:-1 10 50 100}"
DURATION="${DURATION:-20}"
MODEL="${MODEL:-models/tinystories-15m}"
PORT="${PORT:-18093}"
bin=target/release

runs=()
for mb in $MAX_BATCHES; do
  "$bin/slm-server" --model "$MODEL" --port "$PORT" --max-batch "$mb" --queue-capacity 512 \
    >/dev/null 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  slots=$(curl -fs "http://127.0.0.1:$PORT/api/info" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("max_batch"))' 2>/dev/null || echo null)
  for u in $USERS; do
    out=$("$bin/slm-loadgen" --url "http://127.0.0.1:$PORT" --users "$u" --duration "$DURATION" \
      --max-tokens 128 --server-pid "$pid")
    runs+=("{\"max_batch_flag\": $mb, \"slots\": $slots, \"users\": $u, \"result\": $out}")
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
joined=$(IFS=,; echo "${runs[*]}")
python3 - "$joined" <<'EOF'
import json, sys, subprocess
runs = json.loads("[" + sys.argv[1] + "]")
cpu = {}
for line in open("/proc/cpuinfo"):
    k, _, v = line.partition(":")
    if k.strip() == "model name" and "model" not in cpu:
        cpu["model"] = v.strip()
    if k.strip() == "flags" and "flags" not in cpu:
        cpu["simd_flags"] = [f for f in v.split() if f.startswith(("avx", "fma", "f16c"))]
print(json.dumps({
    "command": "bash bench/ttft_overload.sh",
    "cpu": cpu,
    "cores": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
    "runs": runs,
}, indent=1))
EOF
