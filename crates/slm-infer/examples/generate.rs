//! Streams a completion to the terminal: story text on stdout, timings on stderr.
//!
//! `cargo run --release -p slm-infer --example generate -- --model models/tinystories-15m "Once upon a time"`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use slm_infer::{
    Engine, EngineOptions, GenerateRequest, Isa, SamplingParams, StreamEvent, WeightDtype,
};

#[derive(Parser)]
struct Args {
    /// Model directory.
    #[arg(long, default_value = "models/tinystories-15m")]
    model: PathBuf,
    #[arg(long)]
    seed: Option<u64>,
    /// Defaults to generation.json's max_tokens.
    #[arg(long)]
    max_tokens: Option<usize>,
    /// 0 = greedy. Defaults to generation.json.
    #[arg(long)]
    temperature: Option<f32>,
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long)]
    top_p: Option<f32>,
    /// Weight precision in memory: f16, q8, f32 or bf16.
    #[arg(long, default_value = "f16")]
    dtype: WeightDtype,
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Kernel instruction set (default: SLM_ISA, else the fastest available).
    #[arg(long)]
    isa: Option<Isa>,
    /// Stop sequences (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Cut at the last complete sentence when stopped by length.
    #[arg(long)]
    trim_to_sentence: bool,
    prompt: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let engine = Engine::load(
        &args.model,
        EngineOptions {
            weight_dtype: args.dtype,
            threads: args.threads,
            isa: args.isa,
            max_batch: 1,
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", args.model.display()))?;
    let defaults = engine.info().generation.clone();
    let req = GenerateRequest {
        prompt: args.prompt.clone(),
        max_tokens: args.max_tokens.unwrap_or(defaults.max_tokens),
        sampling: SamplingParams {
            temperature: args.temperature.unwrap_or(defaults.sampling.temperature),
            top_k: args.top_k.or(defaults.sampling.top_k),
            top_p: args.top_p.unwrap_or(defaults.sampling.top_p),
            ..defaults.sampling(args.seed)
        },
        stop: args.stop.clone(),
        trim_to_sentence: args.trim_to_sentence,
        ..Default::default()
    };
    let stream = engine.submit(req).context("submitting the request")?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", args.prompt)?;
    for ev in stream {
        match ev {
            StreamEvent::Delta(text) => {
                write!(out, "{text}")?;
                out.flush()?;
            }
            StreamEvent::Done(c) => {
                writeln!(out)?;
                eprintln!(
                    "[{}] finish={} prompt_tokens={} completion_tokens={} ttft={:.1}ms total={:.1}ms decode={:.1} tok/s",
                    engine.info().name,
                    c.finish_reason.as_str(),
                    c.usage.prompt_tokens,
                    c.usage.completion_tokens,
                    c.timings.ttft_ms,
                    c.timings.total_ms,
                    c.timings.decode_tokens_per_s
                );
                return Ok(());
            }
            StreamEvent::Token(_) => {}
            StreamEvent::Error(e) => bail!("generation failed: {e}"),
        }
    }
    bail!("the engine stopped before finishing")
}
