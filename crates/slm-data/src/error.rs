use std::path::PathBuf;

use slm_tokenizer::TokenizerError;

/// Everything that can go wrong reading corpora, writing shards or sampling.
/// Every variant names the file (or directory) involved.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: truncated or corrupt zstd data ({source})")]
    Zstd {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: unknown corpus format; expected .txt, .jsonl or .json, optionally compressed as .zst"
    )]
    UnknownFormat { path: PathBuf },
    #[error("{path}: line {line} is not valid UTF-8")]
    InvalidUtf8 { path: PathBuf, line: u64 },
    #[error("{path}: invalid JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error("empty corpus: no usable stories in {paths} ({details})")]
    EmptyCorpus { paths: String, details: String },
    #[error(
        "tokenizer {origin} has {vocab_size} tokens, more than the 65536 that fit in u16 shards"
    )]
    VocabTooLarge { origin: String, vocab_size: usize },
    #[error("corrupt shard data in {path}: {message}")]
    CorruptShard { path: PathBuf, message: String },
    #[error(
        "{path}: shards were written with tokenizer {found}, but the tokenizer in use is {expected}; \
         re-run `slm-train prepare` with this tokenizer (or pass --force to replace them)"
    )]
    TokenizerMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: dataset has {tokens} tokens, fewer than one window of {window}")]
    TooSmall {
        path: PathBuf,
        tokens: u64,
        window: usize,
    },
    #[error("invalid option: {0}")]
    Options(String),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}
