//! Token sampling: presence, frequency and DRY repetition penalties,
//! temperature, top-k, top-p (nucleus) and a seeded RNG per request. The procedure depends only
//! on the logits and the request's own RNG and tokens, never on other
//! sequences, so a seed always reproduces its text.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::kernels::{self, Isa};

use slm_model::generation::SamplingParams;

/// Repeats longer than this count as this long (bounds the DRY penalty and its cost).
const MAX_DRY_MATCH: usize = 64;

/// Per-sequence sampler: parameters, RNG and reusable scratch.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
    /// (unnormalised probability, token) candidates; reused across tokens.
    cand: Vec<(f32, u32)>,
    /// Top-p scratch: mass per probability bucket, and the boundary bucket's tokens.
    hist: Vec<f64>,
    edge: Vec<(f32, u32)>,
    weights: Vec<f32>,
    isa: Isa,
    /// The tokens returned so far, and how often each (kept only when a penalty is set).
    history: Vec<u32>,
    counts: HashMap<u32, u32>,
    /// DRY scratch: longest repeat each following token would extend.
    dry: HashMap<u32, usize>,
    /// Penalised copy of the logits; reused across tokens.
    penalized: Vec<f32>,
}

impl Sampler {
    /// `seed` is the resolved seed (see [`SamplingParams::seed`]).
    pub fn new(params: SamplingParams, seed: u64) -> Sampler {
        Sampler {
            params,
            rng: ChaCha8Rng::seed_from_u64(seed),
            cand: Vec::new(),
            hist: Vec::new(),
            edge: Vec::new(),
            weights: Vec::new(),
            isa: Isa::detect(),
            history: Vec::new(),
            counts: HashMap::new(),
            dry: HashMap::new(),
            penalized: Vec::new(),
        }
    }

    /// Runs the softmax on `isa` (the engine's resolved one, so `--isa` reaches the sampler
    /// too) instead of the fastest this CPU supports.
    pub fn with_isa(mut self, isa: Isa) -> Sampler {
        self.isa = isa;
        self
    }

    /// Picks a token id from `logits` after the penalties for the tokens
    /// picked so far (NaN logits are never picked unless all are NaN).
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let tok = self.with_penalties(logits, Self::draw);
        if self.params.penalizes() {
            self.history.push(tok);
            *self.counts.entry(tok).or_default() += 1;
        }
        tok
    }

    /// Runs `f` on `logits` minus the penalties earned by the tokens picked
    /// so far (on `logits` itself when there are none).
    fn with_penalties<R>(&mut self, logits: &[f32], f: impl FnOnce(&mut Self, &[f32]) -> R) -> R {
        if self.history.is_empty() {
            return f(self, logits);
        }
        let mut buf = std::mem::take(&mut self.penalized);
        buf.clear();
        buf.extend_from_slice(logits);
        let p = &self.params;
        for (&tok, &n) in &self.counts {
            if let Some(v) = buf.get_mut(tok as usize) {
                *v -= p.presence_penalty + n as f32 * p.frequency_penalty;
            }
        }
        if p.dry_multiplier > 0.0 {
            self.dry_repeats();
            let p = &self.params;
            for (&tok, &n) in &self.dry {
                if let Some(v) = buf.get_mut(tok as usize)
                    && n >= p.dry_allowed_length
                {
                    let exp = (n - p.dry_allowed_length) as f64;
                    let pen = p.dry_multiplier as f64 * (p.dry_base as f64).powf(exp);
                    *v -= pen.min(1e30) as f32;
                }
            }
        }
        let r = f(self, &buf);
        self.penalized = buf;
        r
    }

    /// Fills `dry` with, for each token that followed an earlier occurrence
    /// of the history's last token, the length of the longest repeat it would
    /// extend: how many tokens up to that occurrence equal the history's end.
    fn dry_repeats(&mut self) {
        self.dry.clear();
        let h = &self.history;
        let n = h.len();
        let last = h[n - 1];
        for j in 0..n - 1 {
            if h[j] != last {
                continue;
            }
            let mut len = 1;
            while len < MAX_DRY_MATCH && len <= j && h[j - len] == h[n - 1 - len] {
                len += 1;
            }
            let best = self.dry.entry(h[j + 1]).or_default();
            *best = (*best).max(len);
        }
    }

    fn draw(&mut self, logits: &[f32]) -> u32 {
        if self.params.temperature == 0.0 || self.params.top_k == Some(1) {
            return argmax(logits);
        }
        let r = self.rng.random::<f64>();
        if self.prepare(logits) {
            // No truncation: walk the whole distribution in token order.
            let total: f64 = self.weights.iter().map(|w| *w as f64).sum();
            if !(total > 0.0 && total.is_finite()) {
                return argmax(logits);
            }
            return walk(self.weights.iter().copied().zip(0u32..), r * total)
                .unwrap_or_else(|| argmax(logits));
        }
        let total: f64 = self.cand.iter().map(|c| c.0 as f64).sum();
        if !(total > 0.0 && total.is_finite()) {
            return argmax(logits);
        }
        walk(self.cand.iter().copied(), r * total).unwrap_or_else(|| argmax(logits))
    }

    /// The tokens sampling may return for `logits`, with unnormalised
    /// probabilities: after penalties, temperature, top-k then top-p. The
    /// order is fixed (deterministic) but not necessarily most-likely first.
    pub fn candidates(&mut self, logits: &[f32]) -> &[(f32, u32)] {
        self.with_penalties(logits, Self::fill_candidates);
        &self.cand
    }

    fn fill_candidates(&mut self, logits: &[f32]) {
        if self.params.temperature == 0.0 || self.params.top_k == Some(1) {
            self.cand.clear();
            self.cand.push((1.0, argmax(logits)));
        } else if self.prepare(logits) {
            self.cand.clear();
            self.cand.extend(self.weights.iter().copied().zip(0u32..));
        }
    }

    /// Computes the softmax weights, then the top-k / top-p candidates into
    /// `cand`. Returns true when nothing is truncated (then `cand` is not
    /// filled and sampling uses `weights` directly).
    fn prepare(&mut self, logits: &[f32]) -> bool {
        let p = &self.params;
        let inv_t = 1.0 / p.temperature;
        let max = kernels::max_ignoring_nan(logits);
        self.weights.resize(logits.len(), 0.0);
        kernels::softmax_weights(self.isa, logits, max, inv_t, &mut self.weights);
        let n = logits.len();
        let k = p.top_k.filter(|&k| k > 0).unwrap_or(n).min(n);
        if k < n {
            // Most likely first; ties broken by token id so the order is total.
            let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            self.cand.clear();
            self.cand.extend(self.weights.iter().copied().zip(0u32..));
            self.cand.select_nth_unstable_by(k - 1, order);
            self.cand.truncate(k);
            self.cand.sort_unstable_by(order);
            if p.top_p < 1.0 {
                let total: f64 = self.cand.iter().map(|c| c.0 as f64).sum();
                let target = p.top_p as f64 * total;
                let mut acc = 0.0;
                let mut keep = self.cand.len();
                for (i, c) in self.cand.iter().enumerate() {
                    acc += c.0 as f64;
                    if acc >= target {
                        keep = i + 1;
                        break;
                    }
                }
                self.cand.truncate(keep.max(1));
            }
            false
        } else if p.top_p < 1.0 {
            self.nucleus_by_buckets(p.top_p as f64);
            false
        } else {
            true
        }
    }

    /// Top-p without sorting the whole vocabulary: non-negative f32 bit
    /// patterns order like their values, so a histogram of probability mass
    /// over the high bits finds the bucket where the cumulative mass (from
    /// the top) crosses `top_p` of the total. Everything above it is kept, and
    /// only that one bucket is sorted. O(vocab) instead of O(vocab log vocab).
    fn nucleus_by_buckets(&mut self, top_p: f64) {
        const SHIFT: u32 = 19;
        self.hist.clear();
        self.hist.resize(1 << (31 - SHIFT), 0.0);
        for w in &self.weights {
            self.hist[(w.to_bits() >> SHIFT) as usize] += *w as f64;
        }
        let target = top_p * self.hist.iter().sum::<f64>();
        let mut acc = 0.0;
        let mut b = self.hist.len() - 1;
        while b > 0 && acc + self.hist[b] < target {
            acc += self.hist[b];
            b -= 1;
        }
        let edge_bucket = b as u32;
        self.cand.clear();
        self.edge.clear();
        for (w, t) in self.weights.iter().copied().zip(0u32..) {
            let k = w.to_bits() >> SHIFT;
            if k > edge_bucket {
                self.cand.push((w, t));
            } else if k == edge_bucket {
                self.edge.push((w, t));
            }
        }
        self.edge
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for c in &self.edge {
            if acc >= target && !self.cand.is_empty() {
                break;
            }
            self.cand.push(*c);
            acc += c.0 as f64;
        }
    }
}

/// The token where the running sum of weights first exceeds `r`.
fn walk(items: impl Iterator<Item = (f32, u32)>, r: f64) -> Option<u32> {
    let mut acc = 0.0;
    let mut last = None;
    for (p, t) in items {
        acc += p as f64;
        if p > 0.0 {
            last = Some(t);
        }
        if r < acc {
            return Some(t);
        }
    }
    last
}

/// A token's log-probability and the `(id, log-probability)` of the likeliest tokens.
pub type LogProbs = (f32, Vec<(u32, f32)>);

/// Log-probabilities (natural log) of `chosen` and of the `k` most likely tokens under
/// `softmax(logits)` (temperature 1, nothing truncated), most likely first with ties
/// broken by id. NaN logits count as impossible.
pub fn log_probs(logits: &[f32], chosen: u32, k: usize) -> LogProbs {
    let max = logits
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| ((v - max) as f64).exp())
        .sum();
    let lse = max as f64 + sum.ln();
    let lp = |v: f32| {
        if v.is_nan() {
            f32::NEG_INFINITY
        } else {
            (v as f64 - lse) as f32
        }
    };
    // The k best so far, kept sorted (k is small: at most MAX_TOP_LOGPROBS).
    let better = |a: (u32, f32), b: (u32, f32)| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k > 0 {
        for (i, &v) in logits.iter().enumerate() {
            let c = (i as u32, if v.is_nan() { f32::NEG_INFINITY } else { v });
            if top.len() == k && !better(c, top[k - 1]) {
                continue;
            }
            let at = top.partition_point(|&t| better(t, c));
            top.insert(at, c);
            top.truncate(k);
        }
    }
    let chosen_lp = logits
        .get(chosen as usize)
        .map_or(f32::NEG_INFINITY, |&v| lp(v));
    (
        chosen_lp,
        top.into_iter().map(|(i, v)| (i, lp(v))).collect(),
    )
}

/// Index of the largest logit (lowest index on ties; NaN ignored).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(t: f32, k: Option<usize>, p: f32) -> SamplingParams {
        SamplingParams {
            temperature: t,
            top_k: k,
            top_p: p,
            seed: None,
            ..Default::default()
        }
    }

    fn logits_strategy() -> impl Strategy<Value = Vec<f32>> {
        proptest::collection::vec(-8f32..8.0, 1..300)
    }

    #[test]
    fn log_probs_normalise_and_rank() {
        let logits = [1.0f32, 3.0, f32::NAN, 3.0, -2.0];
        let (chosen, top) = log_probs(&logits, 0, 3);
        let z: f64 = [1.0f64, 3.0, 3.0, -2.0].iter().map(|v| v.exp()).sum();
        assert!((chosen as f64 - (1.0 - z.ln())).abs() < 1e-6);
        let ids: Vec<u32> = top.iter().map(|t| t.0).collect();
        assert_eq!(ids, [1, 3, 0], "most likely first, ties by id");
        assert_eq!(top[0].1, top[1].1);
        assert_eq!(log_probs(&logits, 2, 0), (f32::NEG_INFINITY, vec![]));
        let all: f64 = log_probs(&logits, 0, 5)
            .1
            .iter()
            .map(|t| (t.1 as f64).exp())
            .sum();
        assert!((all - 1.0).abs() < 1e-6, "{all}");
    }

    proptest! {
        #[test]
        fn top_k_never_returns_a_token_outside_the_k_best(
            logits in logits_strategy(), k in 1usize..20, t in 0.1f32..3.0, seed in any::<u64>()
        ) {
            let mut s = Sampler::new(params(t, Some(k), 1.0), seed);
            for _ in 0..20 {
                let tok = s.sample(&logits) as usize;
                let v = logits[tok];
                let better = logits.iter().filter(|l| **l > v).count();
                prop_assert!(better < k, "token {tok} has {better} better logits, k={k}");
            }
        }

        #[test]
        fn top_p_keeps_the_smallest_set_reaching_p(
            logits in logits_strategy(), top_p in 0.05f32..1.0, t in 0.2f32..2.0, seed in any::<u64>()
        ) {
            let mut s = Sampler::new(params(t, None, top_p), seed);
            let kept: Vec<(f32, u32)> = s.candidates(&logits).to_vec();
            // Full distribution for reference.
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let w: Vec<f64> = logits.iter().map(|l| (((l - max) / t) as f64).exp()).collect();
            let total: f64 = w.iter().sum();
            let mass: f64 = kept.iter().map(|c| w[c.1 as usize]).sum::<f64>() / total;
            prop_assert!(mass >= top_p as f64 - 1e-5, "kept mass {mass} < {top_p}");
            // Smallest: without its least likely member the set falls short.
            let least = kept.iter().map(|c| w[c.1 as usize]).fold(f64::INFINITY, f64::min);
            prop_assert!(mass - least / total < top_p as f64 + 1e-5);
            // Most likely first: nothing dropped beats anything kept.
            let kept_ids: std::collections::HashSet<u32> = kept.iter().map(|c| c.1).collect();
            for (i, wi) in w.iter().enumerate() {
                if !kept_ids.contains(&(i as u32)) {
                    prop_assert!(*wi <= least * (1.0 + 1e-6));
                }
            }
            for _ in 0..10 {
                let tok = s.sample(&logits);
                prop_assert!(kept_ids.contains(&tok));
            }
        }

        #[test]
        fn same_seed_gives_the_same_tokens(
            logits in logits_strategy(), seed in any::<u64>(), k in proptest::option::of(1usize..50), top_p in 0.1f32..1.0
        ) {
            let mut a = Sampler::new(params(0.9, k, top_p), seed);
            let mut b = Sampler::new(params(0.9, k, top_p), seed);
            let ta: Vec<u32> = (0..30).map(|_| a.sample(&logits)).collect();
            let tb: Vec<u32> = (0..30).map(|_| b.sample(&logits)).collect();
            prop_assert_eq!(ta, tb);
        }

        #[test]
        fn greedy_is_argmax(logits in logits_strategy(), seed in any::<u64>()) {
            let mut s = Sampler::new(SamplingParams::greedy(), seed);
            let tok = s.sample(&logits) as usize;
            prop_assert!(logits.iter().all(|l| *l <= logits[tok]));
        }
    }

    #[test]
    fn sampling_follows_the_distribution() {
        // Two tokens with probabilities 0.75 / 0.25 at temperature 1.
        let logits = [0.0f32, (1f32 / 3.0).ln()];
        let mut s = Sampler::new(params(1.0, None, 1.0), 7);
        let n = 20_000;
        let zeros = (0..n).filter(|_| s.sample(&logits) == 0).count();
        let frac = zeros as f64 / n as f64;
        assert!((frac - 0.75).abs() < 0.02, "{frac}");
        // Different seeds give different streams.
        let mut a = Sampler::new(params(1.0, None, 1.0), 1);
        let mut b = Sampler::new(params(1.0, None, 1.0), 2);
        let wide: Vec<f32> = (0..100).map(|i| (i % 7) as f32 * 0.1).collect();
        let ta: Vec<u32> = (0..50).map(|_| a.sample(&wide)).collect();
        let tb: Vec<u32> = (0..50).map(|_| b.sample(&wide)).collect();
        assert_ne!(ta, tb);
    }

    #[test]
    fn top_k_zero_draws_as_no_top_k() {
        let logits: Vec<f32> = (0..300).map(|i| ((i * 37) % 101) as f32 / 20.0).collect();
        let mut off = Sampler::new(params(0.7, None, 0.9), 5);
        let mut zero = Sampler::new(params(0.7, Some(0), 0.9), 5);
        for _ in 0..50 {
            assert_eq!(off.sample(&logits), zero.sample(&logits));
        }
    }

    #[test]
    fn presence_penalty_counts_a_token_once() {
        let p = SamplingParams {
            presence_penalty: 1.0,
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(p, 0);
        let logits = [2.0, 1.5, 0.0];
        let picked: Vec<u32> = (0..5).map(|_| s.sample(&logits)).collect();
        // 0 drops to 1.0 and 1 to 0.5 after one use each, whatever comes later.
        assert_eq!(picked, [0, 1, 0, 0, 0]);
    }

    #[test]
    fn frequency_penalty_grows_with_each_use() {
        let p = SamplingParams {
            frequency_penalty: 0.3,
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(p, 0);
        let logits = [2.0, 1.5, 0.0];
        let picked: Vec<u32> = (0..6).map(|_| s.sample(&logits)).collect();
        // 2.0 - 0.3n against 1.5 - 0.3m: 0, 0 (1.4 < 1.5), 1, 0, 1, 0.
        assert_eq!(picked, [0, 0, 1, 0, 1, 0]);
        // The caller's logits are never modified.
        assert_eq!(logits, [2.0, 1.5, 0.0]);
    }

    #[test]
    fn candidates_see_the_penalties() {
        let p = SamplingParams {
            presence_penalty: 2.0,
            top_k: Some(1),
            ..Default::default()
        };
        let mut s = Sampler::new(p, 0);
        let logits = [1.0, 0.5];
        assert_eq!(s.sample(&logits), 0);
        assert_eq!(s.candidates(&logits), [(1.0, 1)]);
    }

    /// A greedy sampler with DRY on, fed `history` by one-hot logits; returns
    /// the logits it would sample the next token from, for all-zero logits.
    fn dry_view(history: &[u32], multiplier: f32, base: f32, allowed: usize) -> Vec<f32> {
        let p = SamplingParams {
            dry_multiplier: multiplier,
            dry_base: base,
            dry_allowed_length: allowed,
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(p, 0);
        for &t in history {
            let mut forced = vec![0.0; 10];
            forced[t as usize] = 1e6;
            assert_eq!(s.sample(&forced), t);
        }
        s.with_penalties(&[0.0; 10], |_, l| l.to_vec())
    }

    #[test]
    fn dry_penalises_the_token_that_would_extend_a_repeat() {
        // The history ends with 1 2 3, which occurred before followed by 9:
        // a repeat of 3 tokens, 1 past the allowed 2, costs 9 `1.5 * 2^1`.
        let l = dry_view(&[5, 1, 2, 3, 9, 1, 2, 3], 1.5, 2.0, 2);
        let mut want = [0.0; 10];
        want[9] = -3.0;
        assert_eq!(l, want);
        // A longer allowance leaves it alone.
        assert_eq!(dry_view(&[5, 1, 2, 3, 9, 1, 2, 3], 1.5, 2.0, 4), [0.0; 10]);
        // A word that merely recurs (7) is no repeat of length 2: 4 stays free.
        assert_eq!(dry_view(&[7, 4, 7], 1.0, 1.75, 2), [0.0; 10]);
        // Of two earlier occurrences, the longer repeat sets the penalty:
        // after 2 3, token 4 would extend 1 2 3 (3 tokens), token 6 only 2 3.
        let l = dry_view(&[1, 2, 3, 4, 2, 3, 6, 1, 2, 3], 1.0, 2.0, 2);
        assert_eq!((l[4], l[6]), (-2.0, -1.0));
    }

    #[test]
    fn dry_breaks_a_greedy_loop() {
        // Logits that always prefer continuing the cycle 0 → 1 → 2 → 0, with
        // token 3 a close second: without DRY greedy loops forever.
        let next = |last: u32| {
            let mut l = [0.0f32; 4];
            l[((last + 1) % 3) as usize] = 2.0;
            l[3] = 1.5;
            l
        };
        let run = |multiplier: f32| {
            let p = SamplingParams {
                dry_multiplier: multiplier,
                ..SamplingParams::greedy()
            };
            let mut s = Sampler::new(p, 0);
            let mut out = vec![0u32];
            for _ in 0..12 {
                let t = s.sample(&next(*out.last().unwrap()));
                out.push(t);
            }
            out
        };
        assert!(!run(0.0).contains(&3));
        assert!(run(0.8).contains(&3));
    }

    #[test]
    fn nan_logits_are_not_picked() {
        let logits = [f32::NAN, 1.0, f32::NAN, 0.5];
        assert_eq!(argmax(&logits), 1);
        let mut s = Sampler::new(params(1.0, None, 0.9), 3);
        for _ in 0..50 {
            let t = s.sample(&logits);
            assert!(t == 1 || t == 3);
        }
    }
}
