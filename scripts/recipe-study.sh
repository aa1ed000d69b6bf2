#!/usr/bin/env bash
# The recipe study behind models/tinystories-15m (docs/training.md, "Recipe study"): each
# variant trains the same number of steps (same tokens) from the same start, then the
# fixed validation subset decides. Results: one JSON line per variant in
# bench/results/recipe-study.jsonl (variant, overrides, tokens, wall seconds, valid loss/bpb).
#
#   bash scripts/recipe-study.sh [STEPS] [VARIANT...]     (default: 100 steps, every variant)
#
# Needs: data/tinystories (slm-train prepare on ../shared/datasets/tinystories, see README), the grown
# start runs/grown-12l (scripts/grow_model.py) and, for the "shape-6l-32k" variant, the
# earlier 6-layer model at runs/old-6l-32k (models/tinystories-15m at commit bac95b4).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100}
shift || true
BIN=${SLM_TRAIN:-target/debug/slm-train}
OUT=bench/results/recipe-study.jsonl
COMMON=(--config configs/tinystories-15m.toml --no-progress --max-steps "$STEPS"
  --eval-every "$STEPS" --checkpoint-every 0 --set eval.max_windows=8 --set eval.samples=0)
# Every variant is judged the same way, whatever its training seq_len: the first 128
# validation windows of 512 tokens (65,536 predictions), softmax over every row.
EVAL=(--data data/tinystories/valid --seq-len 512 --max-windows 128)

variant() {
  local name=$1 init=$2
  shift 2
  local run=runs/study/$name
  rm -rf "$run"
  local t0=$SECONDS
  "$BIN" train "${COMMON[@]}" --out "$run" --init-from "$init" "$@" 2>"$run.log" || {
    echo "variant $name failed, see $run.log" >&2
    return 1
  }
  local secs=$((SECONDS - t0))
  "$BIN" export --run "$run" --out "$run/model" --dtype f32 2>>"$run.log" >/dev/null
  "$BIN" eval --model "$run/model" "${EVAL[@]}" 2>>"$run.log" >"$run/eval.json"
  python3 - "$name" "$run" "$secs" "$*" >>"$OUT" <<'PY'
import json, sys
name, run, secs, overrides = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
tr = [r for r in rows if r["kind"] == "train"]
ev = json.load(open(f"{run}/eval.json"))
print(json.dumps({"variant": name, "overrides": overrides, "steps": tr[-1]["step"],
  "tokens": tr[-1]["tokens"], "wall_s": int(secs),
  "train_loss_last20": sum(r["loss"] for r in tr[-20:]) / len(tr[-20:]),
  "valid_loss": ev["loss"], "valid_bpb": ev["bits_per_byte"]}))
PY
  tail -1 "$OUT"
}

mkdir -p runs/study
want() { [ -z "$WANT" ] || [[ " $WANT " == *" $1 "* ]]; }
want_extra() { [[ " $WANT " == *" $1 "* ]]; }  # only when named
WANT="$*"
G=runs/grown-12l
want base && variant base $G
want dropout-0 && variant dropout-0 $G --set model.dropout=0.0
want_extra dropout-0.2 && variant dropout-0.2 $G --set model.dropout=0.2
want wd-0.3 && variant wd-0.3 $G --set optim.weight_decay=0.3
want_extra lr-1e-3 && variant lr-1e-3 $G --lr 1e-3 --set optim.min_lr=1e-4
want lr-2e-4 && variant lr-2e-4 $G --lr 2e-4 --set optim.min_lr=2e-5
want lr-1e-4 && variant lr-1e-4 $G --lr 1e-4 --set optim.min_lr=1e-5
# Second round, around the best learning rate of the first (1e-4):
L=(--lr 1e-4 --set optim.min_lr=1e-5)
want lr-1e-4-constant && variant lr-1e-4-constant $G --lr 1e-4 --set optim.min_lr=1e-4
want lr-1e-4-seq-256 && variant lr-1e-4-seq-256 $G "${L[@]}" --set batch.seq_len=256 --micro-batch 8
want lr-1e-4-shape-6l-32k && variant lr-1e-4-shape-6l-32k runs/old-6l-32k "${L[@]}" \
  --set model.n_layers=6 --set model.vocab_size=32000
true
