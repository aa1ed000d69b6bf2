//! Validation metrics: mean loss, perplexity and bits per byte.
//!
//! bits per byte = (sum of per-token NLL in nats / ln 2) / bytes, where bytes is the UTF-8
//! byte count of the evaluated text. A full pass predicts every validation token but the
//! first, and bytes is the validation text's byte count (from the shards' meta.json); a
//! subset of windows counts bytes pro rata: `text_bytes * predicted / (tokens - 1)`.

use serde::{Deserialize, Serialize};
use slm_model::Transformer;
use slm_model::burn::prelude::*;

use crate::{SequentialTokens, TrainError, head_cross_entropy_sum};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub loss: f64,
    pub perplexity: f64,
    pub bits_per_byte: f64,
    /// Tokens predicted.
    pub tokens: u64,
    /// UTF-8 bytes those tokens cover.
    pub bytes: u64,
}

fn int_batch(rows: &[&[u16]], device: &Device) -> Tensor<2, Int> {
    let len = rows[0].len();
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&t| t as i64))
        .collect();
    Tensor::from_data(TensorData::new(ids, [rows.len(), len]), device)
}

/// Evaluates `model` (use a non-autodiff / `valid()` model) on `data` in windows of
/// `seq_len` predictions, `batch_size` windows per forward, at most `max_windows` windows.
/// The softmax covers the first `vocab` rows (the whole `model.vocab_size` for the
/// distribution outside tools see).
pub fn evaluate(
    model: &Transformer,
    data: &SequentialTokens,
    seq_len: usize,
    batch_size: usize,
    max_windows: Option<usize>,
    vocab: usize,
    device: &Device,
) -> Result<EvalReport, TrainError> {
    let mut reports = evaluate_vocabs(
        model,
        data,
        seq_len,
        batch_size,
        max_windows,
        &[vocab],
        device,
    )?;
    Ok(reports.remove(0))
}

/// [`evaluate`] for several softmax widths at once (one trunk pass, one head per width),
/// e.g. the whole model vocabulary and the tokenizer's rows, to measure how much
/// probability rows the tokenizer never produces take.
pub fn evaluate_vocabs(
    model: &Transformer,
    data: &SequentialTokens,
    seq_len: usize,
    batch_size: usize,
    max_windows: Option<usize>,
    vocabs: &[usize],
    device: &Device,
) -> Result<Vec<EvalReport>, TrainError> {
    for &vocab in vocabs {
        if vocab == 0 || vocab > model.config().vocab_size {
            return Err(TrainError::Config(format!(
                "evaluation vocabulary {vocab} outside 1..={} (the model's)",
                model.config().vocab_size
            )));
        }
    }
    let smallest = vocabs.iter().copied().min().unwrap_or(0);
    if let Some(bad) = data.tokens().iter().find(|&&t| t as usize >= smallest) {
        return Err(TrainError::Data(format!(
            "validation token id {bad} is outside the evaluated vocabulary ({smallest})"
        )));
    }
    let windows = data.windows(seq_len, max_windows);
    let tokens = data.tokens();
    let (full, short): (Vec<_>, Vec<_>) = windows.iter().partition(|r| r.len() == seq_len + 1);
    let mut total_nll = vec![0.0f64; vocabs.len()];
    let mut predicted = 0u64;
    let mut run = |rows: Vec<&[u16]>| {
        let batch = int_batch(&rows, device);
        let [b, len] = batch.dims();
        let inputs = batch.clone().narrow(1, 0, len - 1);
        let targets = batch.narrow(1, 1, len - 1);
        let hidden = model.hidden(inputs);
        for (nll, &vocab) in total_nll.iter_mut().zip(vocabs) {
            *nll += head_cross_entropy_sum(hidden.clone(), model.head_rows(vocab), targets.clone());
        }
        predicted += (b * (len - 1)) as u64;
    };
    for chunk in full.chunks(batch_size) {
        run(chunk.iter().map(|r| &tokens[(*r).clone()]).collect());
    }
    for r in short {
        run(vec![&tokens[r.clone()]]);
    }
    let bytes = (data.text_bytes() as f64 * predicted as f64 / (tokens.len() - 1) as f64).round();
    Ok(total_nll
        .into_iter()
        .map(|nll| {
            let loss = nll / predicted as f64;
            EvalReport {
                loss,
                perplexity: loss.exp(),
                bits_per_byte: nll / std::f64::consts::LN_2 / bytes.max(1.0),
                tokens: predicted,
                bytes: bytes as u64,
            }
        })
        .collect())
}
