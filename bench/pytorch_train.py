"""PyTorch reference for `slm-train bench-train`: the same 15M Llama shape, batch and optimizer.

A comparison tool, not part of the project or its tests. It needs `torch` (not a project
dependency): `python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch`, then
`/tmp/torch/bin/python bench/pytorch_train.py --threads 2`. Prints one JSON line.

Shape: dim 288, 6 layers, 6 heads, SwiGLU hidden 768, vocabulary 32,000, tied embeddings,
RMSNorm, rotary embeddings; batch 8 x 256 random tokens; f32; AdamW (beta2 0.95, weight
decay 0.1 on matrices); full-vocabulary cross-entropy; no torch.compile.
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIM, LAYERS, HEADS, HIDDEN, VOCAB = 288, 6, 6, 768, 32_000


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq, theta=10_000.0):
    inv = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(seq).float(), inv)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm = RMSNorm(DIM)
        self.qkv = nn.Linear(DIM, 3 * DIM, bias=False)
        self.out = nn.Linear(DIM, DIM, bias=False)
        self.ffn_norm = RMSNorm(DIM)
        self.gate = nn.Linear(DIM, HIDDEN, bias=False)
        self.up = nn.Linear(DIM, HIDDEN, bias=False)
        self.down = nn.Linear(HIDDEN, DIM, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).split(DIM, dim=-1)
        shape = (b, t, HEADS, DIM // HEADS)
        q, k, v = (y.view(shape).transpose(1, 2) for y in (q, k, v))
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, DIM))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, seq):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = RMSNorm(DIM)
        cos, sin = rope_tables(DIM // HEADS, seq)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        return self.norm(x) @ self.embed.weight.T  # tied output head


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Llama(a.seq_len)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=5e-4,
        betas=(0.9, 0.95),
    )
    tokens = torch.randint(0, VOCAB, (a.batch, a.seq_len + 1))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    def step():
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "bench": "pytorch_train_step",
                "torch": torch.__version__,
                "threads": a.threads,
                "params": sum(p.numel() for p in model.parameters()),
                "batch": a.batch,
                "seq_len": a.seq_len,
                "timed_steps": a.steps,
                "step_ms": elapsed / a.steps * 1e3,
                "tokens_per_sec": a.batch * a.seq_len * a.steps / elapsed,
                "last_loss": loss,
            }
        )
    )


if __name__ == "__main__":
    main()
