//! Logits of the native engine for given token ids, for comparing with other
//! implementations (scripts/interop-check.sh compares them with transformers).
//!
//! `cargo run -p slm-infer --example logits -- --model DIR --ids ids.json --out logits.f32`
//!
//! `ids.json` is a JSON array of token-id arrays. The output file holds, for each
//! sequence in order, `len × vocab_rows` little-endian f32 logits (every position);
//! stdout gets `{"vocab_rows": N, "lengths": [...]}`. With `--tokenize`, `--ids` is a
//! JSON array of strings instead and stdout gets `{"ids": [...]}` (the model's tokenizer).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use slm_infer::{NativeModel, NativeOptions, WeightDtype};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    ids: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// f32 keeps the file's numbers exactly (the reference precision).
    #[arg(long, default_value = "f32")]
    dtype: WeightDtype,
    /// Only tokenize: `--ids` holds strings.
    #[arg(long)]
    tokenize: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.tokenize {
        let texts: Vec<String> = serde_json::from_slice(&std::fs::read(&args.ids)?)?;
        let tok = slm_tokenizer::Tokenizer::from_file(args.model.join("tokenizer.json"))?;
        let ids = texts
            .iter()
            .map(|t| tok.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::json!({ "ids": ids }));
        return Ok(());
    }
    let seqs: Vec<Vec<u32>> = serde_json::from_slice(
        &std::fs::read(&args.ids).with_context(|| format!("reading {}", args.ids.display()))?,
    )?;
    let model = NativeModel::load_with(
        &args.model,
        &NativeOptions {
            weight_dtype: args.dtype,
            ..Default::default()
        },
    )?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    for ids in &seqs {
        for v in model.forward_full(ids)? {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()?;
    let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
    println!(
        "{}",
        serde_json::json!({"vocab_rows": model.vocab_rows(), "lengths": lengths})
    );
    Ok(())
}
