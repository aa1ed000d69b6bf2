#!/usr/bin/env bash
# Prepares the V1-weighted training pool of the continued training of
# models/tinystories-15m (docs/training.md, "Continuation on the grown pool"): all four
# training files of ../shared/datasets/tinystories plus a second copy of their TinyStories V1
# stories, since the validation split is V1 and GPT-4-only (V2) stories are over half of the
# pool. V1 stories by position (SOURCES.tsv gives the order): train.txt 0-2315 (V1 train
# head) and 7314-9806 (a V1 sample), train-extra.txt 1715-2380 (the V1 generation dump),
# and all of train-recased.txt.
#
#   bash scripts/v1-weighted-data.sh [OUT]      (default data/tinystories-v1w)
#
# Writes OUT/v1-again.txt (the second copy; git-ignored, never committed) and the shards
# OUT/train, OUT/valid (validation: the whole split) and OUT/valid-even (its even-numbered
# stories, the half used to judge a run while it trains).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-data/tinystories-v1w}
DATA=../shared/datasets/tinystories
for f in train train-extra train-recased train-extra2 valid; do
  [ -f "$DATA/$f.txt.zst" ] || { echo "missing $DATA/$f.txt.zst (datasets/README.md)" >&2; exit 1; }
done
BIN=${SLM_TRAIN:-target/release/slm-train}
mkdir -p "$OUT"

# Stories numbered from 0 in file order; keep those in [lo, hi] ranges given as "lo-hi ...".
pick() {
  zstd -dc "$1" | awk -v ranges="$2" '
    BEGIN { n = split(ranges, r, " "); for (i = 1; i <= n; i++) { split(r[i], b, "-"); lo[i] = b[1]; hi[i] = b[2] } }
    { buf = buf $0 "\n" }
    $0 == "<|endoftext|>" {
      for (i = 1; i <= n; i++) if (k >= lo[i] && k <= hi[i]) { printf "%s", buf; break }
      k++; buf = ""
    }'
}
{
  pick "$DATA/train.txt.zst" "0-2315 7314-9806"
  pick "$DATA/train-extra.txt.zst" "1715-2380"
  pick "$DATA/train-recased.txt.zst" "0-999999"
} > "$OUT/v1-again.txt"
echo "second V1 copy: $(grep -c '^<|endoftext|>$' "$OUT/v1-again.txt") stories" >&2
pick "$DATA/valid.txt.zst" "$(for i in $(seq 0 2 998); do printf '%d-%d ' "$i" "$i"; done)" \
  > "$OUT/valid-even.txt"

TOK=models/tinystories-15m/tokenizer.json
"$BIN" prepare --no-progress --tokenizer "$TOK" --out "$OUT" --force \
  --train "$DATA"/train.txt.zst "$DATA"/train-extra.txt.zst "$DATA"/train-recased.txt.zst \
  "$DATA"/train-extra2.txt.zst "$OUT/v1-again.txt" --valid "$DATA"/valid.txt.zst
"$BIN" prepare --no-progress --tokenizer "$TOK" --out "$OUT/even" --force \
  --train "$OUT/valid-even.txt" >/dev/null
rm -rf "$OUT/valid-even" && mv "$OUT/even/train" "$OUT/valid-even" && rm -rf "$OUT/even"
