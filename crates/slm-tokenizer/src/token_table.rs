//! The exact bytes each token id stands for.

use crate::byte_level::CharToByte;
use crate::error::TokenizerError;

/// Bytes per token id, built once per tokenizer so decoding never goes through
/// string-level post-processing (which would make decode lossy or slow).
#[derive(Debug)]
pub(crate) struct TokenTable {
    bytes: Vec<Option<Box<[u8]>>>,
}

impl TokenTable {
    /// Builds the table from the model vocabulary (byte-level stand-in strings)
    /// and the added tokens (literal text).
    pub(crate) fn build(
        inner: &tokenizers::Tokenizer,
        origin: &str,
    ) -> Result<Self, TokenizerError> {
        let chars = CharToByte::new();
        let model_vocab = inner.get_vocab(false);
        let added = inner.get_added_tokens_decoder();
        let max_id = model_vocab
            .values()
            .chain(added.keys())
            .copied()
            .max()
            .ok_or_else(|| TokenizerError::Invalid {
                origin: origin.to_string(),
                message: "the vocabulary is empty".to_string(),
            })?;
        let mut bytes: Vec<Option<Box<[u8]>>> = vec![None; max_id as usize + 1];
        for (token, &id) in &model_vocab {
            let decoded: Option<Vec<u8>> = token.chars().map(|c| chars.byte(c)).collect();
            let decoded = decoded.ok_or_else(|| TokenizerError::Invalid {
                origin: origin.to_string(),
                message: format!(
                    "token {id} ({token:?}) is not in the byte-level alphabet; \
                     only byte-level BPE tokenizers are supported"
                ),
            })?;
            bytes[id as usize] = Some(decoded.into_boxed_slice());
        }
        // Added tokens (such as <|endoftext|>) decode to their literal text.
        for (&id, token) in &added {
            bytes[id as usize] = Some(token.content.as_bytes().into());
        }
        Ok(Self { bytes })
    }

    pub(crate) fn get(&self, id: u32) -> Option<&[u8]> {
        self.bytes.get(id as usize).and_then(|b| b.as_deref())
    }

    /// Appends the bytes of `id` to `out`.
    pub(crate) fn append(&self, id: u32, out: &mut Vec<u8>) -> Result<(), TokenizerError> {
        let bytes = self.get(id).ok_or(TokenizerError::UnknownId {
            id,
            vocab_size: self.len(),
        })?;
        out.extend_from_slice(bytes);
        Ok(())
    }

    /// Number of ids covered (the largest id + 1).
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}
