# Common tasks. `just --list` shows them.

# Run every test (Rust + browser), as CI does.
test:
    scripts/test.sh

# Rust tests only.
test-rust:
    cargo nextest run --workspace --features slm-infer/burn

# Lints: formatting and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --features slm-infer/burn -- -D warnings

fmt:
    cargo fmt --all

build:
    cargo build --release --workspace

# Start the API server + web UI with the bundled model on 127.0.0.1:8080.
serve *ARGS:
    cargo run --release -p slm-server -- {{ARGS}}

# Full CI script.
ci:
    bash .ci/run

# The wgpu training path against the CPU one (software Vulkan when there is no GPU).
wgpu-parity STEPS="8":
    scripts/wgpu-parity.sh {{STEPS}}

# slm-infer's kernel tests on aarch64 (NEON) under qemu-user, and the wasm32+simd128 build.
cross-isa WHAT="all":
    scripts/cross-isa.sh {{WHAT}}
