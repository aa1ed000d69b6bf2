//! Short story samples during training, decoded with the model's KV cache.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use slm_model::Transformer;
use slm_model::burn::prelude::*;

use crate::TrainError;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub max_tokens: usize,
    /// 0 = greedy.
    pub temperature: f64,
    pub seed: u64,
    /// Generation stops after emitting this token (end of text).
    pub stop_token: Option<u32>,
    /// Sample only among the first `vocab` logits (the tokenizer's tokens; the rest are
    /// padding rows that decode to nothing).
    pub vocab: usize,
}

/// Continues `prompt` (non-empty) by up to `max_tokens` tokens; returns only the new tokens.
pub fn sample_tokens(
    model: &Transformer,
    prompt: &[u32],
    opts: &SampleOptions,
    device: &Device,
) -> Result<Vec<u32>, TrainError> {
    if prompt.is_empty() {
        return Err(TrainError::Data("sampling needs a non-empty prompt".into()));
    }
    let max_ctx = model.config().max_seq_len;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut cache = model.new_cache();
    let mut out = Vec::new();
    let mut feed: Vec<i64> = prompt.iter().map(|&t| t as i64).collect();
    while out.len() < opts.max_tokens && cache.len() + feed.len() <= max_ctx {
        let n = feed.len();
        let input = Tensor::<2, Int>::from_data(TensorData::new(feed, [1, n]), device);
        let logits = model.forward_cached(input, &mut cache)?;
        let [_, _, vocab] = logits.dims();
        let last: Vec<f32> = logits
            .narrow(1, n - 1, 1)
            .reshape([vocab])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Data(format!("reading logits: {e:?}")))?;
        let next = pick(&last[..opts.vocab.min(vocab)], opts.temperature, &mut rng);
        out.push(next);
        if Some(next) == opts.stop_token {
            break;
        }
        feed = vec![next as i64];
    }
    Ok(out)
}

fn pick(logits: &[f32], temperature: f64, rng: &mut ChaCha8Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap_or(0)
    };
    if temperature <= 0.0 {
        return argmax();
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| ((l - max) as f64 / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return argmax();
    }
    let mut r = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        r -= w;
        if r <= 0.0 {
            return i as u32;
        }
    }
    (weights.len() - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_argmax_and_sampling_follows_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(pick(&[0.1, 3.0, -1.0], 0.0, &mut rng), 1);
        // A dominant logit wins almost always; a tiny one almost never.
        let counts = (0..2000).fold([0usize; 3], |mut c, _| {
            c[pick(&[0.0, 5.0, -20.0], 1.0, &mut rng) as usize] += 1;
            c
        });
        assert!(counts[1] > 1900 && counts[2] == 0, "{counts:?}");
    }
}
