use std::path::PathBuf;

/// Everything that can go wrong loading, training or using a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A file could not be opened, read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A training text file is not valid UTF-8.
    #[error("training file {path} is not valid UTF-8 (line {line})")]
    InvalidUtf8 { path: PathBuf, line: u64 },
    /// tokenizer.json could not be parsed or does not describe a usable tokenizer.
    #[error("invalid tokenizer ({origin}): {message}")]
    Invalid { origin: String, message: String },
    /// Training options that cannot produce a tokenizer.
    #[error("invalid training options: {0}")]
    Options(String),
    /// Training produced no usable tokenizer (e.g. empty corpus).
    #[error("tokenizer training failed: {0}")]
    Training(String),
    /// A token id that is not in the vocabulary.
    #[error("token id {id} is not in the vocabulary (size {vocab_size})")]
    UnknownId { id: u32, vocab_size: usize },
    /// An error reported by the underlying `tokenizers` library while encoding.
    #[error("encoding failed: {0}")]
    Encode(String),
}
