#!/usr/bin/env python3
"""Function-preserving growth of a model directory: more layers, a vocabulary cut to the
tokenizer.

Used once to start the bundled 12-layer model's training from the earlier 6-layer weights
(models/tinystories-15m/MODEL_CARD.md). The input model has 32,000 embedding rows of which
the tokenizer uses the first N; the output keeps those N rows plus padding up to a multiple of
64 (padding rows drawn small and random; training pushes their logits down because the loss
then covers every row). Depth: after every layer i a copy of it is inserted whose output
projections (o_proj, down_proj) are zero, so the new block adds nothing to the residual
stream until training moves those weights: the grown model computes exactly the same
function as the input on the tokenizer's rows.

    python3 scripts/grow_model.py --src models/tinystories-15m --out runs/grown \
        --depth-factor 2 --vocab-multiple 64

Needs numpy and safetensors (pip install numpy safetensors). Reads config.json in the Hugging
Face schema or the older one and writes the same schema back, with f32 weights.
"""

import argparse
import json
import os
import shutil

import numpy as np
from safetensors.numpy import load_file, save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--depth-factor", type=int, default=2)
    ap.add_argument("--vocab-multiple", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.src, "config.json")))
    tok = json.load(open(os.path.join(args.src, "tokenizer.json")))
    used = len(tok["model"]["vocab"]) + sum(
        1 for t in tok.get("added_tokens", []) if t["id"] >= len(tok["model"]["vocab"])
    )
    rows = -(-used // args.vocab_multiple) * args.vocab_multiple
    if rows > cfg["vocab_size"]:
        raise SystemExit(f"tokenizer has {used} tokens, more than the model's {cfg['vocab_size']} rows")
    w = {k: v.astype(np.float32) for k, v in load_file(os.path.join(args.src, "model.safetensors")).items()}

    rng = np.random.default_rng(args.seed)
    emb = w["model.embed_tokens.weight"]
    new_emb = np.empty((rows, emb.shape[1]), np.float32)
    new_emb[:used] = emb[:used]
    new_emb[used:] = rng.normal(0.0, 0.02, (rows - used, emb.shape[1]))
    out = {"model.embed_tokens.weight": new_emb, "model.norm.weight": w["model.norm.weight"]}
    if "lm_head.weight" in w:
        raise SystemExit("untied heads are not supported by this script")

    layers_key = "num_hidden_layers" if "model_type" in cfg else "n_layers"  # HF or older keys
    n = cfg[layers_key]
    k = args.depth_factor
    for i in range(n):
        src = {name[len(f"model.layers.{i}."):]: t for name, t in w.items() if name.startswith(f"model.layers.{i}.")}
        for c in range(k):
            j = i * k + c
            for name, t in src.items():
                t = t.copy()
                if c > 0 and name in ("self_attn.o_proj.weight", "mlp.down_proj.weight"):
                    t[:] = 0.0
                out[f"model.layers.{j}.{name}"] = t

    os.makedirs(args.out, exist_ok=True)
    save_file(out, os.path.join(args.out, "model.safetensors"))
    cfg = dict(cfg, **{layers_key: n * k, "vocab_size": rows})
    json.dump(cfg, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    shutil.copy(os.path.join(args.src, "tokenizer.json"), args.out)
    params = sum(t.size for t in out.values())
    print(json.dumps({"out": args.out, "n_layers": n * k, "vocab_size": rows, "tokenizer_tokens": used, "params": int(params)}))


if __name__ == "__main__":
    main()
