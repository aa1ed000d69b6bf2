#!/usr/bin/env bash
# Parser fuzzing with cargo fuzz (libFuzzer, nightly, AddressSanitizer): every reader of
# untrusted bytes (targets in fuzz/src/lib.rs). Each target starts from the seeds
# (`fuzz-seeds`) plus the committed corpus, runs for FUZZ_SECONDS, and its corpus is then
# minimized back into fuzz/corpus/<target>/ (replayed on stable by `cargo test -p slm-fuzz`).
# A crash, panic, timeout or OOM input is copied to fuzz/regressions/<target>/ (also
# replayed) and the script fails. Result: bench/results/fuzz.json.
#
#   scripts/fuzz.sh                 all targets, 600 s each, FUZZ_JOBS at a time
#   scripts/fuzz.sh request shards  only these targets
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 600)
#   FUZZ_JOBS     targets fuzzed at once (default 1: leaves a core free; one core each)
#   FUZZ_OUT      summary JSON (default bench/results/fuzz.json; merged per target)
# Installs the nightly toolchain (rustup) and cargo-fuzz (crates.io) when missing.
#
# The targets are built unoptimised (-D, with debug assertions and overflow checks): cargo fuzz
# builds optimised ones with a single codegen unit under AddressSanitizer, which for Burn (the
# trainer's dependency) took over an hour on 2 cores; parsing runs fast enough without it.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-1}
OUT=${FUZZ_OUT:-bench/results/fuzz.json}
# The cargo-fuzz project; the targets, corpus and regressions are the slm-fuzz crate in fuzz/.
FUZZ_DIR=fuzz/libfuzzer
WORK=$FUZZ_DIR/target/work
BIN=$FUZZ_DIR/target/x86_64-unknown-linux-gnu/debug
ALL=$(sed -n 's/^    ("\([a-z_]*\)", [a-z_]*),$/\1/p' fuzz/src/lib.rs)
TARGETS=${*:-$ALL}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

rm -rf "$WORK/seeds"
cargo run -q -p slm-fuzz --bin fuzz-seeds -- "$WORK/seeds"
cargo +nightly fuzz build -D --fuzz-dir "$FUZZ_DIR" 2>&1 | tail -n 3

fuzz_one() {
  local t=$1 live="$WORK/live/$1" log="$WORK/$1.log"
  # Artifacts of earlier runs are already in fuzz/regressions/.
  rm -rf "$live" "$FUZZ_DIR/artifacts/$t" && mkdir -p "$live" "fuzz/corpus/$t" "$FUZZ_DIR/artifacts/$t"
  set +e
  cargo +nightly fuzz run -D --fuzz-dir "$FUZZ_DIR" "$t" "$live" "$WORK/seeds/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    >"$log" 2>&1
  local rc=$?
  set -e
  # Keep a minimal corpus with the coverage of everything found (seeds are recreated each run).
  local min="$WORK/min/$t"
  rm -rf "$min" && mkdir -p "$min"
  "$BIN/$t" -merge=1 -rss_limit_mb=3072 "$min" "$live" "fuzz/corpus/$t" >"$WORK/$t.cmin.log" 2>&1 || true
  if [ -n "$(ls -A "$min")" ]; then
    rm -rf "fuzz/corpus/$t" && cp -r "$min" "fuzz/corpus/$t"
  fi
  local crashes=0
  # slow-unit-* files are reports, not failures.
  for f in "$FUZZ_DIR"/artifacts/"$t"/crash-* "$FUZZ_DIR"/artifacts/"$t"/oom-* "$FUZZ_DIR"/artifacts/"$t"/timeout-* "$FUZZ_DIR"/artifacts/"$t"/leak-*; do
    [ -e "$f" ] || continue
    mkdir -p "fuzz/regressions/$t"
    cp "$f" "fuzz/regressions/$t/"
    crashes=$((crashes + 1))
  done
  python3 - "$t" "$log" "$rc" "$crashes" "$SECONDS_PER" "fuzz/corpus/$t" <<'EOF' >"$WORK/$t.json"
import json, os, re, sys
t, log, rc, crashes, secs, corpus = sys.argv[1:]
text = open(log, errors="replace").read()
def stat(name):
    m = re.findall(r"stat::%s:\s*(\d+)" % name, text)
    return int(m[-1]) if m else None
files = [os.path.join(corpus, f) for f in os.listdir(corpus)]
print(json.dumps({
    "target": t,
    "seconds": int(secs),
    "exit_code": int(rc),
    "executions": stat("number_of_executed_units"),
    "execs_per_second": stat("average_exec_per_sec"),
    "new_units_added": stat("new_units_added"),
    "peak_rss_mb": stat("peak_rss_mb"),
    "crashes": int(crashes),
    "corpus_files": len(files),
    "corpus_bytes": sum(os.path.getsize(f) for f in files),
}))
EOF
  echo "$t: exit $rc, $(cat "$WORK/$t.json")"
}

mkdir -p "$WORK"
running=0
for t in $TARGETS; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

python3 - "$OUT" "$WORK" $TARGETS <<'EOF'
import json, os, platform, subprocess, sys
out, work, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
old = json.load(open(out)) if os.path.exists(out) else {}
results = {r["target"]: r for r in old.get("targets", [])}
for t in targets:
    results[t] = json.load(open(os.path.join(work, t + ".json")))
flags = open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0] if os.path.exists("/proc/cpuinfo") else ""
isa = [f for f in ("avx512f", "avx2", "fma") if f" {f}" in flags] or [platform.machine()]
summary = {
    "tool": "cargo fuzz (libFuzzer + AddressSanitizer), scripts/fuzz.sh",
    "rustc": subprocess.run(["rustc", "+nightly", "--version"], capture_output=True, text=True).stdout.strip(),
    "cpu_isa": isa,
    "targets": [results[t] for t in sorted(results)],
    "total_executions": sum(r["executions"] or 0 for r in results.values()),
    "total_crashes": sum(r["crashes"] for r in results.values()),
}
json.dump(summary, open(out, "w"), indent=2)
print(json.dumps(summary, indent=2))
EOF
if grep -q '"crashes": [1-9]' "$WORK"/*.json; then
  echo "fuzzing found crashes: inputs are in fuzz/regressions/ (reproduce with" \
       "cargo +nightly fuzz run -D --fuzz-dir "$FUZZ_DIR" TARGET FILE)" >&2
  exit 1
fi
