//! Element-wise and per-head operations of the Transformer block, written
//! exactly as docs/architecture.md states them.

use super::{self as kernels, Isa};

/// `out = x / sqrt(mean(x²) + eps) * w`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ss: f32 = x.iter().map(|v| v * v).sum();
    let inv = 1.0 / (ss / x.len() as f32 + eps).sqrt();
    for ((o, v), g) in out.iter_mut().zip(x).zip(w) {
        *o = v * inv * g;
    }
}

/// Rotary-embedding cosines and sines for every position, "rotate half" form.
#[derive(Debug, Clone)]
pub struct RopeTable {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    pub fn new(head_dim: usize, max_seq_len: usize, theta: f64) -> RopeTable {
        let half = head_dim / 2;
        // The same tables as the Burn model, by construction.
        let (cos, sin) = slm_model::rope_tables(head_dim, max_seq_len, theta);
        RopeTable { half, cos, sin }
    }

    /// Rotates every head (of `head_dim = 2 * half`) in `x` for position `pos`.
    pub fn apply(&self, x: &mut [f32], pos: usize) {
        let h = self.half;
        let cos = &self.cos[pos * h..(pos + 1) * h];
        let sin = &self.sin[pos * h..(pos + 1) * h];
        for head in x.chunks_exact_mut(2 * h) {
            let (a, b) = head.split_at_mut(h);
            for i in 0..h {
                let (x0, x1) = (a[i], b[i]);
                a[i] = x0 * cos[i] - x1 * sin[i];
                b[i] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

/// `gate_up` holds `[gate | up]` (each `hidden` long); writes `silu(gate) * up`.
pub fn swiglu(gate_up: &[f32], out: &mut [f32]) {
    let hidden = out.len();
    let (g, u) = gate_up.split_at(hidden);
    for ((o, g), u) in out.iter_mut().zip(g).zip(u) {
        *o = g / (1.0 + (-g).exp()) * u;
    }
}

/// Causal attention of one query head over `n_keys` cached positions; see
/// [`kernels::Attend`].
#[allow(clippy::too_many_arguments)]
pub fn attend(
    isa: Isa,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    stride: usize,
    n_keys: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    kernels::dispatch(
        isa,
        kernels::Attend {
            q,
            keys,
            values,
            stride,
            n_keys,
            scores,
            out,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_gives_unit_rms() {
        let x = [3.0f32, -4.0, 0.0, 5.0];
        let w = [1.0f32; 4];
        let mut out = [0f32; 4];
        rms_norm(&x, &w, 0.0, &mut out);
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
        assert!((out[0] / out[1] + 0.75).abs() < 1e-6);
    }

    #[test]
    fn rope_rotates_pairs_half_apart_and_keeps_norm() {
        let t = RopeTable::new(4, 8, 10000.0);
        let mut x = [1.0f32, 0.0, 0.0, 0.0];
        t.apply(&mut x, 0);
        assert_eq!(x, [1.0, 0.0, 0.0, 0.0]);
        t.apply(&mut x, 1);
        // pair (x[0], x[2]) rotated by angle 1 * theta^0 = 1 rad
        assert!((x[0] - 1f32.cos()).abs() < 1e-6 && (x[2] - 1f32.sin()).abs() < 1e-6);
        assert_eq!(x[1], 0.0);
        let mut y = [0.3f32, -0.7, 1.1, 0.2];
        let n0: f32 = y.iter().map(|v| v * v).sum();
        t.apply(&mut y, 5);
        let n1: f32 = y.iter().map(|v| v * v).sum();
        assert!((n0 - n1).abs() < 1e-5);
    }

    #[test]
    fn attention_over_one_key_returns_its_value_and_weights_sum_to_one() {
        let q = [1.0f32, 0.0];
        let keys = [0.5f32, 0.5, 9.0, 9.0, -1.0, 2.0];
        let values = [1.0f32, 2.0, 0.0, 0.0, 0.0, 0.0];
        let mut scores = [0f32; 3];
        let mut out = [0f32; 2];
        attend(
            Isa::Portable,
            &q,
            &keys,
            &values,
            2,
            1,
            &mut scores,
            &mut out,
        );
        assert_eq!(out, [1.0, 2.0]);
        // Equal values everywhere: output equals that value whatever the scores.
        let values = [3.0f32, -1.0, 3.0, -1.0, 3.0, -1.0];
        attend(
            Isa::detect(),
            &q,
            &keys,
            &values,
            2,
            3,
            &mut scores,
            &mut out,
        );
        assert!((out[0] - 3.0).abs() < 1e-5 && (out[1] + 1.0).abs() < 1e-5);
    }

    #[test]
    fn swiglu_matches_formula() {
        let gu = [1.0f32, -2.0, 3.0, 4.0];
        let mut out = [0f32; 2];
        swiglu(&gu, &mut out);
        let silu = |g: f32| g / (1.0 + (-g).exp());
        assert!((out[0] - silu(1.0) * 3.0).abs() < 1e-6);
        assert!((out[1] - silu(-2.0) * 4.0).abs() < 1e-6);
    }
}
