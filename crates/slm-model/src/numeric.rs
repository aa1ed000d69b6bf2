//! Scalar math shared by the inference kernels and the training loss (Burn-free).

/// `exp(x)` for `x <= 0` (NaN maps to 0).
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Round to nearest by adding 1.5 * 2^23: vectorises without SSE4.1 `roundps`.
    const MAGIC: f32 = 12_582_912.0;
    let ok = x >= -87.0; // false for NaN too
    let xc = if ok { x } else { -87.0 };
    let n = (xc * LOG2E + MAGIC) - MAGIC;
    let r = xc - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let pow2 = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if ok { e * pow2 } else { 0.0 }
}

/// Lanes of the running maxima below.
const LANES: usize = 16;

/// Largest value, NaN ignored (`-inf` for empty or all-NaN input). Sixteen
/// running maxima so the loop vectorises.
pub fn max_ignoring_nan(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            // `>` is false for NaN, so NaN never wins.
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        m[l] = if *v > m[l] { *v } else { m[l] };
    }
    m.into_iter().fold(f32::NEG_INFINITY, f32::max)
}
