#!/usr/bin/env python3
"""Checks an instruction-tuned model directory's chat format from the outside: Hugging Face
transformers must read the declared `chat_template` and produce exactly the prompt slm's
server builds, and a greedy chat reply through transformers' generate() must equal slm's.

  python bench/chat_template_check.py --model models/tinystories-15m-chat \
      --generate-bin target/release/examples/generate --out bench/results/chat-template-check.json

Needs torch and transformers (scripts/interop-check.sh sets up such a venv).
"""
import argparse
import json
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

CONVERSATIONS = [
    [{"role": "user", "content": "Tell me a story about a brave little cat named Max."}],
    [{"role": "user", "content": 'Write a story with the words "moon", "jump" and "happy".'}],
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me a story about a dog."},
        {"role": "assistant", "content": "Once upon a time, there was a dog named Spot."},
        {"role": "user", "content": "Now tell me one about a bird named Kiki."},
    ],
]
TOKENS = 48


def expected_text(conv):
    """The format as docs/api.md and slm_tokenizer::chat define it."""
    out = ""
    for m in conv:
        if m["role"] == "user":
            out += "<|user|>" + m["content"]
        elif m["role"] == "assistant":
            out += "<|assistant|>" + m["content"] + "<|endoftext|>"
    return out + "<|assistant|>"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--generate-bin", required=True, help="slm-infer's `generate` example")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    stops = [tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|user|>", "<|assistant|>")]
    results = []
    for conv in CONVERSATIONS:
        text = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        ids = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=True, return_dict=False)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        plain = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=TOKENS,
                                 eos_token_id=stops, pad_token_id=stops[0])
        new = out[0, len(ids):].tolist()
        if new and new[-1] in stops:
            new = new[:-1]
        theirs = tok.decode(new)
        ours = subprocess.run([a.generate_bin, "--model", a.model, "--temperature", "0",
                               "--max-tokens", str(TOKENS), "--dtype", "f32", text],
                              check=True, capture_output=True, text=True).stdout
        assert ours.startswith(text) and ours.endswith("\n"), ours
        ours = ours[len(text):-1]
        results.append({
            "conversation": conv,
            "template_text_matches": text == expected_text(conv),
            "template_ids_match_plain_encoding": list(ids) == plain,
            "markers_are_single_tokens": all(s in ids for s in stops[1:]),
            "greedy_equal": theirs == ours,
            "transformers": theirs,
            "slm": ours,
        })
    ok = all(r["template_text_matches"] and r["template_ids_match_plain_encoding"]
             and r["markers_are_single_tokens"] and r["greedy_equal"] for r in results)
    report = {
        "model": a.model,
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "max_new_tokens": TOKENS,
        "all_ok": ok,
        "conversations": results,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(json.dumps({"all_ok": ok, "greedy_equal": sum(r["greedy_equal"] for r in results),
                      "of": len(results)}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
