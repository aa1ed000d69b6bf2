#!/usr/bin/env python3
"""Checks a model directory from the outside: Hugging Face transformers and llama.cpp must
load it unmodified and compute what slm computes. Run through scripts/interop-check.sh,
which sets up the tools; prints and writes one JSON result.

Checks:
- transformers: AutoTokenizer/AutoModelForCausalLM load the directory as is; token ids equal
  ours; logits equal slm's native engine (f32) within 1e-3 of the logit range; greedy
  text (8 prompts x 40 tokens, generate()) equals slm's; generate() stops by itself at the
  end of a story; cross-entropy on the validation windows equals `slm-train eval`'s.
- llama.cpp (unpatched): the GGUF files from `slm-train export --format gguf` (f16, q8_0)
  load in llama-simple; greedy text compared with slm at the same precision class (f16:
  identical expected; q8_0: llama.cpp also quantises the activations to 8 bits in its
  Q8_0 dot products while slm's q8 keeps them f32, so texts may part after a while; the
  result records where).
"""
import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "Once upon a time, there was a little girl named Lily.",
    "Tom and his dog went to the park.",
    "The sun was hot, and the children wanted to swim.",
    "Mia found a small box under her bed.",
    "One day, a big bear came to the village.",
    "Ben wanted to fly like a bird.",
    "The little car was sad because",
    "Anna and her mom baked a cake.",
]
TOKENS = 40


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def ours_greedy(a, prompt, dtype):
    out = run([a.generate_bin, "--model", a.model, "--temperature", "0", "--max-tokens",
               str(TOKENS), "--dtype", dtype, prompt]).stdout
    assert out.startswith(prompt) and out.endswith("\n"), out
    return out[len(prompt):-1]  # the example ends its output with a newline


def llama_greedy(a, gguf, prompt):
    # llama-simple: greedy sampling, prints the prompt and the continuation on stdout.
    out = run([a.llama_simple, "-m", gguf, "-n", str(TOKENS), prompt]).stdout
    assert out.startswith(prompt) and out.endswith("\n"), out
    return out[len(prompt):-1]  # llama-simple ends its output with a newline


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--valid-shard", required=True, help="prepared valid/shard-00000.bin")
    ap.add_argument("--slm-eval", required=True, help="JSON line of `slm-train eval` on it")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--logits-bin", required=True)
    ap.add_argument("--generate-bin", required=True)
    ap.add_argument("--llama-simple")
    ap.add_argument("--gguf", nargs="*", default=[], help="TYPE=PATH, e.g. f16=/tmp/m.gguf")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    result = {"model": a.model, "transformers": {}, "llama_cpp": {}}
    t0 = time.time()

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    import transformers
    result["versions"] = {"transformers": transformers.__version__, "torch": torch.__version__}
    hf = result["transformers"]
    hf["loaded_unmodified"] = True
    hf["class"] = type(model).__name__

    ids = [tok(p)["input_ids"] for p in PROMPTS]
    ours_ids = json.loads(run([a.logits_bin, "--model", a.model, "--ids", "/dev/stdin",
                               "--out", "/dev/null", "--tokenize"], input=json.dumps(PROMPTS)).stdout)["ids"]
    hf["token_ids_equal"] = ids == ours_ids

    # Logits, every position of every prompt.
    with open("/tmp/slm-interop-ids.json", "w") as f:
        json.dump(ids, f)
    meta = json.loads(run([a.logits_bin, "--model", a.model, "--ids", "/tmp/slm-interop-ids.json",
                           "--out", "/tmp/slm-interop-logits.f32"]).stdout)
    flat = np.fromfile("/tmp/slm-interop-logits.f32", dtype="<f4")
    rows = meta["vocab_rows"]
    worst = 0.0
    at = 0
    for seq in ids:
        ours = flat[at:at + len(seq) * rows].reshape(len(seq), rows)
        at += len(seq) * rows
        with torch.no_grad():
            theirs = model(torch.tensor([seq])).logits[0, :, :rows].numpy()
        rel = float(np.abs(ours - theirs).max() / (theirs.max() - theirs.min()))
        worst = max(worst, rel)
    hf["logits_max_rel_diff"] = worst
    hf["logits_ok"] = worst <= 1e-3

    # Greedy text through generate(), which must stop on its own at the end of a story.
    same = 0
    greedy = []
    for p, seq in zip(PROMPTS, ids):
        with torch.no_grad():
            out = model.generate(torch.tensor([seq]), do_sample=False, max_new_tokens=TOKENS)
        theirs = tok.decode(out[0, len(seq):], skip_special_tokens=True)
        ours = ours_greedy(a, p, "f32")
        same += theirs == ours
        greedy.append({"prompt": p, "slm": ours, "transformers": theirs})
    hf["greedy_identical"] = f"{same}/{len(PROMPTS)}"
    hf["greedy"] = greedy
    with torch.no_grad():
        out = model.generate(torch.tensor([tok("Once upon a time")["input_ids"]]), do_sample=True,
                             max_new_tokens=400, generator=None)
    hf["generate_stops_at_eos"] = bool(out[0, -1].item() == model.generation_config.eos_token_id
                                       and out.shape[1] < 4 + 400)

    # Cross-entropy on the validation windows, exactly as `slm-train eval` cuts them.
    tokens = np.fromfile(a.valid_shard, dtype="<u2").astype(np.int64)
    nll, count = 0.0, 0
    start = 0
    with torch.no_grad():
        while start + 1 < len(tokens):
            w = torch.tensor(tokens[start:start + a.seq_len + 1])[None]
            logits = model(w[:, :-1]).logits[0].double()
            nll += torch.nn.functional.cross_entropy(logits, w[0, 1:], reduction="sum").item()
            count += w.shape[1] - 1
            start += a.seq_len
    slm = json.loads(open(a.slm_eval).read())
    hf["valid_loss"] = nll / count
    hf["valid_tokens"] = count
    hf["slm_valid_loss"] = slm["loss"]
    hf["valid_loss_abs_diff"] = abs(nll / count - slm["loss"])
    hf["valid_loss_ok"] = count == slm["tokens"] and abs(nll / count - slm["loss"]) < 1e-3

    # llama.cpp on the GGUF exports.
    for spec in a.gguf:
        ty, path = spec.split("=", 1)
        ours_dtype = {"f16": "f16", "f32": "f32", "q8_0": "q8"}[ty]
        same = 0
        rows_ = []
        for p in PROMPTS:
            theirs = llama_greedy(a, path, p)
            ours = ours_greedy(a, p, ours_dtype)
            same += theirs == ours
            common = next((i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y),
                          min(len(ours), len(theirs)))
            rows_.append({"prompt": p, "slm": ours, "llama_cpp": theirs,
                          "same_chars_before_parting": common})
        result["llama_cpp"][ty] = {"file": path, "greedy_identical": f"{same}/{len(PROMPTS)}",
                                   "slm_dtype": ours_dtype, "greedy": rows_}
    result["seconds"] = time.time() - t0
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    summary = {k: v for k, v in hf.items() if k != "greedy"}
    summary["llama_cpp"] = {k: v["greedy_identical"] for k, v in result["llama_cpp"].items()}
    print(json.dumps(summary, indent=2))
    ok = hf["token_ids_equal"] and hf["logits_ok"] and hf["valid_loss_ok"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
