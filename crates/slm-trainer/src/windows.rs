//! Where training and evaluation tokens come from.
//!
//! The trainer pulls windows of `seq_len + 1` tokens through `WindowSource` (so the app can
//! plug in `slm-data`'s samplers) and ships an in-memory implementation, `TokenWindows`, whose
//! cursor makes resume exact. `SequentialTokens` splits a validation set into a deterministic
//! full pass.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::TrainError;

/// A resumable stream of training windows, each exactly `window_len()` tokens long.
pub trait WindowSource: Send {
    fn window_len(&self) -> usize;
    /// Appends the next window's tokens to `out`.
    fn next_window(&mut self, out: &mut Vec<u32>) -> Result<(), TrainError>;
    /// Position in the stream, stored in checkpoints.
    fn cursor(&self) -> Value;
    /// Rewinds/forwards to a position previously returned by `cursor`.
    fn restore(&mut self, cursor: &Value) -> Result<(), TrainError>;
}

/// Uniformly random windows over an in-memory token array, deterministic from a seed.
pub struct TokenWindows {
    tokens: std::sync::Arc<[u16]>,
    len: usize,
    seed: u64,
    rng: ChaCha8Rng,
}

impl TokenWindows {
    pub fn new(
        tokens: std::sync::Arc<[u16]>,
        window_len: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if window_len == 0 || tokens.len() < window_len {
            return Err(TrainError::Data(format!(
                "need at least {window_len} tokens for one training window, have {}",
                tokens.len()
            )));
        }
        Ok(Self {
            tokens,
            len: window_len,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }
}

impl WindowSource for TokenWindows {
    fn window_len(&self) -> usize {
        self.len
    }

    fn next_window(&mut self, out: &mut Vec<u32>) -> Result<(), TrainError> {
        let start = self.rng.random_range(0..=self.tokens.len() - self.len);
        out.extend(
            self.tokens[start..start + self.len]
                .iter()
                .map(|&t| u32::from(t)),
        );
        Ok(())
    }

    fn cursor(&self) -> Value {
        // The ChaCha word position pins the stream exactly; u128 travels as a string.
        json!({"seed": self.seed, "word_pos": self.rng.get_word_pos().to_string()})
    }

    fn restore(&mut self, cursor: &Value) -> Result<(), TrainError> {
        let bad = || TrainError::Data(format!("malformed sampler cursor {cursor}"));
        let seed = cursor["seed"].as_u64().ok_or_else(bad)?;
        let pos: u128 = cursor["word_pos"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if seed != self.seed {
            return Err(TrainError::Data(format!(
                "sampler cursor was taken with seed {seed}, this run uses seed {}",
                self.seed
            )));
        }
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.rng.set_word_pos(pos);
        Ok(())
    }
}

/// A validation token stream cut into consecutive windows that overlap by one token, so
/// every token but the first is predicted exactly once.
pub struct SequentialTokens {
    tokens: std::sync::Arc<[u16]>,
    /// UTF-8 bytes of the text these tokens encode.
    text_bytes: u64,
}

impl SequentialTokens {
    pub fn new(tokens: std::sync::Arc<[u16]>, text_bytes: u64) -> Result<Self, TrainError> {
        if tokens.len() < 2 {
            return Err(TrainError::Data(format!(
                "validation set has {} tokens; need at least 2",
                tokens.len()
            )));
        }
        Ok(Self { tokens, text_bytes })
    }

    pub fn tokens(&self) -> &[u16] {
        &self.tokens
    }

    pub fn text_bytes(&self) -> u64 {
        self.text_bytes
    }

    /// Token ranges of the windows (each `seq_len + 1` long except possibly the last),
    /// at most `max` of them.
    pub fn windows(&self, seq_len: usize, max: Option<usize>) -> Vec<std::ops::Range<usize>> {
        let n = self.tokens.len();
        let mut out = Vec::new();
        let mut start = 0;
        while start + 1 < n && max.is_none_or(|m| out.len() < m) {
            let end = (start + seq_len + 1).min(n);
            out.push(start..end);
            start += seq_len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens(n: usize) -> std::sync::Arc<[u16]> {
        (0..n).map(|i| (i % 60_000) as u16).collect()
    }

    #[test]
    fn cursor_resumes_the_exact_stream() {
        let mut a = TokenWindows::new(tokens(1000), 17, 5).unwrap();
        let mut buf = Vec::new();
        for _ in 0..7 {
            a.next_window(&mut buf).unwrap();
        }
        let cursor = a.cursor();
        let mut rest_a = Vec::new();
        for _ in 0..5 {
            a.next_window(&mut rest_a).unwrap();
        }
        let mut b = TokenWindows::new(tokens(1000), 17, 5).unwrap();
        b.restore(&cursor).unwrap();
        let mut rest_b = Vec::new();
        for _ in 0..5 {
            b.next_window(&mut rest_b).unwrap();
        }
        assert_eq!(rest_a, rest_b);
        let mut other_seed = TokenWindows::new(tokens(1000), 17, 6).unwrap();
        assert!(other_seed.restore(&cursor).is_err());
    }

    #[test]
    fn too_few_tokens_is_an_error() {
        assert!(TokenWindows::new(tokens(5), 17, 0).is_err());
        assert!(SequentialTokens::new(tokens(1), 10).is_err());
    }

    proptest! {
        #[test]
        fn sequential_windows_predict_each_token_once(n in 2usize..500, seq in 1usize..40) {
            let s = SequentialTokens::new(tokens(n), 1).unwrap();
            let w = s.windows(seq, None);
            let predicted: usize = w.iter().map(|r| r.len() - 1).sum();
            prop_assert_eq!(predicted, n - 1);
            for pair in w.windows(2) {
                prop_assert_eq!(pair[0].end - 1, pair[1].start);
            }
            prop_assert!(w.iter().all(|r| r.len() >= 2 && r.len() <= seq + 1));
        }

        #[test]
        fn random_windows_stay_in_bounds(n in 20usize..300, len in 1usize..20, seed: u64) {
            let mut w = TokenWindows::new(tokens(n), len, seed).unwrap();
            let mut buf = Vec::new();
            for _ in 0..10 {
                buf.clear();
                w.next_window(&mut buf).unwrap();
                prop_assert_eq!(buf.len(), len);
                // Consecutive tokens of the source: the window is a contiguous slice.
                prop_assert!(buf.windows(2).all(|p| p[1] == p[0] + 1));
            }
        }
    }
}
