//! Writes a random-weight model of the default 15M shape (dim 288, 6 layers,
//! 6 heads, hidden 768, vocab 32000, context 512, f16) for load-testing the
//! server before a trained model exists. The tokenizer is taken from another
//! model directory (default: the tiny test model), so the text is gibberish
//! but every matrix has the real size and the timings are representative.
//!
//! `cargo run --release -p slm-server --example random_default_model -- --out /tmp/slm-random-15m`

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use slm_infer::{FileDtype, ModelConfig};
use slm_testdata::random_model;

#[derive(Parser)]
struct Args {
    /// Output model directory.
    #[arg(long)]
    out: PathBuf,
    /// Model directory whose tokenizer.json to reuse.
    #[arg(long, default_value = "models/tiny-random")]
    tokenizer_from: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tok_path = args.tokenizer_from.join("tokenizer.json");
    let tokenizer = slm_tokenizer::Tokenizer::from_file(&tok_path)
        .with_context(|| format!("reading {}", tok_path.display()))?;
    // The default ModelConfig is the bundled model's ~15M shape.
    let cfg = ModelConfig::default();
    random_model::write_random_model(&args.out, &cfg, FileDtype::F16, args.seed, &tokenizer)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} parameters)",
        args.out.display(),
        cfg.num_params()
    );
    Ok(())
}
