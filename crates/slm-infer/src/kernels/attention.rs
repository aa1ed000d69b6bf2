//! Causal attention of one query head over the KV cache.

use super::tile::tile;
use super::{F32Row, Kernel, Simd, TILE, exp_nonpositive, max_ignoring_nan};

/// Causal attention of one query head over `n_keys` cached positions.
///
/// `keys`/`values` start at this KV head's first element of position 0 and
/// advance by `stride` floats per position; `scores` is scratch of at least
/// `n_keys`.
pub struct Attend<'a> {
    pub q: &'a [f32],
    pub keys: &'a [f32],
    pub values: &'a [f32],
    pub stride: usize,
    pub n_keys: usize,
    pub scores: &'a mut [f32],
    pub out: &'a mut [f32],
}

impl Kernel for Attend<'_> {
    type Out = ();
    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let hd = self.q.len();
        let (stride, n) = (self.stride, self.n_keys);
        assert!(n >= 1 && self.scores.len() >= n && self.out.len() == hd);
        assert!(
            self.keys.len() >= (n - 1) * stride + hd && self.values.len() >= (n - 1) * stride + hd
        );
        let scale = 1.0 / (hd as f32).sqrt();
        let key = |t: usize| F32Row(&self.keys[t * stride..t * stride + hd]);
        let mut t = 0;
        while t < n {
            let here = TILE.min(n - t);
            let w: [F32Row; TILE] = std::array::from_fn(|j| key(t + j.min(here - 1)));
            let [r] = unsafe { tile::<S, F32Row, 1>([self.q], w, hd) };
            for (s, v) in self.scores[t..t + here].iter_mut().zip(r) {
                *s = v * scale;
            }
            t += here;
        }
        let scores = &mut self.scores[..n];
        // Separate passes so each vectorises: a running f32 sum inside the
        // exp loop kept it scalar, a fifth of a decode step at 256 keys.
        let max = max_ignoring_nan(scores);
        for s in scores.iter_mut() {
            *s = exp_nonpositive(*s - max);
        }
        let inv = 1.0 / lane_sum(scores);
        for s in scores.iter_mut() {
            *s *= inv;
        }
        // out = Σ_t p_t · v_t, a few output vectors at a time held in
        // registers across all keys (accumulating through `out` in memory
        // chained every key's FMA behind the previous store).
        let (out, values) = (self.out, self.values);
        let (pv, po) = (values.as_ptr(), out.as_mut_ptr());
        let mut c = 0;
        unsafe {
            while c + 4 * S::LANES <= hd {
                let mut acc = [S::zero(); 4];
                for (t, p) in scores.iter().enumerate() {
                    let p = S::splat(*p);
                    let v = pv.add(t * stride + c);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = S::fma(p, S::load(v.add(j * S::LANES)), *a);
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    S::store(po.add(c + j * S::LANES), *a);
                }
                c += 4 * S::LANES;
            }
            while c + S::LANES <= hd {
                let mut acc = S::zero();
                for (t, p) in scores.iter().enumerate() {
                    acc = S::fma(S::splat(*p), S::load(pv.add(t * stride + c)), acc);
                }
                S::store(po.add(c), acc);
                c += S::LANES;
            }
        }
        for (i, o) in out.iter_mut().enumerate().skip(c) {
            *o = 0.0;
            for (t, p) in scores.iter().enumerate() {
                *o += p * values[t * stride + i];
            }
        }
    }
}

/// Sum of `x` in eight running partial sums (so it vectorises), then added
/// in a fixed order.
#[inline(always)]
fn lane_sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        acc[l] += v;
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}
