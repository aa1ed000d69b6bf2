#!/usr/bin/env bash
# Checks the GPU code path (`--features wgpu`, `--device wgpu`) against the CPU one: both
# continue the bundled model for the same steps on the same data, and the script prints one
# JSON line comparing their loss curves and final evaluation (bench/results/wgpu-parity.json).
#
# Without a GPU, wgpu runs on Mesa's software Vulkan device (lavapipe), installed here from
# Debian when missing: that checks the code path, not GPU speed. Not part of CI (the wgpu
# build takes ~16 minutes on 2 cores). Needs data/tinystories from `slm-train prepare`.
#
#   scripts/wgpu-parity.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-8}

if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi

target=${WGPU_TARGET_DIR:-target/wgpu}
cargo build --release -p slm-train
CARGO_TARGET_DIR=$target cargo build --release -p slm-train --features wgpu

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for device in flex wgpu; do
    bin=target/release/slm-train
    [ "$device" = wgpu ] && bin=$target/release/slm-train
    "$bin" train --config configs/tinystories-15m.toml --init-from models/tinystories-15m \
        --out "$out/$device" --device "$device" --max-steps "$steps" --micro-batch 2 \
        --accum-steps 2 --set batch.seq_len=64 --set model.dropout=0.0 \
        --eval-every "$steps" --checkpoint-every "$steps" --no-progress \
        >"$out/$device.log" 2>&1 || { tail -20 "$out/$device.log"; exit 1; }
done

python3 - "$out" "$steps" <<'EOF'
import json, os, sys
out, steps = sys.argv[1], int(sys.argv[2])
def records(device):
    rows = [json.loads(l) for l in open(f"{out}/{device}/metrics.jsonl")]
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert len(train) == steps and len(evals) == 1, (device, len(train), len(evals))
    return train, evals[0]
(cpu, cpu_eval), (gpu, gpu_eval) = records("flex"), records("wgpu")
rel = lambda a, b: abs(a - b) / abs(a)
result = {
    "check": "wgpu_vs_flex_training",
    "command": f"scripts/wgpu-parity.sh {steps}",
    "setup": "continue models/tinystories-15m, micro-batch 2 x 64 tokens, accum 2, no dropout",
    "steps": steps,
    "loss_flex": [r["loss"] for r in cpu],
    "loss_wgpu": [r["loss"] for r in gpu],
    "max_rel_loss_diff": max(rel(a["loss"], b["loss"]) for a, b in zip(cpu, gpu)),
    "max_rel_grad_norm_diff": max(rel(a["grad_norm"], b["grad_norm"]) for a, b in zip(cpu, gpu)),
    "eval_bits_per_byte": {"flex": cpu_eval["bits_per_byte"], "wgpu": gpu_eval["bits_per_byte"]},
    "same_samples": cpu_eval["samples"] == gpu_eval["samples"],
    "vulkan_drivers": sorted(os.listdir("/usr/share/vulkan/icd.d")),
}
print(json.dumps(result))
sys.exit(0 if result["max_rel_loss_diff"] < 1e-4 else 1)
EOF
