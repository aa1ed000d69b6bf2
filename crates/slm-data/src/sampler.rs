//! Batch sampling: random training windows that are a pure function of
//! (seed, step, row). The sequential pass of evaluation is the trainer's
//! (`slm_trainer::SequentialTokens`).

use serde::{Deserialize, Serialize};

use crate::dataset::TokenDataset;
use crate::error::DataError;

/// Where a [`RandomWindows`] sampler is: store it in checkpoints and resume
/// with [`RandomWindows::from_cursor`] to get exactly the same later batches
/// (with the same window length and batch size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SamplerCursor {
    pub seed: u64,
    /// Number of batches already drawn.
    pub step: u64,
}

/// A batch of equal-length windows, row-major in one flat vector
/// (`tokens.len() == batch_size * window_len`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub tokens: Vec<u32>,
    pub batch_size: usize,
    pub window_len: usize,
}

impl Batch {
    /// Row `i` (a window of `window_len` tokens).
    pub fn row(&self, i: usize) -> &[u32] {
        &self.tokens[i * self.window_len..(i + 1) * self.window_len]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[u32]> {
        self.tokens.chunks_exact(self.window_len.max(1))
    }
}

/// Random windows of `window_len` tokens (use `max_seq_len + 1`: inputs are
/// `w[..n-1]`, targets `w[1..]`). Each window start is uniform over all valid
/// starts, drawn with a counter-based hash of (seed, step, row), so any batch
/// can be recomputed from the cursor without replaying earlier ones.
#[derive(Debug, Clone)]
pub struct RandomWindows {
    data: TokenDataset,
    window_len: usize,
    cursor: SamplerCursor,
}

impl RandomWindows {
    pub fn new(data: &TokenDataset, window_len: usize, seed: u64) -> Result<Self, DataError> {
        Self::from_cursor(data, window_len, SamplerCursor { seed, step: 0 })
    }

    /// Resumes at `cursor` (as returned by [`Self::cursor`]).
    pub fn from_cursor(
        data: &TokenDataset,
        window_len: usize,
        cursor: SamplerCursor,
    ) -> Result<Self, DataError> {
        if window_len < 2 {
            return Err(DataError::Options(format!(
                "window length must be at least 2 (max_seq_len + 1), got {window_len}"
            )));
        }
        if data.num_tokens() < window_len as u64 {
            return Err(DataError::TooSmall {
                path: data.dir().to_path_buf(),
                tokens: data.num_tokens(),
                window: window_len,
            });
        }
        Ok(Self {
            data: data.clone(),
            window_len,
            cursor,
        })
    }

    /// The position of the next batch.
    pub fn cursor(&self) -> SamplerCursor {
        self.cursor
    }

    pub fn window_len(&self) -> usize {
        self.window_len
    }

    /// Start of row `row` in batch `step` (independent of any other batch).
    pub fn window_start(&self, step: u64, row: u64) -> u64 {
        let starts = self.data.num_tokens() - self.window_len as u64 + 1;
        let x = mix(mix(mix(self.cursor.seed) ^ step) ^ row);
        // Multiply-shift maps 64 random bits onto [0, starts) without modulo bias worth noting.
        ((u128::from(x) * u128::from(starts)) >> 64) as u64
    }

    /// Draws the next batch of `batch_size` windows and advances the cursor.
    pub fn next_batch(&mut self, batch_size: usize) -> Batch {
        let step = self.cursor.step;
        let mut tokens = vec![0u32; batch_size * self.window_len];
        for (row, out) in tokens.chunks_exact_mut(self.window_len).enumerate() {
            let start = self.window_start(step, row as u64);
            // In range by construction: start + window_len <= num_tokens.
            let _ = self.data.copy_tokens(start, out);
        }
        self.cursor.step += 1;
        Batch {
            tokens,
            batch_size,
            window_len: self.window_len,
        }
    }
}

/// SplitMix64 finaliser: a strong 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
