#!/usr/bin/env bash
# API fuzzing of slm-server with schemathesis (PyPI) against the server's own /openapi.json:
# every operation (including /openapi.json itself), positive and negative generated requests,
# undeclared methods and the stateful phase; checks for 5xx, response schemas (including each
# SSE event of stream=true answers), content types, documented headers, status codes and that
# schema-violating requests are refused. Result: bench/results/api-fuzz.json; the raw schemathesis
# reports (JSON, NDJSON, JUnit) go to target/api-fuzz/.
#
#   scripts/api-fuzz.sh            full pass (>= 1,000 cases), writes bench/results/api-fuzz.json
#   scripts/api-fuzz.sh --quick    short pass for CI (~100 cases), summary to target/api-fuzz/
#
# Environment:
#   API_FUZZ_EXAMPLES  max examples per operation and phase (default 200; --quick: 10)
#   API_FUZZ_SEED      random seed (default 20)
#   API_FUZZ_OUT       summary JSON (default bench/results/api-fuzz.json; --quick: target/api-fuzz/summary.json)
#   API_FUZZ_VENV      venv holding schemathesis (default ~/.cache/slm/schemathesis-venv); created
#                      and filled with schemathesis==$SCHEMATHESIS_VERSION from PyPI when missing
#   API_FUZZ_CHECKS    schemathesis checks (default: all)
#   SCHEMATHESIS_VERSION  default 4.32.5 (the CLI options used here are schemathesis 4.x's)
#
# The server runs the tiny random model (models/tiny-random) with --max-tokens-limit 16 and
# --default-max-tokens 8 so generations stay short; the document it serves states that limit as
# max_tokens' maximum, so out-of-range values are negative cases. Its context is raised from 128
# to 4,096 tokens (rotary positions: the same weights run at any length) because one rule of the
# server cannot be written in JSON Schema: prompt + max_tokens must fit the context (else 400
# context_length_exceeded, as OpenAI answers). Every other rule is in the schema, so all checks
# run, positive_data_acceptance (schema-valid requests must succeed) included.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
REPORT_DIR="$TARGET_DIR/api-fuzz"
if [ "$QUICK" = 1 ]; then
  EXAMPLES=${API_FUZZ_EXAMPLES:-10}
  OUT=${API_FUZZ_OUT:-$REPORT_DIR/summary.json}
else
  EXAMPLES=${API_FUZZ_EXAMPLES:-200}
  OUT=${API_FUZZ_OUT:-bench/results/api-fuzz.json}
fi
SEED=${API_FUZZ_SEED:-20}
ST_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/slm
VENV=${API_FUZZ_VENV:-$CACHE/schemathesis-venv}
MAX_TOKENS_LIMIT=16
CHECKS=${API_FUZZ_CHECKS:-all}

# schemathesis, pinned, in its own venv outside the repository.
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh
ensure_venv "$VENV" schemathesis "$ST_VERSION"

cargo build -q -p slm-server
WORK=$(mktemp -d)
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

cp -r models/tiny-random "$WORK/tiny-random-4k"
python3 - "$WORK/tiny-random-4k/config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["max_seq_len"] = 4096
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PY
SERVER_ARGS=(--model "$WORK/tiny-random-4k" --max-tokens-limit "$MAX_TOKENS_LIMIT" --default-max-tokens 8)
start_server "$TARGET_DIR/debug/slm-server" "$WORK/server.log" "${SERVER_ARGS[@]}"
SERVER_ARGS=(--port "$PORT" "${SERVER_ARGS[@]}") # as recorded in the summary

rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
REPORT_DIR_ABS=$(cd "$REPORT_DIR" && pwd)
# --include-path-regex '^/': schemathesis leaves the document's own path out unless asked.
ST_ARGS=(run "$BASE/openapi.json" --include-path-regex '^/'
  --checks "$CHECKS" --max-examples "$EXAMPLES" --seed "$SEED"
  --workers 1 --request-timeout 30 --generation-database none --no-color
  --report json,ndjson,junit --report-dir "$REPORT_DIR_ABS")
echo "== st ${ST_ARGS[*]}"
start=$(date +%s.%N)
# From a scratch directory: schemathesis keeps caches (.hypothesis, .schemathesis) in the cwd.
set +e
(cd "$WORK" && "$VENV/bin/st" "${ST_ARGS[@]}")
ST_RC=$?
set -e
end=$(date +%s.%N)

if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "slm-server died during the run; its log:" >&2
  cat "$WORK/server.log" >&2
  ST_RC=1
fi

mkdir -p "$(dirname "$OUT")"
"$VENV/bin/python" - "$REPORT_DIR_ABS" "$OUT" "$ST_RC" "$start" "$end" "$EXAMPLES" "$SEED" \
  "$CHECKS" "$QUICK" "st ${ST_ARGS[*]}" "slm-server ${SERVER_ARGS[*]}" <<'EOF'
import collections, datetime, json, pathlib, sys

(report_dir, out, rc, start, end, examples, seed, checks, quick, st_cmd, server_cmd) = sys.argv[1:]
report_dir = pathlib.Path(report_dir)
run = json.loads(next(report_dir.glob("*.json")).read_text())

cases = collections.Counter()
by_phase = collections.defaultdict(collections.Counter)
statuses = collections.defaultdict(collections.Counter)
check_runs = collections.Counter()
check_failures = collections.Counter()
spec = json.loads(pathlib.Path("apps/slm-server/openapi.json").read_text())
documented = {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item}
UNDECLARED = "undeclared methods (unsupported_method probes)"
for line in next(report_dir.glob("*.ndjson")).open():
    event = json.loads(line).get("ScenarioFinished")
    if not event:
        continue
    rec = event["recorder"]
    for case_id, case in rec.get("cases", {}).items():
        op = f'{case["value"]["method"]} {case["value"]["path"]}'
        op = op if op in documented else UNDECLARED
        cases[op] += 1
        by_phase[op][event["phase"]] += 1
        resp = (rec.get("interactions", {}).get(case_id) or {}).get("response")
        if resp:
            ctype = (resp.get("headers", {}).get("content-type") or [""])[0].split(";")[0]
            statuses[op][f'{resp["status_code"]} {ctype}'.strip()] += 1
    for results in rec.get("checks", {}).values():
        for c in results:
            check_runs[c["name"]] += 1
            if c["status"] == "failure":
                check_failures[c["name"]] += 1

failures = run.get("failures", [])
summary = {
    "tool": f'schemathesis {run["schemathesis_version"]}',
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "script": "scripts/api-fuzz.sh" + (" --quick" if quick == "1" else ""),
    "command": st_cmd,
    "server": server_cmd,
    "seed": int(seed),
    "max_examples_per_operation": int(examples),
    "phases": {k: v["status"] for k, v in run["phases"].items()},
    "operations_tested": run["operations"]["tested"],
    "operations_total": run["operations"]["total"],
    "total_cases": run["test_cases"]["generated"],
    "cases_per_operation": {
        op: {"cases": n, "by_phase": dict(by_phase[op]), "responses": dict(sorted(statuses[op].items()))}
        for op, n in sorted(cases.items())
    },
    "checks": {name: {"runs": check_runs[name], "failures": check_failures[name]}
               for name in (sorted(check_runs) if checks == "all" else checks.split(","))},
    "server_errors": check_failures["not_a_server_error"],
    "schema_mismatches": sum(check_failures[c] for c in (
        "response_schema_conformance", "content_type_conformance", "status_code_conformance",
        "response_headers_conformance", "negative_data_rejection", "positive_data_acceptance")),
    "failures": [{k: f[k] for k in ("code", "title", "count", "operations")} for f in failures],
    "errors": run.get("errors", []),
    "warnings": {k: v for k, v in run.get("warnings", {}).items() if v},
    "duration_s": round(float(end) - float(start), 1),
    "exit_code": int(rc),
}
pathlib.Path(out).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
print(f'api-fuzz: {summary["total_cases"]} cases over {summary["operations_tested"]} operations, '
      f'{len(failures)} failure kinds, {summary["server_errors"]} server errors, '
      f'{summary["schema_mismatches"]} schema mismatches, {summary["duration_s"]} s -> {out}')
EOF
exit "$ST_RC"
