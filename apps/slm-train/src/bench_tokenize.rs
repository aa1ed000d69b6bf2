//! `slm-train bench-tokenize`: tokenization throughput on a real corpus, as JSON.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use slm_data::{CleanOptions, Cleaner, StoryStream};
use slm_tokenizer::{Tokenizer, TrainOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Corpus file to tokenize (any supported format). It is read and cleaned
    /// first; only the tokenization itself is timed.
    #[arg(long)]
    pub input: PathBuf,
    /// tokenizer.json to use; without it a tokenizer is trained on --input first.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Vocabulary size when a tokenizer has to be trained.
    #[arg(long, default_value_t = 32_000)]
    pub vocab_size: usize,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut stream = StoryStream::new(
        std::slice::from_ref(&args.input),
        Cleaner::new(CleanOptions::default()),
        indicatif::ProgressBar::hidden(),
    );
    let stories: Vec<String> = stream.by_ref().collect();
    if let Some(e) = stream.take_error() {
        return Err(e).with_context(|| format!("reading {}", args.input.display()));
    }
    anyhow::ensure!(
        !stories.is_empty(),
        "{} contains no stories",
        args.input.display()
    );
    let tok = match &args.tokenizer {
        Some(p) => Tokenizer::from_file(p)?,
        None => Tokenizer::train_from_iter(
            stories.iter(),
            &TrainOptions {
                vocab_size: args.vocab_size,
                ..TrainOptions::default()
            },
        )?,
    };
    let bytes: u64 = stories.iter().map(|s| s.len() as u64).sum();
    let mut best = f64::INFINITY;
    let mut tokens = 0u64;
    for _ in 0..args.repeat.max(1) {
        let t = Instant::now();
        let counts: Vec<usize> = stories
            .par_iter()
            .map(|s| tok.encode(s).map(|ids| ids.len() + 1))
            .collect::<Result<_, _>>()?;
        best = best.min(t.elapsed().as_secs_f64());
        tokens = counts.iter().map(|&c| c as u64).sum();
    }
    let json = serde_json::json!({
        "input": args.input,
        "threads": rayon::current_num_threads(),
        "stories": stories.len(),
        "text_bytes": bytes,
        "tokens": tokens,
        "vocab_size": tok.vocab_size(),
        "seconds": best,
        "mb_per_s": bytes as f64 / 1e6 / best,
        "tokens_per_s": tokens as f64 / best,
        "bytes_per_token": bytes as f64 / tokens as f64,
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
