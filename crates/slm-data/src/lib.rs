//! Data pipeline for slm: stream TinyStories-style corpora (`.txt` with
//! `<|endoftext|>` separators, `.jsonl`, `.json`, each optionally `.zst`),
//! clean them with counted decisions, train or reuse the tokenizer, tokenize in
//! parallel into memory-mapped little-endian `u16` shards with a reproducible
//! `meta.json`, and sample training/evaluation windows deterministically.
//!
//! It deliberately does not download data (the `slm-train download` command
//! does), know anything about models or tensors (batches are plain `u32`
//! vectors), or hold whole corpora in memory.

mod checksum;
pub mod clean;
mod dataset;
mod error;
pub mod format;
pub mod instruct;
pub mod meta;
mod prepare;
mod progress;
pub mod reader;
mod sampler;
mod shard_writer;
mod stories;

pub use checksum::sha256_hex;
pub use clean::{CleanOptions, CleanStats, Cleaner, DropReason};
pub use dataset::{MAX_VOCAB, TokenDataset};
pub use error::DataError;
pub use meta::{ShardInfo, ShardMeta, SourceInfo};
pub use prepare::{
    DEFAULT_BATCH_BYTES, DEFAULT_SAMPLE_BYTES, DEFAULT_SHARD_TOKENS, PrepareConfig, PrepareReport,
    TOKENIZER_FILE, TokenizerSource, prepare, train_tokenizer,
};
pub use progress::bytes_bar;
pub use reader::{CorpusReader, Record};
pub use sampler::{Batch, RandomWindows, SamplerCursor};
pub use shard_writer::ShardWriter;
pub use stories::StoryStream;
