//! Inference benchmark; prints one JSON object on stdout.
//!
//! `cargo run --release -p slm-infer --example bench -- --random-default`
//! `cargo run --release -p slm-infer --example bench -- --model models/tinystories-15m`
//!
//! Measures, through the public engine API (sampling, streaming and
//! scheduling included): single-stream decode tokens/s, time to first token
//! for a 64-token prompt, aggregate tokens/s at 1/4/10/32 concurrent
//! sequences and peak RSS; plus the raw model step rate at the same batch
//! sizes and the sampler's cost on a 32,000-entry vocabulary and on the
//! tokenizer's (the rows the engine computes logits for and samples); and the
//! memory read bandwidth of this machine (a buffer far larger than any cache,
//! and one the size of the weights), with single-stream decode as a share of
//! it: every decode step reads every weight once.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;
use slm_infer::{
    DecodeModel, Engine, EngineOptions, FileDtype, GenerateRequest, Isa, ModelConfig, NativeModel,
    NativeOptions, Sampler, SamplingParams, SeqWork, StreamEvent, WeightDtype,
};
use slm_testdata::random_model;
use slm_tokenizer::{Tokenizer, TrainOptions};

#[derive(Parser)]
struct Args {
    /// Model directory to benchmark.
    #[arg(long, default_value = "models/tinystories-15m")]
    model: PathBuf,
    /// Benchmark a random-weight model of the default 15M shape (dim 288,
    /// 6 layers, 6 heads, hidden 768, vocab 32000, context 512, f16 file)
    /// written to a temporary directory instead of `--model`.
    #[arg(long)]
    random_default: bool,
    /// Weight precision in memory.
    #[arg(long, default_value = "f16")]
    dtype: WeightDtype,
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Kernel instruction set (default: SLM_ISA, else the fastest available).
    #[arg(long)]
    isa: Option<Isa>,
    /// Tokens generated per sequence in the throughput runs.
    #[arg(long, default_value_t = 128)]
    gen_tokens: usize,
}

const TEXT: &str = "Once upon a time, there was a little girl named Lily. She liked to play \
outside in the sun with her dog Max. One day, they found a big red ball in the park. \"Can I \
play too?\" asked a small boy. Lily smiled and said, \"Yes! Let's play together.\" The end.";

/// A prompt of exactly `n` tokens (text repeated and cut at token level).
fn prompt_of(tok: &Tokenizer, n: usize) -> Result<String> {
    let mut text = TEXT.to_string();
    while tok.encode(&text)?.len() < n {
        text.push(' ');
        text.push_str(TEXT);
    }
    let ids = tok.encode(&text)?;
    let s = tok.decode(&ids[..n])?;
    Ok(s)
}

/// The default sampling settings (temperature 0.8, top-p 0.95), seeded.
fn sampling(seed: u64) -> SamplingParams {
    SamplingParams {
        seed: Some(seed),
        ..Default::default()
    }
}

/// Runs `n` concurrent requests; returns (tokens, seconds, mean decode tok/s per stream).
fn run_concurrent(
    engine: &Engine,
    n: usize,
    prompt: &str,
    max_tokens: usize,
) -> Result<(usize, f64, f64)> {
    let start = Instant::now();
    let streams = (0..n)
        .map(|i| {
            engine.submit(GenerateRequest {
                prompt: prompt.to_string(),
                max_tokens,
                sampling: sampling(1000 + i as u64),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut tokens = 0;
    let mut per_stream = 0.0;
    for s in streams {
        for ev in s {
            match ev {
                StreamEvent::Done(c) => {
                    tokens += c.usage.completion_tokens;
                    per_stream += c.timings.decode_tokens_per_s;
                }
                StreamEvent::Error(e) => bail!("generation failed: {e}"),
                StreamEvent::Delta(_) | StreamEvent::Token(_) => {}
            }
        }
    }
    Ok((tokens, start.elapsed().as_secs_f64(), per_stream / n as f64))
}

/// The 1-minute load average: this shared machine runs other builds, and
/// their load shows up directly in the timings.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let load_at_start = load_average();
    let tmp = tempfile::tempdir()?;
    let dir = if args.random_default {
        write_random_default(tmp.path())?;
        tmp.path().to_path_buf()
    } else {
        args.model.clone()
    };
    // The engine computes logits only for the tokenizer's rows; so does the raw run.
    let tok_path = dir.join("tokenizer.json");
    let vocab_rows = Tokenizer::from_file(&tok_path)
        .with_context(|| format!("reading {}", tok_path.display()))?
        .vocab_size();
    let raw = raw_step_rates(&args, &dir, vocab_rows)?;
    // Sampler cost per token on a full 32k vocabulary and on the tokenizer's, which is
    // what the engine samples.
    let (sampler_us_32k, sampler_us_active) = (sampler_us(32000), sampler_us(vocab_rows));
    let engine = Engine::load(
        &dir,
        EngineOptions {
            weight_dtype: args.dtype,
            threads: args.threads,
            isa: args.isa,
            max_batch: 32,
            queue_capacity: 64,
            ..Default::default()
        },
    )
    .context("loading the engine")?;
    let served = engine_runs(&engine, args.gen_tokens)?;
    let stats = engine.stats();
    engine.shutdown();

    let memory = slm_observe::ProcessMemory::of(None);
    // After the RSS reading: the probe's 1 GiB buffer would be the peak.
    let bandwidth = Bandwidth::measure(raw.weights_bytes, raw.threads);
    const MIB: f64 = 1024.0 * 1024.0;
    let out = json!({
        "model": if args.random_default { "random-default (dim 288, 6 layers, 6/6 heads, hidden 768, vocab 32000, seq 512)".to_string() } else { dir.display().to_string() },
        "n_params": raw.config.num_params(),
        "vocab_size": raw.config.vocab_size,
        "logit_rows_computed": vocab_rows,
        "weight_dtype": args.dtype.name(),
        "isa": raw.isa.name(),
        "cpu": slm_observe::cpu::detect(),
        "cpu_isas_available": Isa::available().iter().map(|i| i.name()).collect::<Vec<_>>(),
        "threads": raw.threads,
        "single_stream_decode_tokens_per_s": served.single_stream,
        "ttft_ms_64_token_prompt": served.ttft,
        "aggregate": served.aggregate,
        "raw_model_step_tokens_per_s": raw.rates,
        "weight_bytes_read_per_token": raw.weights_bytes,
        "memory_read_gb_per_s": {
            "buffer_1_gib": bandwidth.large,
            "buffer_of_the_weights_size": bandwidth.weights_size,
            "threads": raw.threads,
        },
        "single_stream_decode_weight_read_gb_per_s": served.single_stream * raw.weights_bytes as f64 / 1e9,
        "single_stream_decode_share_of_read_bandwidth": {
            "buffer_1_gib": served.single_stream * raw.weights_bytes as f64 / 1e9 / bandwidth.large,
            "buffer_of_the_weights_size": served.single_stream * raw.weights_bytes as f64 / 1e9 / bandwidth.weights_size,
        },
        "sampler_us_per_token_vocab_32000_top_p": sampler_us_32k,
        "sampler_us_per_token_active_vocab_top_p": sampler_us_active,
        "peak_rss_mib": memory.map(|m| m.peak_rss_bytes as f64 / MIB),
        "rss_mib_at_end": memory.map(|m| m.rss_bytes as f64 / MIB),
        "tokens_generated": stats.tokens_generated,
        "load_average_1m": {"start": load_at_start, "end": load_average(), "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)},
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// A model of the default ~15M shape with random weights and a small tokenizer, in `dir`.
fn write_random_default(dir: &Path) -> Result<()> {
    let tok = Tokenizer::train_from_iter(
        TEXT.split(". "),
        &TrainOptions {
            vocab_size: 400,
            min_frequency: 1,
            ..Default::default()
        },
    )?;
    random_model::write_random_model(dir, &ModelConfig::default(), FileDtype::F16, 7, &tok)
}

/// How fast this machine streams memory into `threads` cores, GB/s (best of 5).
struct Bandwidth {
    /// A 1 GiB buffer: main memory on any machine with less cache than that.
    large: f64,
    /// A buffer the size of the weights: what a decode step reads, wherever it lives.
    weights_size: f64,
}

impl Bandwidth {
    fn measure(weights_bytes: usize, threads: usize) -> Bandwidth {
        Bandwidth {
            large: read_gb_per_s(1 << 30, threads),
            weights_size: read_gb_per_s(weights_bytes, threads),
        }
    }
}

/// Reads a `bytes` buffer with `threads` threads, each summing its own part with
/// eight independent accumulators (so loads, not additions, set the pace).
fn read_gb_per_s(bytes: usize, threads: usize) -> f64 {
    let buf: Vec<u64> = (0..bytes / 8).map(|i| i as u64).collect();
    let part = buf.len().div_ceil(threads.max(1));
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(part)
                .map(|chunk| {
                    s.spawn(move || {
                        let mut acc = [0u64; 8];
                        for c in chunk.chunks_exact(8) {
                            for (a, v) in acc.iter_mut().zip(c) {
                                *a = a.wrapping_add(*v);
                            }
                        }
                        acc.iter().fold(0u64, |a, v| a.wrapping_add(*v))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0, u64::wrapping_add)
        });
        std::hint::black_box(total);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    (bytes / 8 * 8) as f64 / best / 1e9
}

/// The raw model's step rate (no sampling, no scheduling) at batch 1, 4, 10 and 32.
struct RawRates {
    rates: serde_json::Map<String, serde_json::Value>,
    isa: Isa,
    threads: usize,
    config: ModelConfig,
    weights_bytes: usize,
}

fn raw_step_rates(args: &Args, dir: &Path, vocab_rows: usize) -> Result<RawRates> {
    let native = std::sync::Arc::new(
        NativeModel::load_with(
            dir,
            &NativeOptions {
                weight_dtype: args.dtype,
                threads: args.threads,
                isa: args.isa,
                vocab_rows: Some(vocab_rows),
            },
        )
        .context("loading the model")?,
    );
    let mut rates = serde_json::Map::new();
    let mut dec = native.clone().decoder(32);
    let mut logits = vec![0f32; 32 * vocab_rows];
    for &b in &[1usize, 4, 10, 32] {
        let prompt: Vec<u32> = (0..16).map(|i| (i * 7 + 3) % vocab_rows as u32).collect();
        for s in 0..b {
            dec.step(
                &[SeqWork {
                    slot: s,
                    tokens: &prompt,
                    start_pos: 0,
                    want_logits: false,
                }],
                &mut logits,
            )?;
        }
        let steps = 64;
        let toks: Vec<[u32; 1]> = (0..b)
            .map(|i| [(i as u32 * 13) % vocab_rows as u32])
            .collect();
        let t0 = Instant::now();
        for st in 0..steps {
            let batch: Vec<SeqWork> = (0..b)
                .map(|s| SeqWork {
                    slot: s,
                    tokens: &toks[s],
                    start_pos: 16 + st,
                    want_logits: true,
                })
                .collect();
            dec.step(&batch, &mut logits)?;
        }
        let secs = t0.elapsed().as_secs_f64();
        rates.insert(format!("batch_{b}"), json!((b * steps) as f64 / secs));
    }
    Ok(RawRates {
        rates,
        isa: native.isa(),
        threads: native.threads(),
        config: native.config().clone(),
        weights_bytes: native.weights_bytes(),
    })
}

/// Microseconds per sampled token over `vocab` logits with the default settings.
fn sampler_us(vocab: usize) -> f64 {
    let logits: Vec<f32> = (0..vocab)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
        .collect();
    let mut s = Sampler::new(sampling(1), 1);
    let n = 200;
    let t0 = Instant::now();
    for _ in 0..n {
        std::hint::black_box(s.sample(&logits));
    }
    t0.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// What a user of the engine sees: first-token time, single-stream and aggregate rates.
struct Served {
    ttft: serde_json::Value,
    single_stream: f64,
    aggregate: serde_json::Map<String, serde_json::Value>,
}

fn engine_runs(engine: &Engine, gen_tokens: usize) -> Result<Served> {
    let tok = engine.tokenizer().clone();
    let short = prompt_of(&tok, 16)?;
    // Time to first token for a 64-token prompt: median of 9, engine idle.
    let p64 = prompt_of(&tok, 64)?;
    let mut ttfts = Vec::new();
    let mut p64_tokens = 0;
    for i in 0..9 {
        let c = engine.generate(GenerateRequest {
            prompt: p64.clone(),
            max_tokens: 1,
            sampling: sampling(i),
            ..Default::default()
        })?;
        p64_tokens = c.usage.prompt_tokens;
        ttfts.push(c.timings.ttft_ms);
    }
    ttfts.sort_by(f64::total_cmp);
    // Single stream: decode rate reported by the engine, mean of 3 runs.
    let mut single_stream = 0.0;
    for _ in 0..3 {
        single_stream += run_concurrent(engine, 1, &short, gen_tokens.max(256))?.2 / 3.0;
    }
    let mut aggregate = serde_json::Map::new();
    for &n in &[1usize, 4, 10, 32] {
        let (tokens, secs, per) = run_concurrent(engine, n, &short, gen_tokens)?;
        aggregate.insert(
            format!("concurrency_{n}"),
            json!({"tokens": tokens, "seconds": secs, "tokens_per_s": tokens as f64 / secs, "per_stream_decode_tokens_per_s": per}),
        );
    }
    Ok(Served {
        ttft: json!({"median": ttfts[ttfts.len() / 2], "min": ttfts[0], "max": ttfts[ttfts.len() - 1], "prompt_tokens": p64_tokens}),
        single_stream,
        aggregate,
    })
}
