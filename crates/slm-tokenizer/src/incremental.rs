//! Streaming decode: turn a token stream into text without ever emitting a
//! broken UTF-8 sequence.

use std::sync::Arc;

use crate::error::TokenizerError;
use crate::token_table::TokenTable;

/// Decodes tokens one at a time for streaming output.
///
/// A byte-level token can end in the middle of a multi-byte character, so the
/// decoder holds back an incomplete tail until the next token completes it.
/// The concatenation of everything `push` returns plus `finish()` equals
/// `Tokenizer::decode` of the whole sequence, for any sequence of ids.
#[derive(Debug, Clone)]
pub struct IncrementalDecoder {
    table: Arc<TokenTable>,
    pending: Vec<u8>,
}

impl IncrementalDecoder {
    pub(crate) fn new(table: Arc<TokenTable>) -> Self {
        Self {
            table,
            pending: Vec::new(),
        }
    }

    /// Adds one token and returns the text that is now complete (possibly
    /// empty). Bytes that can never form valid UTF-8 are replaced with U+FFFD,
    /// exactly as the full decode does.
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        self.table.append(id, &mut self.pending)?;
        Ok(self.drain_complete())
    }

    /// Whether bytes of an unfinished character are being held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Flushes the held-back tail; an incomplete character at the very end
    /// becomes a single U+FFFD. The decoder is empty and reusable afterwards.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }

    fn drain_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(valid) => {
                    out.push_str(valid);
                    start = self.pending.len();
                    break;
                }
                Err(err) => {
                    let valid_end = start + err.valid_up_to();
                    // `valid_up_to` guarantees this slice is valid UTF-8.
                    out.push_str(&String::from_utf8_lossy(&self.pending[start..valid_end]));
                    match err.error_len() {
                        // Invalid bytes: no later token can repair them.
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid_end + len;
                        }
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            start = valid_end;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
