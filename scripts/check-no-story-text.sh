#!/usr/bin/env bash
# Fails when a tracked file holds TinyStories text: the project's training text was gathered
# from other public repositories, so it lives in ../shared/datasets beside the checkout and
# is never committed (datasets/README.md). Story text is recognised by its container (a
# .txt.zst corpus) or by its separators (20 or more `<|endoftext|>` in one file).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  echo "story corpus committed: $f" >&2
  bad=1
done < <(git ls-files -- '*.txt.zst' '*.jsonl.zst' '*.json.zst')
# Candidates from git grep (files with any separator), then occurrences counted per file.
while IFS= read -r f; do
  n=$(grep -a -o -F '<|endoftext|>' -- "$f" | wc -l)
  if [ "$n" -ge 20 ]; then
    echo "story text committed: $f ($n <|endoftext|> separators)" >&2
    bad=1
  fi
done < <(git grep -l -a -F '<|endoftext|>' || true)
if [ "$bad" -ne 0 ]; then
  echo "Training text belongs in ../shared/datasets (datasets/README.md), not in the repository." >&2
  exit 1
fi
echo "no story text in tracked files"
