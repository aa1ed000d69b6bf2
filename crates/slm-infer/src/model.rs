//! The seam between the scheduler and whatever computes logits. The
//! scheduler, sampler and streaming code only see this trait, so a Burn-backed
//! model (slm-model) can replace the native CPU path without touching them.

use crate::error::InferError;

/// New tokens for one sequence in one step.
#[derive(Debug, Clone, Copy)]
pub struct SeqWork<'a> {
    /// KV-cache slot owned by the sequence (`< num_slots()`).
    pub slot: usize,
    /// Tokens to append: one for a decode step, a chunk for prefill.
    pub tokens: &'a [u32],
    /// Position of `tokens[0]`; the slot's cache must hold positions before it.
    pub start_pos: usize,
    /// Whether the caller needs logits after the last token (not for
    /// intermediate prefill chunks, which saves the vocabulary projection).
    pub want_logits: bool,
}

/// A causal language model with a slot-indexed KV cache.
pub trait DecodeModel: Send {
    /// Logits per row, which is also the bound on input token ids: at least
    /// the tokenizer's vocabulary, at most the config's `vocab_size`.
    fn vocab_size(&self) -> usize;
    fn max_seq_len(&self) -> usize;
    /// Sequences that can be in flight at once.
    fn num_slots(&self) -> usize;
    /// Runs every item's tokens, extending its slot's cache. `out_logits`
    /// holds `batch.len() * vocab_size()` values; row `j` receives the logits
    /// after the last token of `batch[j]` when `want_logits` is set (other
    /// rows are left untouched). Items must use distinct slots.
    fn step(&mut self, batch: &[SeqWork<'_>], out_logits: &mut [f32]) -> Result<(), InferError>;
}
