//! Bits per byte of a model on a text file, with the native engine at a
//! chosen weight precision and ISA; prints one JSON object. Used to check
//! that q8 weights stay within the stated bound of f16.
//!
//! `cargo run --release -p slm-infer --example eval_bpb -- --model models/tinystories-15m \
//!     --text ../shared/datasets/tinystories/valid.txt.zst --dtype q8`
//!
//! Stories (separated by `<|endoftext|>`) are tokenized, joined with the
//! end-of-text token and scored in non-overlapping windows of `--window`
//! tokens; each window's first token is context only. Bytes are the UTF-8
//! bytes of the tokens scored. Also prints the greedy continuation of five
//! fixed prompts, so precisions can be compared token for token.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::json;
use slm_data::{CorpusReader, Record};
use slm_infer::{
    Engine, EngineOptions, GenerateRequest, Isa, NativeModel, NativeOptions, SamplingParams,
    WeightDtype,
};
use slm_tokenizer::Tokenizer;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "models/tinystories-15m")]
    model: PathBuf,
    /// Corpus file as `slm-train prepare` reads it (`.txt` with `<|endoftext|>`
    /// separators, `.jsonl`, `.json`, optionally `.zst`).
    #[arg(long)]
    text: PathBuf,
    #[arg(long, default_value = "f16")]
    dtype: WeightDtype,
    #[arg(long)]
    isa: Option<Isa>,
    #[arg(long, default_value_t = 512)]
    window: usize,
    /// Score at most this many windows (0 = all).
    #[arg(long, default_value_t = 0)]
    max_windows: usize,
}

const PROMPTS: [&str; 5] = [
    "Once upon a time, there was a little girl named Lily.",
    "Tom and his dog went to the park.",
    "The sun was hot, and the children wanted to swim.",
    "Mia found a small box under her bed.",
    "One day, a big bear came to the village.",
];

fn main() -> Result<()> {
    let args = Args::parse();
    let tok = Tokenizer::from_file(args.model.join("tokenizer.json"))?;
    let reader = CorpusReader::open(&args.text)
        .with_context(|| format!("opening {}", args.text.display()))?;
    let mut ids = Vec::new();
    for record in reader {
        if let Record::Story(story) = record? {
            let story = story.trim();
            if !story.is_empty() {
                ids.extend(tok.encode(story)?);
                ids.push(tok.eot_id());
            }
        }
    }
    let model = NativeModel::load_with(
        &args.model,
        &NativeOptions {
            weight_dtype: args.dtype,
            isa: args.isa,
            vocab_rows: Some(tok.vocab_size()),
            ..Default::default()
        },
    )?;
    let t0 = Instant::now();
    let (mut nats, mut bytes, mut scored, mut windows) = (0f64, 0usize, 0usize, 0usize);
    for w in ids.chunks(args.window) {
        if w.len() < 2 || (args.max_windows > 0 && windows == args.max_windows) {
            break;
        }
        nats += model.nll_nats(w)?;
        bytes += w[1..]
            .iter()
            .map(|&t| tok.token_bytes(t).map_or(0, |b| b.len()))
            .sum::<usize>();
        scored += w.len() - 1;
        windows += 1;
    }
    let secs = t0.elapsed().as_secs_f64();

    let engine = Engine::load(
        &args.model,
        EngineOptions {
            weight_dtype: args.dtype,
            isa: args.isa,
            max_batch: 1,
            ..Default::default()
        },
    )?;
    let mut greedy = Vec::new();
    for p in PROMPTS {
        let c = engine.generate(GenerateRequest {
            prompt: p.to_string(),
            max_tokens: 64,
            sampling: SamplingParams {
                seed: Some(0),
                ..SamplingParams::greedy()
            },
            ..Default::default()
        })?;
        greedy.push(json!({"prompt": p, "text": c.text}));
    }
    engine.shutdown();

    let out = json!({
        "model": args.model.display().to_string(),
        "text": args.text.display().to_string(),
        "weight_dtype": args.dtype.name(),
        "isa": model.isa().name(),
        "weights_mib": model.weights_bytes() as f64 / (1 << 20) as f64,
        "window": args.window,
        "windows": windows,
        "tokens_scored": scored,
        "bytes_scored": bytes,
        "loss_nats_per_token": nats / scored as f64,
        "bits_per_byte": nats / std::f64::consts::LN_2 / bytes as f64,
        "seconds": secs,
        "greedy_64_tokens": greedy,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
