//! `slm-train tokenizer`: train only the tokenizer and write tokenizer.json.

use std::path::PathBuf;

use anyhow::Context;
use slm_data::{CleanOptions, Cleaner};
use slm_tokenizer::TrainOptions;

use crate::byte_size::parse_byte_size;

#[derive(clap::Args)]
pub struct Args {
    /// Corpus files (.txt with <|endoftext|> separators, .jsonl, .json; optionally .zst).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Where to write tokenizer.json.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub train: TokenizerTrainArgs,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// How to train a tokenizer (shared by `tokenizer` and `prepare`).
#[derive(clap::Args, Debug)]
pub struct TokenizerTrainArgs {
    /// Vocabulary size, including the 256 byte tokens and <|endoftext|> (at most 65536:
    /// shards store u16 ids).
    #[arg(long, default_value_t = 32_000)]
    pub vocab_size: usize,
    /// Minimum pair frequency for a BPE merge.
    #[arg(long, default_value_t = 2)]
    pub min_frequency: u64,
    /// Train on at most this much cleaned text (e.g. 200M), so it finishes in minutes even
    /// on the full dataset.
    #[arg(long, default_value = "200M", value_parser = parse_byte_size)]
    pub sample_bytes: u64,
}

impl TokenizerTrainArgs {
    pub fn options(&self, show_progress: bool) -> TrainOptions {
        TrainOptions {
            vocab_size: self.vocab_size,
            min_frequency: self.min_frequency,
            show_progress,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let options = args.train.options(!args.no_progress);
    let (tok, used) = slm_data::train_tokenizer(
        &args.input,
        Cleaner::new(CleanOptions::default()),
        &options,
        args.train.sample_bytes,
        !args.no_progress,
    )
    .context("training the tokenizer")?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    tok.save(&args.out)?;
    let summary = serde_json::json!({
        "out": args.out,
        "vocab_size": tok.vocab_size(),
        "eot_id": tok.eot_id(),
        "hash": tok.content_hash(),
        "sample_bytes": used,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
