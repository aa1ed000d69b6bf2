#!/usr/bin/env bash
# Loads a model directory with Hugging Face transformers and its GGUF exports with
# unpatched llama.cpp, and checks they compute what slm computes (bench/interop_check.py).
# Result: bench/results/interop.json.
#
#   bash scripts/interop-check.sh [MODEL_DIR]        (default models/tinystories-15m)
#
# Set-up, all outside the repository and reused between runs:
# - a venv ($INTEROP_VENV, default ~/.cache/slm/interop-venv) with torch, transformers,
#   numpy and gguf from PyPI;
# - llama.cpp's llama-simple, built from the llama-cpp-python sdist on PyPI (its vendored
#   llama.cpp; ~10 min on 2 cores) unless $LLAMA_CPP_BIN names a folder that has it.
# Needs data/tinystories (slm-train prepare, README) for the validation cross-entropy.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/tinystories-15m}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/slm
VENV=${INTEROP_VENV:-$CACHE/interop-venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch transformers numpy gguf
fi

if [ -z "${LLAMA_CPP_BIN:-}" ]; then
  LLAMA_CPP_BIN=$CACHE/llama.cpp/build/bin
  if [ ! -x "$LLAMA_CPP_BIN/llama-simple" ]; then
    mkdir -p "$CACHE/sdist"
    "$VENV/bin/pip" download --quiet --no-deps --no-binary :all: llama-cpp-python -d "$CACHE/sdist"
    tar -xzf "$CACHE"/sdist/llama_cpp_python-*.tar.gz -C "$CACHE/sdist"
    rm -rf "$CACHE/llama.cpp"
    cp -r "$CACHE"/sdist/llama_cpp_python-*/vendor/llama.cpp "$CACHE/llama.cpp"
    "$VENV/bin/pip" install --quiet cmake ninja
    (cd "$CACHE/llama.cpp" && "$VENV/bin/cmake" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DLLAMA_CURL=OFF -DGGML_NATIVE=ON >/dev/null &&
      "$VENV/bin/cmake" --build build --target llama-simple)
  fi
fi

cargo build --quiet -p slm-train -p slm-infer --examples --bins
BIN=target/debug
for ty in f16 q8_0; do
  "$BIN/slm-train" export --model "$MODEL" --format gguf --dtype "$ty" --out "$WORK/model-$ty.gguf" 2>/dev/null
done
"$BIN/slm-train" eval --model "$MODEL" --data data/tinystories/valid 2>/dev/null >"$WORK/eval.json"

"$VENV/bin/python" bench/interop_check.py --model "$MODEL" \
  --valid-shard data/tinystories/valid/shard-00000.bin --slm-eval "$WORK/eval.json" \
  --logits-bin "$BIN/examples/logits" --generate-bin "$BIN/examples/generate" \
  --llama-simple "$LLAMA_CPP_BIN/llama-simple" \
  --gguf "f16=$WORK/model-f16.gguf" "q8_0=$WORK/model-q8_0.gguf" \
  --out bench/results/interop.json
