#!/usr/bin/env python3
"""slm and llama.cpp on the same weights, alternating in one run; prints JSON.

For each precision pair (slm f16 vs GGUF F16, slm q8 vs GGUF Q8_0) and each round:
  llama.cpp: llama-bench (-p 64 -n 128: prompt and single-stream decode tok/s) and
             llama-batched-bench (16-token prompts, 128 generated, 1/4/10/32 streams);
  slm:       crates/slm-infer/examples/bench (single stream, TTFT for a 64-token
             prompt, aggregate at 1/4/10/32 streams, raw batched step rate).
Peak RSS of llama.cpp's processes comes from wait4(), slm's from its bench's JSON (read
before its memory-bandwidth probe). Nothing else may run meanwhile.

    python bench/llama_cpp_compare.py --llama-bin /path/to/llama.cpp/build/bin \
        --gguf-f16 /tmp/ts15m-f16.gguf --gguf-q8 /tmp/ts15m-q8_0.gguf --slm-isa avx2 \
        --label avx2 > bench/results/llama-cpp-compare-avx2.json

The GGUFs come from `slm-train export --format gguf --model models/tinystories-15m
--dtype f16|q8_0 --out FILE` (tokenizer rows only, like slm's engine).
"""
import argparse
import json
import os
import platform
import subprocess
import time


def run(cmd):
    """Runs cmd, returns (stdout, peak RSS MiB, seconds)."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with {p.returncode}")
    return out, ru.ru_maxrss / 1024, time.time() - t0


def cpu_info():
    model, flags = None, []
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model is None:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line.split(":", 1)[1].split()
    simd = [f for f in flags if f.startswith(("avx", "sse4", "fma", "f16c", "neon", "asimd"))]
    return {"model": model, "arch": platform.machine(), "cores": os.cpu_count(), "simd_flags": simd}


def llama(binp, gguf, threads):
    out, rss, _ = run([f"{binp}/llama-bench", "-m", gguf, "-t", str(threads), "-p", "64", "-n", "128",
                       "-r", "3", "-o", "json"])
    res = {}
    for r in json.loads(out):
        key = "prompt_64_tokens_per_s" if r["n_prompt"] else "decode_tokens_per_s"
        res[key] = r["avg_ts"]
    res["ttft_ms_64_token_prompt"] = 64 / res["prompt_64_tokens_per_s"] * 1000
    res["llama_bench_peak_rss_mib"] = rss
    out, rss, _ = run([f"{binp}/llama-batched-bench", "-m", gguf, "-t", str(threads), "-c", "8192",
                       "-b", "2048", "-ub", "512", "-npp", "16", "-ntg", "128", "-npl", "1,4,10,32",
                       "--output-format", "jsonl"])
    agg = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            agg[f"streams_{r['pl']}"] = r["speed_tg"]
    res["aggregate_decode_tokens_per_s"] = agg
    res["batched_bench_peak_rss_mib"] = rss
    return res


def slm(bench, model, dtype, isa, threads):
    cmd = [bench, "--model", model, "--dtype", dtype, "--threads", str(threads)]
    if isa:
        cmd += ["--isa", isa]
    out, _, _ = run(cmd)
    d = json.loads(out)
    return {
        "isa": d["isa"],
        "decode_tokens_per_s": d["single_stream_decode_tokens_per_s"],
        "ttft_ms_64_token_prompt": d["ttft_ms_64_token_prompt"]["median"],
        "aggregate_decode_tokens_per_s": {k.replace("concurrency", "streams"): v["tokens_per_s"]
                                          for k, v in d["aggregate"].items()},
        "raw_batched_step_tokens_per_s": d["raw_model_step_tokens_per_s"],
        # The bench's own VmHWM, read before its 1 GiB bandwidth probe (wait4 would count it).
        "peak_rss_mib": d["peak_rss_mib"],
        "memory_read_gb_per_s": d.get("memory_read_gb_per_s"),
        "decode_share_of_read_bandwidth": d.get("single_stream_decode_share_of_read_bandwidth"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--gguf-f16", required=True)
    ap.add_argument("--gguf-q8", required=True)
    ap.add_argument("--slm-bench", default="target/release/examples/bench")
    ap.add_argument("--model", default="models/tinystories-15m")
    ap.add_argument("--slm-isa", default=None)
    ap.add_argument("--label", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    pairs = [("f16", a.gguf_f16), ("q8", a.gguf_q8)]
    rounds = []
    for _ in range(a.rounds):
        r = {}
        for dtype, gguf in pairs:
            r[dtype] = {"llama_cpp": llama(a.llama_bin, gguf, a.threads),
                        "slm": slm(a.slm_bench, a.model, dtype, a.slm_isa, a.threads)}
        rounds.append(r)

    def ratio(dtype, key):
        vals = [r[dtype]["slm"][key] / r[dtype]["llama_cpp"][key] for r in rounds]
        return {"min": min(vals), "max": max(vals)}

    summary = {}
    for dtype, _ in pairs:
        summary[dtype] = {
            "single_stream_decode_ratio_slm_over_llama_cpp": ratio(dtype, "decode_tokens_per_s"),
            "ttft_64_ratio_slm_over_llama_cpp": ratio(dtype, "ttft_ms_64_token_prompt"),
        }
    print(json.dumps({"label": a.label, "cpu": cpu_info(), "threads": a.threads,
                      "model": a.model, "ggufs": {"f16": a.gguf_f16, "q8_0": a.gguf_q8},
                      "summary": summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
