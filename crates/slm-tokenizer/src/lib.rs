//! Byte-level BPE tokenizer for slm: train a vocabulary from text, load and save
//! the standard Hugging Face `tokenizer.json`, encode and decode exactly
//! (`decode(encode(s)) == s` for every string), and decode token streams
//! incrementally without breaking UTF-8.
//!
//! It deliberately does not read corpora formats (jsonl, zstd: see `slm-data`),
//! add BOS/EOS tokens, pad, truncate or normalize text: the model sees exactly
//! the bytes of the input, and `<|endoftext|>` only where the text contains it.

mod byte_level;
pub mod chat;
mod error;
mod fast_encode;
mod incremental;
mod token_table;
mod training;

use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub use chat::{ChatTemplate, Role};
pub use error::TokenizerError;
pub use incremental::IncrementalDecoder;
pub use training::TrainOptions;

use fast_encode::FastEncoder;
use token_table::TokenTable;

/// The end-of-text special token separating stories.
pub const EOT: &str = "<|endoftext|>";

/// A trained byte-level BPE tokenizer. Cheap to clone (shared internals).
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
    /// `None` for pipelines the fast path does not reproduce.
    fast: Option<Arc<FastEncoder>>,
    table: Arc<TokenTable>,
    json: Arc<str>,
    hash: Arc<str>,
    eot_id: u32,
    vocab_size: usize,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("eot_id", &self.eot_id)
            .field("hash", &self.hash)
            .finish()
    }
}

impl Tokenizer {
    /// Trains on plain UTF-8 text files, streamed line by line. The files may
    /// contain `<|endoftext|>` separators; they are never merged with text.
    pub fn train_from_files(
        paths: &[impl AsRef<Path>],
        opts: &TrainOptions,
    ) -> Result<Self, TokenizerError> {
        let paths = training::to_paths(paths);
        let error = Mutex::new(None);
        let lines = training::FileLines::new(&paths, &error)?;
        let trained = training::train(lines, opts);
        // A read error ends the line stream early; report it rather than a
        // tokenizer trained on part of the data.
        if let Some(err) = error.lock().ok().and_then(|mut e| e.take()) {
            return Err(err);
        }
        Self::from_inner(trained?, "trained")
    }

    /// Trains on any stream of texts (stories, lines or chunks).
    pub fn train_from_iter<I, S>(iter: I, opts: &TrainOptions) -> Result<Self, TokenizerError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        Self::from_inner(training::train(iter, opts)?, "trained")
    }

    /// Loads a `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io {
            action: "cannot read tokenizer file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Parses the contents of a `tokenizer.json`.
    pub fn from_bytes(json: &[u8]) -> Result<Self, TokenizerError> {
        Self::parse(json, "in-memory tokenizer.json")
    }

    fn parse(json: &[u8], origin: &str) -> Result<Self, TokenizerError> {
        let invalid = |message: String| TokenizerError::Invalid {
            origin: origin.to_string(),
            message: format!("not a valid tokenizer.json: {message}"),
        };
        // `tokenizers` 0.22 panics on some malformed files (invalid UTF-8 inside the
        // `decoder` object, found by fuzzing) instead of returning an error: a bad file must
        // not take the program down, so the panic becomes this error.
        let parsed = std::panic::catch_unwind(|| tokenizers::Tokenizer::from_bytes(json)).map_err(
            |panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the tokenizers library panicked");
                invalid(what.to_string())
            },
        )?;
        let inner = parsed.map_err(|e| invalid(e.to_string()))?;
        Self::from_inner(inner, origin)
    }

    fn from_inner(inner: tokenizers::Tokenizer, origin: &str) -> Result<Self, TokenizerError> {
        let invalid = |message: String| TokenizerError::Invalid {
            origin: origin.to_string(),
            message,
        };
        if inner.get_normalizer().is_some() {
            return Err(invalid(
                "it has a normalizer, which would change text and break exact round trips"
                    .to_string(),
            ));
        }
        let eot_id = inner
            .get_added_vocabulary()
            .token_to_id(EOT, inner.get_model())
            .ok_or_else(|| invalid(format!("it has no {EOT} token")))?;
        if !inner.get_added_vocabulary().is_special_token(EOT) {
            return Err(invalid(format!("{EOT} is not marked as a special token")));
        }
        let table = TokenTable::build(&inner, origin)?;
        let json = inner
            .to_string(true)
            .map_err(|e| invalid(format!("cannot serialize: {e}")))?;
        let hash = hex(&Sha256::digest(json.as_bytes()));
        let fast = FastEncoder::for_pipeline(&json).map(Arc::new);
        Ok(Self {
            vocab_size: table.len(),
            fast,
            inner: Arc::new(inner),
            table: Arc::new(table),
            json: json.into(),
            hash: hash.into(),
            eot_id,
        })
    }

    /// This tokenizer with `tokens` added as special tokens (each `<|name|>`), after the
    /// existing ids; tokens it already has are kept as they are. Plain text encodes exactly
    /// as before, except where it spells one of the new tokens.
    pub fn with_special_tokens(&self, tokens: &[&str]) -> Result<Self, TokenizerError> {
        let mut inner = (*self.inner).clone();
        let new: Vec<tokenizers::AddedToken> = tokens
            .iter()
            .filter(|t| self.token_id(t).is_none())
            .map(|t| {
                if t.starts_with("<|") && t.ends_with("|>") {
                    Ok(tokenizers::AddedToken::from(t.to_string(), true))
                } else {
                    Err(TokenizerError::Options(format!(
                        "special token {t:?} must look like <|name|>"
                    )))
                }
            })
            .collect::<Result<_, _>>()?;
        inner.add_special_tokens(&new);
        Self::from_inner(inner, "tokenizer with added special tokens")
    }

    /// Id of an added (special) token such as `<|endoftext|>`.
    pub fn token_id(&self, special: &str) -> Option<u32> {
        self.inner
            .get_added_vocabulary()
            .token_to_id(special, self.inner.get_model())
            .filter(|_| self.inner.get_added_vocabulary().is_special_token(special))
    }

    /// Writes the standard `tokenizer.json` (the canonical JSON of [`Self::to_json`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TokenizerError> {
        let path = path.as_ref();
        std::fs::write(path, self.json.as_bytes()).map_err(|source| TokenizerError::Io {
            action: "cannot write tokenizer file",
            path: path.to_path_buf(),
            source,
        })
    }

    /// The canonical `tokenizer.json` text.
    pub fn to_json(&self) -> String {
        self.json.to_string()
    }

    /// Token ids for `text`. No BOS/EOS is added; each `<|endoftext|>` in the
    /// text becomes the single EOT id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        if let Some(fast) = &self.fast {
            return fast.encode(self.inner.get_model(), text);
        }
        self.encode_reference(text)
    }

    /// Encoding through the full `tokenizers` pipeline (what [`Self::encode`]
    /// does for non-standard pipelines); the fast path must agree with it.
    pub fn encode_reference(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Encodes many texts in parallel (rayon).
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizerError> {
        if self.fast.is_some() {
            use rayon::prelude::*;
            return texts.par_iter().map(|t| self.encode(t)).collect();
        }
        let encs = self
            .inner
            .encode_batch_fast(texts.to_vec(), false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(encs.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text for `ids`; the exact inverse of [`Self::encode`]. Arbitrary id
    /// sequences may not form valid UTF-8 (a token can end mid-character); such
    /// bytes become U+FFFD. Unknown ids are an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            self.table.append(id, &mut bytes)?;
        }
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Id of `<|endoftext|>`.
    pub fn eot_id(&self) -> u32 {
        self.eot_id
    }

    /// Number of token ids (largest id + 1); the model's embedding needs at least this many rows.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The raw bytes token `id` stands for, or `None` for an unknown id.
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        self.table.get(id).map(<[u8]>::to_vec)
    }

    /// A streaming decoder that only ever emits complete UTF-8 text.
    pub fn incremental_decoder(&self) -> IncrementalDecoder {
        IncrementalDecoder::new(Arc::clone(&self.table))
    }

    /// SHA-256 (hex) of the canonical JSON; identifies the tokenizer in shard metadata.
    pub fn content_hash(&self) -> String {
        self.hash.to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 300-token tokenizer trained on two sentences (unit tests).
    pub(crate) fn tiny() -> Tokenizer {
        let texts = ["the cat sat on the mat", "the dog sat on the log", EOT];
        Tokenizer::train_from_iter(
            texts.iter(),
            &TrainOptions {
                vocab_size: 300,
                min_frequency: 1,
                show_progress: false,
            },
        )
        .expect("train")
    }

    #[test]
    fn eot_is_id_zero_and_single_token() {
        let tok = tiny();
        assert_eq!(tok.eot_id(), 0);
        assert_eq!(tok.encode(EOT).unwrap(), vec![0]);
        assert_eq!(tok.token_bytes(0).unwrap(), EOT.as_bytes());
    }

    #[test]
    fn vocab_too_small_is_rejected() {
        let err = Tokenizer::train_from_iter(
            ["a"].iter(),
            &TrainOptions {
                vocab_size: 100,
                ..TrainOptions::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("vocab_size 100"), "{err}");
    }

    #[test]
    fn empty_training_text_is_rejected() {
        let err = Tokenizer::train_from_iter(std::iter::empty::<&str>(), &TrainOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn unknown_id_is_an_error() {
        let tok = tiny();
        let bad = tok.vocab_size() as u32 + 5;
        let err = tok.decode(&[bad]).unwrap_err();
        assert!(err.to_string().contains(&bad.to_string()), "{err}");
        assert!(tok.token_bytes(bad).is_none());
        assert!(tok.incremental_decoder().push(bad).is_err());
    }

    #[test]
    fn trained_tokenizers_use_the_fast_path_and_others_do_not() {
        let tok = tiny();
        assert!(tok.fast.is_some());
        // Same tokenizer with a prefix space: a pipeline the fast path does not reproduce.
        let json = tok
            .to_json()
            .replace("\"add_prefix_space\": false", "\"add_prefix_space\": true");
        let other = Tokenizer::from_bytes(json.as_bytes()).unwrap();
        assert!(other.fast.is_none());
        assert_eq!(
            other.encode("the cat").unwrap(),
            other.encode_reference("the cat").unwrap()
        );
    }

    #[test]
    fn hex_encodes_bytes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
