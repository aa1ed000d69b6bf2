//! [`BurnDecoder`]: the Burn `slm_model::Transformer` behind [`DecodeModel`],
//! so the engine runs on any Burn device (flex/ndarray on the CPU, wgpu or
//! cuda on a GPU when those backends are compiled into `burn`).
//!
//! Correctness first: every batch item runs on its own, one after another,
//! through `Transformer::forward_cached` with a batch of one and a
//! `slm_model::KvCache` per slot. `KvCache` holds one position count for the
//! whole batch, so sequences at different positions cannot share a forward
//! pass without padding and masks; that is left for when a GPU run shows it
//! is worth it. Logits are computed for every new position and the full
//! config vocabulary (that is what `forward_cached` returns), then the last
//! row is cut to `vocab_size()` columns and read back.

use std::path::Path;

use slm_model::burn::prelude::*;
use slm_model::{KvCache, ModelError, Transformer};

use crate::error::InferError;
use crate::model::{DecodeModel, SeqWork, check_batch, kept_vocab_rows};

/// The Burn model plus one KV cache per slot.
pub struct BurnDecoder {
    model: Transformer,
    device: Device,
    /// Logit width and bound on token ids (`<= config vocab_size`).
    vocab: usize,
    caches: Vec<KvCache>,
}

impl std::fmt::Debug for BurnDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurnDecoder")
            .field("config", self.model.config())
            .field("vocab", &self.vocab)
            .field("slots", &self.caches.len())
            .finish_non_exhaustive()
    }
}

impl BurnDecoder {
    /// Wraps a loaded model with `slots` KV-cache slots. `vocab_rows` plays
    /// the part of [`crate::NativeOptions::vocab_rows`]: keep only the first
    /// N vocabulary rows (logits are N wide, token ids `>= N` are rejected);
    /// `None` keeps all of the config's `vocab_size`. Here it narrows the
    /// logits read back from the device; the head still computes every row.
    pub fn new(
        model: Transformer,
        slots: usize,
        vocab_rows: Option<usize>,
    ) -> Result<BurnDecoder, InferError> {
        let cfg = model.config();
        if slots == 0 {
            return Err(InferError::InvalidRequest(
                "a decoder needs at least one slot".into(),
            ));
        }
        let vocab = kept_vocab_rows(cfg.vocab_size, vocab_rows)?;
        let device = model.embedding_param().val().device();
        let caches = (0..slots).map(|_| model.new_cache()).collect();
        Ok(BurnDecoder {
            model,
            device,
            vocab,
            caches,
        })
    }

    /// Loads `dir/config.json` and `dir/model.safetensors` onto `device`.
    pub fn load(
        dir: impl AsRef<Path>,
        device: &Device,
        slots: usize,
        vocab_rows: Option<usize>,
    ) -> Result<BurnDecoder, InferError> {
        let model = load_transformer(dir.as_ref(), device)?;
        BurnDecoder::new(model, slots, vocab_rows)
    }

    pub fn model(&self) -> &Transformer {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Vocabulary rows kept: the logit width and the bound on token ids.
    pub fn vocab_rows(&self) -> usize {
        self.vocab
    }

    /// Positions held by `slot`'s cache (the next `start_pos` it accepts
    /// besides 0, which starts a new sequence there).
    pub fn slot_len(&self, slot: usize) -> Option<usize> {
        self.caches.get(slot).map(KvCache::len)
    }

    /// Checks the whole batch before any cache changes, so a rejected step
    /// leaves every slot as it was.
    fn validate(&self, batch: &[SeqWork<'_>], out_len: usize) -> Result<(), InferError> {
        let need = batch.len() * self.vocab;
        if out_len < need {
            return Err(InferError::InvalidRequest(format!(
                "logits buffer holds {out_len} values, {need} needed"
            )));
        }
        let max_seq = self.model.config().max_seq_len;
        check_batch(batch, self.caches.len(), max_seq, self.vocab)?;
        for (j, w) in batch.iter().enumerate() {
            // 0 starts a new sequence (the slot's cache is dropped); anything
            // else must continue exactly where the slot's cache ends.
            let held = self.caches[w.slot].len();
            if w.start_pos != 0 && w.start_pos != held {
                return Err(InferError::InvalidRequest(format!(
                    "batch item {j}: start_pos {} but slot {} holds {held} positions \
                     (only 0 or {held} is valid)",
                    w.start_pos, w.slot
                )));
            }
        }
        Ok(())
    }
}

impl DecodeModel for BurnDecoder {
    fn vocab_size(&self) -> usize {
        self.vocab
    }

    fn max_seq_len(&self) -> usize {
        self.model.config().max_seq_len
    }

    fn num_slots(&self) -> usize {
        self.caches.len()
    }

    fn step(&mut self, batch: &[SeqWork<'_>], out_logits: &mut [f32]) -> Result<(), InferError> {
        self.validate(batch, out_logits.len())?;
        let vocab = self.vocab;
        for (j, w) in batch.iter().enumerate() {
            if w.start_pos == 0 {
                self.caches[w.slot] = self.model.new_cache();
            }
            let n = w.tokens.len();
            let ids: Vec<i64> = w.tokens.iter().map(|&t| i64::from(t)).collect();
            let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &self.device);
            let logits = self
                .model
                .forward_cached(tokens, &mut self.caches[w.slot])
                .map_err(|e| InferError::Model(e.to_string()))?;
            if !w.want_logits {
                continue;
            }
            // [1, n, vocab_size] -> the last position's first `vocab` columns.
            let row = logits.narrow(1, n - 1, 1).narrow(2, 0, vocab);
            let values = row
                .try_into_vec_as::<f32>()
                .map_err(|e| InferError::Model(format!("cannot read logits back: {e}")))?;
            if values.len() != vocab {
                return Err(InferError::Model(format!(
                    "expected {vocab} logits, the device returned {}",
                    values.len()
                )));
            }
            out_logits[j * vocab..(j + 1) * vocab].copy_from_slice(&values);
        }
        Ok(())
    }
}

/// `slm_model::load_model_dir` with errors in this crate's terms.
pub(crate) fn load_transformer(dir: &Path, device: &Device) -> Result<Transformer, InferError> {
    slm_model::load_model_dir(dir, device).map_err(|e| match e {
        ModelError::Io { path, source } => InferError::Io { path, source },
        ModelError::InvalidConfig(message) => InferError::Config {
            path: dir.join(slm_model::CONFIG_FILE),
            message,
        },
        other => {
            let path = dir.join(slm_model::WEIGHTS_FILE);
            let text = other.to_string();
            // Most ModelError messages already start with the path.
            let message = text
                .strip_prefix(&format!("{}: ", path.display()))
                .unwrap_or(&text)
                .to_string();
            InferError::Weights { path, message }
        }
    })
}
