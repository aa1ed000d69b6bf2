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

/// The checks every [`DecodeModel::step`] makes before touching a cache:
/// slots in range and distinct, items non-empty, positions within `max_seq`
/// and token ids below `vocab`. Errors name the offending batch item.
pub(crate) fn check_batch(
    batch: &[SeqWork<'_>],
    slots: usize,
    max_seq: usize,
    vocab: usize,
) -> Result<(), InferError> {
    let mut used = 0u128;
    for (j, w) in batch.iter().enumerate() {
        let bad = |m: String| Err(InferError::InvalidRequest(format!("batch item {j}: {m}")));
        if w.slot >= slots {
            return bad(format!("slot {} out of range ({slots} slots)", w.slot));
        }
        if w.tokens.is_empty() {
            return bad("no tokens".into());
        }
        if w.start_pos + w.tokens.len() > max_seq {
            return bad(format!(
                "positions {}..{} exceed the context of {max_seq}",
                w.start_pos,
                w.start_pos + w.tokens.len()
            ));
        }
        if let Some(t) = w.tokens.iter().find(|t| **t as usize >= vocab) {
            return bad(format!("token {t} outside vocabulary of {vocab}"));
        }
        // Slots beyond 128 are rare; only those below are checked for duplicates cheaply.
        if w.slot < 128 {
            if used & (1 << w.slot) != 0 {
                return bad(format!("slot {} used twice in one step", w.slot));
            }
            used |= 1 << w.slot;
        } else if batch[..j].iter().any(|o| o.slot == w.slot) {
            return bad(format!("slot {} used twice in one step", w.slot));
        }
    }
    Ok(())
}

/// The vocabulary rows a model keeps for a `vocab_rows` option (`None`: all
/// of the config's `vocab_size`), checked to lie in `1..=vocab_size`.
pub(crate) fn kept_vocab_rows(
    vocab_size: usize,
    requested: Option<usize>,
) -> Result<usize, InferError> {
    match requested {
        None => Ok(vocab_size),
        Some(n) if (1..=vocab_size).contains(&n) => Ok(n),
        Some(n) => Err(InferError::Model(format!(
            "vocab_rows {n} must be between 1 and the config's vocab_size {vocab_size}"
        ))),
    }
}
