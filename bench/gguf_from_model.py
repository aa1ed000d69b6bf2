#!/usr/bin/env python3
"""Writes a GGUF file (llama architecture) from an slm model directory, for running the
same weights in llama.cpp side by side with slm (bench/llama_cpp_compare.py).

A stopgap until `slm-train export --format gguf` exists: needs the `gguf`, `numpy` and
`safetensors` PyPI packages (a venv outside the repo). The embedding/head keep only the
tokenizer's rows, as slm's engine does, so both compute the same logits.

    python bench/gguf_from_model.py models/tinystories-15m /tmp/ts15m-f16.gguf --type f16
    python bench/gguf_from_model.py models/tinystories-15m /tmp/ts15m-q8_0.gguf --type q8_0
"""
import argparse
import json
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file


def permute(w, n_head):
    # HF Llama (rotate-half RoPE) -> GGUF llama (interleaved pairs), as llama.cpp's converter does.
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--type", choices=["f32", "f16", "q8_0"], default="f16")
    a = ap.parse_args()

    cfg = json.loads((a.model_dir / "config.json").read_text())
    tok = json.loads((a.model_dir / "tokenizer.json").read_text())
    t = load_file(str(a.model_dir / "model.safetensors"))
    vocab = tok["model"]["vocab"]
    n_vocab = len(vocab)
    dim, n_head, n_kv = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]

    w = gguf.GGUFWriter(str(a.out), "llama")
    w.add_name(a.model_dir.name)
    w.add_context_length(cfg["max_seq_len"])
    w.add_embedding_length(dim)
    w.add_block_count(cfg["n_layers"])
    w.add_feed_forward_length(cfg["hidden_dim"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(dim // n_head)
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["norm_eps"])
    w.add_vocab_size(n_vocab)
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[a.type]
    w.add_file_type(ftype)

    tokens = [None] * n_vocab
    for s, i in vocab.items():
        tokens[i] = s
    special = {x["id"] for x in tok["added_tokens"] if x.get("special")}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL
                       for i in range(n_vocab)])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
    eot = min(special)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_add_bos_token(False)

    def mat(name, arr):
        arr = arr.astype(np.float32)
        if a.type == "f32":
            w.add_tensor(name, arr)
        elif a.type == "f16":
            w.add_tensor(name, arr.astype(np.float16))
        else:
            q = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def vec(name, arr):
        w.add_tensor(name, arr.astype(np.float32))

    mat("token_embd.weight", t["model.embed_tokens.weight"][:n_vocab])
    if not cfg.get("tied", True):
        mat("output.weight", t["lm_head.weight"][:n_vocab])
    vec("output_norm.weight", t["model.norm.weight"])
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        vec(f"blk.{i}.attn_norm.weight", t[p + "input_layernorm.weight"])
        mat(f"blk.{i}.attn_q.weight", permute(t[p + "self_attn.q_proj.weight"], n_head))
        mat(f"blk.{i}.attn_k.weight", permute(t[p + "self_attn.k_proj.weight"], n_kv))
        mat(f"blk.{i}.attn_v.weight", t[p + "self_attn.v_proj.weight"])
        mat(f"blk.{i}.attn_output.weight", t[p + "self_attn.o_proj.weight"])
        vec(f"blk.{i}.ffn_norm.weight", t[p + "post_attention_layernorm.weight"])
        mat(f"blk.{i}.ffn_gate.weight", t[p + "mlp.gate_proj.weight"])
        mat(f"blk.{i}.ffn_up.weight", t[p + "mlp.up_proj.weight"])
        mat(f"blk.{i}.ffn_down.weight", t[p + "mlp.down_proj.weight"])

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {a.out} ({a.type}, {n_vocab} vocabulary rows)")


if __name__ == "__main__":
    main()
