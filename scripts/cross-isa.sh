#!/usr/bin/env bash
# Runs slm-infer's kernel and native-model tests on aarch64 (NEON) under qemu-user, and
# builds the engine for wasm32 with SIMD128. Installs the Rust targets, Debian's cross
# linker and qemu when missing. Not part of CI (a cold aarch64 build takes ~10 minutes
# on 2 cores); run it after touching crates/slm-infer/src/kernels/.
#
#   scripts/cross-isa.sh            # both
#   scripts/cross-isa.sh aarch64    # or: wasm32
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

need_apt=()
command -v qemu-aarch64 >/dev/null 2>&1 || need_apt+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if [ "$what" != wasm32 ] && [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

if [ "$what" = all ] || [ "$what" = aarch64 ]; then
  rustup target add aarch64-unknown-linux-gnu
  echo "== slm-infer tests on aarch64 (NEON) under qemu-user"
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
  export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
  # The lib tests check every ISA the CPU has against the portable path; native_forward
  # runs the whole model on each and checks batching stays bit-exact.
  cargo test -p slm-infer --target aarch64-unknown-linux-gnu --lib --test native_forward
fi

if [ "$what" = all ] || [ "$what" = wasm32 ]; then
  rustup target add wasm32-unknown-unknown
  echo "== slm-infer for wasm32 + simd128"
  RUSTFLAGS='-C target-feature=+simd128 --cfg getrandom_backend="wasm_js"' \
    cargo build -p slm-infer --lib --release --target wasm32-unknown-unknown
fi
echo "cross-ISA checks passed"
