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
        rng_cursor(self.seed, &self.rng)
    }

    fn restore(&mut self, cursor: &Value) -> Result<(), TrainError> {
        self.rng = restore_rng(cursor, self.seed)?;
        Ok(())
    }
}

/// A seeded RNG's exact position (the ChaCha word position; u128 travels as a string).
fn rng_cursor(seed: u64, rng: &ChaCha8Rng) -> Value {
    json!({"seed": seed, "word_pos": rng.get_word_pos().to_string()})
}

/// The RNG at a position saved by [`rng_cursor`] for the same seed.
fn restore_rng(cursor: &Value, seed: u64) -> Result<ChaCha8Rng, TrainError> {
    let bad = || TrainError::Data(format!("malformed sampler cursor {cursor}"));
    let saved = cursor["seed"].as_u64().ok_or_else(bad)?;
    let pos: u128 = cursor["word_pos"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    if saved != seed {
        return Err(TrainError::Data(format!(
            "sampler cursor was taken with seed {saved}, this run uses seed {seed}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_word_pos(pos);
    Ok(rng)
}

/// Set on a window token that is context only (an instruction's prompt): the model reads
/// it but is not trained to predict it.
pub const CONTEXT_ONLY: u32 = 1 << 31;

/// Set on a window token whose prediction weighs more in the loss (`[instruct]
/// word_weight`): where a reply first uses a word or name its request asked for.
pub const EMPHASIS: u32 = 1 << 30;

/// The token id of a window token, without [`CONTEXT_ONLY`] or [`EMPHASIS`].
pub fn token_id(t: u32) -> u32 {
    t & !(CONTEXT_ONLY | EMPHASIS)
}

/// Random windows over packed examples (conversations, stories), each window starting at
/// an example's first token so its prompt is never cut off; a window runs on into the
/// following examples (the stream wraps around at its end). Tokens may carry
/// [`CONTEXT_ONLY`] and [`EMPHASIS`].
pub struct ExampleWindows {
    tokens: std::sync::Arc<[u32]>,
    starts: Vec<usize>,
    len: usize,
    seed: u64,
    rng: ChaCha8Rng,
}

impl ExampleWindows {
    /// `examples`: each example's tokens, in order.
    pub fn new(examples: Vec<Vec<u32>>, window_len: usize, seed: u64) -> Result<Self, TrainError> {
        let total: usize = examples.iter().map(Vec::len).sum();
        if window_len == 0 || total < window_len {
            return Err(TrainError::Data(format!(
                "need at least {window_len} example tokens for one training window, have {total}"
            )));
        }
        let mut starts = Vec::with_capacity(examples.len());
        let mut tokens = Vec::with_capacity(total + window_len);
        for e in examples.into_iter().filter(|e| !e.is_empty()) {
            starts.push(tokens.len());
            tokens.extend(e);
        }
        // Wrap around: the last examples' windows continue into the first ones.
        tokens.extend_from_within(..window_len);
        Ok(Self {
            tokens: tokens.into(),
            starts,
            len: window_len,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Number of examples.
    pub fn examples(&self) -> usize {
        self.starts.len()
    }
}

impl WindowSource for ExampleWindows {
    fn window_len(&self) -> usize {
        self.len
    }

    fn next_window(&mut self, out: &mut Vec<u32>) -> Result<(), TrainError> {
        let start = self.starts[self.rng.random_range(0..self.starts.len())];
        out.extend_from_slice(&self.tokens[start..start + self.len]);
        Ok(())
    }

    fn cursor(&self) -> Value {
        rng_cursor(self.seed, &self.rng)
    }

    fn restore(&mut self, cursor: &Value) -> Result<(), TrainError> {
        self.rng = restore_rng(cursor, self.seed)?;
        Ok(())
    }
}

/// Windows drawn from `first` with probability `1 − share` and from `second` with
/// probability `share`, deterministic from a seed.
pub struct MixedWindows {
    first: Box<dyn WindowSource>,
    second: Box<dyn WindowSource>,
    share: f64,
    seed: u64,
    rng: ChaCha8Rng,
}

impl MixedWindows {
    pub fn new(
        first: Box<dyn WindowSource>,
        second: Box<dyn WindowSource>,
        share: f64,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if first.window_len() != second.window_len() || !(0.0..=1.0).contains(&share) {
            return Err(TrainError::Data(format!(
                "cannot mix windows of {} and {} tokens with share {share}",
                first.window_len(),
                second.window_len()
            )));
        }
        Ok(Self {
            first,
            second,
            share,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }
}

impl WindowSource for MixedWindows {
    fn window_len(&self) -> usize {
        self.first.window_len()
    }

    fn next_window(&mut self, out: &mut Vec<u32>) -> Result<(), TrainError> {
        if self.rng.random_bool(self.share) {
            self.second.next_window(out)
        } else {
            self.first.next_window(out)
        }
    }

    fn cursor(&self) -> Value {
        json!({
            "mix": rng_cursor(self.seed, &self.rng),
            "first": self.first.cursor(),
            "second": self.second.cursor(),
        })
    }

    fn restore(&mut self, cursor: &Value) -> Result<(), TrainError> {
        self.rng = restore_rng(&cursor["mix"], self.seed)?;
        self.first.restore(&cursor["first"])?;
        self.second.restore(&cursor["second"])
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
    fn example_windows_start_at_examples_and_mixed_windows_resume_exactly() {
        let examples: Vec<Vec<u32>> = (0..20u32)
            .map(|i| (0..3 + i % 5).map(|j| i * 100 + j).collect())
            .collect();
        let firsts: Vec<u32> = examples.iter().map(|e| e[0]).collect();
        let mut w = ExampleWindows::new(examples.clone(), 6, 1).unwrap();
        assert_eq!(w.examples(), 20);
        let mut out = Vec::new();
        for _ in 0..50 {
            out.clear();
            w.next_window(&mut out).unwrap();
            assert_eq!(out.len(), 6);
            assert!(firsts.contains(&out[0]), "{out:?}");
        }
        let plain = TokenWindows::new(tokens(100), 6, 2).unwrap();
        let build = || {
            let ex = ExampleWindows::new(examples.clone(), 6, 1).unwrap();
            let plain = TokenWindows::new(tokens(100), 6, 2).unwrap();
            MixedWindows::new(Box::new(plain), Box::new(ex), 0.7, 3).unwrap()
        };
        let draw = |m: &mut MixedWindows, n: usize| {
            let mut out = Vec::new();
            for _ in 0..n {
                m.next_window(&mut out).unwrap();
            }
            out
        };
        let mut a = build();
        draw(&mut a, 7);
        let cursor = a.cursor();
        let want = draw(&mut a, 30);
        let mut b = build();
        b.restore(&cursor).unwrap();
        assert_eq!(draw(&mut b, 30), want);
        // Both sources are drawn from.
        let from_examples = want
            .chunks(6)
            .filter(|w| w[0] >= 100 || firsts.contains(&w[0]))
            .count();
        assert!(from_examples > 10 && from_examples < 30, "{from_examples}");
        assert!(MixedWindows::new(Box::new(plain), Box::new(w), 1.5, 0).is_err());
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
