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

# Load-test a running server (`just loadgen --url http://127.0.0.1:8080 --users 10`); bench/README.md.
loadgen *ARGS:
    cargo run --release -p slm-loadgen -- {{ARGS}}

# Full CI script.
ci:
    bash .ci/run

# The wgpu training path against the CPU one (software Vulkan when there is no GPU).
wgpu-parity STEPS="8":
    scripts/wgpu-parity.sh {{STEPS}}

# slm-infer's kernel tests on aarch64 (NEON) under qemu-user, and the wasm32+simd128 build.
cross-isa WHAT="all":
    scripts/cross-isa.sh {{WHAT}}

# Fuzz the server's API with schemathesis against its own /openapi.json (installs schemathesis in
# a venv outside the repo); writes bench/results/api-fuzz.json. `just api-fuzz --quick` is the ~10 s CI pass.
api-fuzz *ARGS:
    scripts/api-fuzz.sh {{ARGS}}

# Check a model directory against Hugging Face transformers and its GGUF exports against
# llama.cpp (sets up a venv and llama.cpp outside the repo); writes bench/results/interop.json.
interop-check MODEL="models/tinystories-15m":
    scripts/interop-check.sh {{MODEL}}

# The training-recipe study behind the bundled model (docs/training.md); bench/results/recipe-study.jsonl.
recipe-study STEPS="100":
    scripts/recipe-study.sh {{STEPS}}

# A GGUF file of the bundled model for llama.cpp.
gguf TYPE="q8_0" OUT="tinystories-15m.gguf":
    cargo run --release -p slm-train -- export --model models/tinystories-15m --format gguf --dtype {{TYPE}} --out {{OUT}}

# Validate deploy/: Kubernetes manifests against the schemas (kubernetes-validate), `haproxy -c`,
# `docker compose config` where installed. Part of scripts/test.sh.
deploy-check:
    deploy/check.sh

# Two slm-server replicas behind HAProxy in network namespaces under 20 users: metrics summed,
# one replica SIGKILLed, a rolling restart (root; ~2 min; installs Debian's haproxy);
# writes bench/replicas.json. Not in CI: it needs root's namespaces and minutes of both cores.
replicas-check:
    scripts/replicas-check.sh
