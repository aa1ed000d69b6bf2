//! `slm-train prepare`: corpora -> tokenizer.json + train/ and valid/ token shards.

use std::path::PathBuf;

use anyhow::Context;
use slm_data::{CleanOptions, DropReason, PrepareConfig, ShardMeta, TokenizerSource};

use crate::byte_size::parse_byte_size;
use crate::tokenizer::TokenizerTrainArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Training corpus files: .txt (stories separated by <|endoftext|>), .jsonl or .json
    /// (records with a "story" or "text" field), each optionally .zst-compressed.
    #[arg(long = "train", visible_alias = "input", num_args = 1.., required = true)]
    pub train: Vec<PathBuf>,
    /// Validation corpus files (same formats). Stories that also occur here are removed
    /// from the training split and counted as overlap.
    #[arg(long, num_args = 1..)]
    pub valid: Vec<PathBuf>,
    /// Output directory; receives tokenizer.json, train/ and valid/ (shards + meta.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Reuse this tokenizer.json instead of training a new tokenizer.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Tokenizer training (ignored with --tokenizer).
    #[command(flatten)]
    pub tokenizer_train: TokenizerTrainArgs,
    /// Drop exact duplicate stories (after whitespace normalisation).
    #[arg(long)]
    pub dedup: bool,
    /// Drop stories shorter than this many characters (0 keeps every non-empty story).
    #[arg(long, default_value_t = 0)]
    pub min_chars: usize,
    /// Tokens per shard file (2 bytes each).
    #[arg(long, default_value_t = slm_data::DEFAULT_SHARD_TOKENS)]
    pub shard_tokens: u64,
    /// Text per parallel tokenization batch (bounds memory), e.g. 4M.
    #[arg(long, default_value = "4M", value_parser = parse_byte_size)]
    pub batch_bytes: u64,
    /// Replace existing shards in --out even if they were written with another tokenizer.
    #[arg(long)]
    pub force: bool,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let tokenizer = match args.tokenizer {
        Some(path) => TokenizerSource::Existing(path),
        None => TokenizerSource::Train {
            options: args.tokenizer_train.options(!args.no_progress),
            sample_bytes: args.tokenizer_train.sample_bytes,
        },
    };
    let cfg = PrepareConfig {
        train: args.train,
        valid: args.valid,
        out_dir: args.out.clone(),
        tokenizer,
        clean: CleanOptions {
            min_chars: args.min_chars,
            dedup: args.dedup,
        },
        shard_tokens: args.shard_tokens,
        batch_bytes: usize::try_from(args.batch_bytes).context("--batch-bytes is too large")?,
        show_progress: !args.no_progress,
        force: args.force,
    };
    let started = std::time::Instant::now();
    let report = slm_data::prepare(&cfg)
        .with_context(|| format!("preparing data into {}", args.out.display()))?;
    log_pool(&report.splits);
    let splits: Vec<serde_json::Value> = report
        .splits
        .iter()
        .map(|m| {
            let files: Vec<serde_json::Value> = m
                .sources
                .iter()
                .map(|s| serde_json::json!({"path": s.path, "cleaning": s.cleaning}))
                .collect();
            serde_json::json!({
                "split": m.split,
                "stories": m.num_stories,
                "tokens": m.num_tokens,
                "text_bytes": m.text_bytes,
                "bytes_per_token": m.text_bytes as f64 / m.num_tokens.max(1) as f64,
                "shards": m.shards.len(),
                "cleaning": m.cleaning,
                "files": files,
            })
        })
        .collect();
    let summary = serde_json::json!({
        "out": args.out,
        "tokenizer": report.tokenizer_path,
        "tokenizer_hash": report.tokenizer_hash,
        "vocab_size": report.vocab_size,
        "tokenizer_trained": report.tokenizer_trained,
        "tokenizer_sample_bytes": report.tokenizer_sample_bytes,
        "overlap_dropped": report.overlap_dropped,
        "splits": splits,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Logs one line per input file: stories read, kept, and dropped as duplicates (with
/// `--dedup`), for overlapping the validation split, or for other reasons (empty, too short,
/// broken records), so the pool a run trains on is visible.
fn log_pool(splits: &[ShardMeta]) {
    for m in splits {
        for s in &m.sources {
            let c = &s.cleaning;
            let duplicates = c.dropped_for(DropReason::Duplicate);
            let in_valid = c.dropped_for(DropReason::OverlapsValidation);
            tracing::info!(
                split = %m.split,
                read = c.read,
                kept = c.kept,
                duplicates,
                in_valid,
                other = c.dropped_total() - duplicates - in_valid,
                "input file {}",
                s.path
            );
        }
    }
}
