//! The one error type of the crate: every failure names the file, tensor or
//! field that caused it, so callers can show it to a user unchanged.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or serving a request.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid weights {path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error(
        "tokenizer has {tokenizer_vocab} tokens but the model's vocab_size is {model_vocab}; they must come from the same training run"
    )]
    VocabMismatch {
        tokenizer_vocab: usize,
        model_vocab: usize,
    },
    #[error("the request queue is full ({capacity} waiting); retry later")]
    QueueFull { capacity: usize },
    #[error(
        "prompt has {prompt_tokens} tokens but at most {max_prompt_tokens} fit in the model's context of {max_seq_len} tokens"
    )]
    PromptTooLong {
        prompt_tokens: usize,
        max_prompt_tokens: usize,
        max_seq_len: usize,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("the engine is shutting down")]
    ShuttingDown,
    #[error("model step failed: {0}")]
    Model(String),
    #[error("cannot build the thread pool: {0}")]
    ThreadPool(String),
}
