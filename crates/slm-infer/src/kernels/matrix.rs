//! A weight matrix `[rows, cols]` (row = output feature) held in the
//! precision chosen at load time, and the batched matrix product
//! `y[m, rows] = x[m, cols] · Wᵀ` that reads every weight once per step
//! however many sequences share it.

use half::{bf16, f16};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Bf16Row, F16Row, F32Row, Isa, MatmulRows, Q8_BLOCK, Q8Row, TILE, Widen, dispatch};

/// Evaluates `$body` with `$row` bound to a function from row index to that
/// row's [`Row`] view, once per storage precision (a closure cannot be
/// generic over the view type).
macro_rules! with_rows {
    ($m:expr, |$row:ident| $body:expr) => {{
        let k = $m.cols;
        match &$m.data {
            Storage::F32(v) => {
                let $row = |o: usize| F32Row(&v[o * k..(o + 1) * k]);
                $body
            }
            Storage::F16(v) => {
                let $row = |o: usize| F16Row(&v[o * k..(o + 1) * k]);
                $body
            }
            Storage::Bf16(v) => {
                let $row = |o: usize| Bf16Row(&v[o * k..(o + 1) * k]);
                $body
            }
            Storage::Q8 { q, scales } => {
                let b = k / Q8_BLOCK;
                let $row = |o: usize| Q8Row {
                    q: &q[o * k..(o + 1) * k],
                    scales: &scales[o * b..(o + 1) * b],
                };
                $body
            }
        }
    }};
}

/// Precision the weight matrices are kept in after loading (the file's own precision is
/// `slm_model::FileDtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightDtype {
    F32,
    /// Half the memory traffic of f32; widened in registers (F16C, or a
    /// branch-free bit trick where the ISA has no conversion instruction).
    F16,
    Bf16,
    /// Symmetric int8 in blocks of 32 with one f32 scale each (the Q8_0
    /// idea), quantised at load; a quarter of f32's memory traffic. Only an
    /// in-memory precision: model files hold f32, f16 or bf16. The default: fastest on
    /// every ISA measured and within 0.0001 bits/byte of f16 on the bundled model
    /// (bench/results/q8-quality.json).
    #[default]
    Q8,
}

impl WeightDtype {
    pub fn name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "f32",
            WeightDtype::F16 => "f16",
            WeightDtype::Bf16 => "bf16",
            WeightDtype::Q8 => "q8",
        }
    }
}

impl std::str::FromStr for WeightDtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(WeightDtype::F32),
            "f16" => Ok(WeightDtype::F16),
            "bf16" => Ok(WeightDtype::Bf16),
            "q8" => Ok(WeightDtype::Q8),
            other => Err(format!(
                "unknown weight dtype {other:?} (f32, f16, bf16, q8)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
enum Storage {
    F32(Vec<f32>),
    F16(Vec<u16>),
    Bf16(Vec<u16>),
    /// `q[rows × cols]`, `scales[rows × cols / Q8_BLOCK]`.
    Q8 {
        q: Vec<i8>,
        scales: Vec<f32>,
    },
}

/// Row-major weight matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Storage,
}

/// A raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut(pub *mut f32);
// SAFETY: tasks that use it write disjoint index sets and the owner waits for all of them.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Pointer to element `i`. A method (not field access) so closures
    /// capture the whole `Send + Sync` wrapper, not the raw pointer.
    #[inline]
    pub(crate) fn at(&self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

/// Symmetric int8 quantisation of `values` (a whole number of blocks): each
/// block's largest magnitude maps to ±127.
fn quantize_q8(values: &[f32]) -> (Vec<i8>, Vec<f32>) {
    debug_assert_eq!(values.len() % Q8_BLOCK, 0);
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len() / Q8_BLOCK);
    for block in values.chunks_exact(Q8_BLOCK) {
        let amax = block.iter().fold(0f32, |a, v| a.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        q.extend(
            block
                .iter()
                .map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8),
        );
        scales.push(scale);
    }
    (q, scales)
}

impl Matrix {
    /// Builds from f32 values, rounding to `dtype`. A q8 matrix whose rows
    /// are not a whole number of 32-value blocks is kept in f16 instead ([`Matrix::dtype`]
    /// says which; the model loader logs it).
    pub fn from_f32(rows: usize, cols: usize, values: &[f32], dtype: WeightDtype) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix data length");
        let data = match dtype {
            WeightDtype::F32 => Storage::F32(values.to_vec()),
            WeightDtype::Q8 if cols.is_multiple_of(Q8_BLOCK) => {
                let (q, scales) = quantize_q8(values);
                Storage::Q8 { q, scales }
            }
            WeightDtype::F16 | WeightDtype::Q8 => {
                Storage::F16(values.iter().map(|v| f16::from_f32(*v).to_bits()).collect())
            }
            WeightDtype::Bf16 => Storage::Bf16(
                values
                    .iter()
                    .map(|v| bf16::from_f32(*v).to_bits())
                    .collect(),
            ),
        };
        Matrix { rows, cols, data }
    }

    /// Builds from f16 values, converting to `dtype` (no rounding when it is f16).
    pub fn from_f16(rows: usize, cols: usize, values: Vec<f16>, dtype: WeightDtype) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix data length");
        match dtype {
            WeightDtype::F16 => Matrix {
                rows,
                cols,
                data: Storage::F16(values.iter().map(|v| v.to_bits()).collect()),
            },
            _ => {
                let f: Vec<f32> = values.iter().map(|v| v.to_f32()).collect();
                Matrix::from_f32(rows, cols, &f, dtype)
            }
        }
    }

    /// Builds from bf16 values, converting to `dtype` (no rounding when it is bf16).
    pub fn from_bf16(rows: usize, cols: usize, values: Vec<bf16>, dtype: WeightDtype) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix data length");
        match dtype {
            WeightDtype::Bf16 => Matrix {
                rows,
                cols,
                data: Storage::Bf16(values.iter().map(|v| v.to_bits()).collect()),
            },
            _ => {
                let f: Vec<f32> = values.iter().map(|v| v.to_f32()).collect();
                Matrix::from_f32(rows, cols, &f, dtype)
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The precision the weights are held in.
    pub fn dtype(&self) -> WeightDtype {
        match self.data {
            Storage::F32(_) => WeightDtype::F32,
            Storage::F16(_) => WeightDtype::F16,
            Storage::Bf16(_) => WeightDtype::Bf16,
            Storage::Q8 { .. } => WeightDtype::Q8,
        }
    }

    /// Bytes held by the weights (and their scales).
    pub fn bytes(&self) -> usize {
        match &self.data {
            Storage::F32(v) => v.len() * 4,
            Storage::F16(v) | Storage::Bf16(v) => v.len() * 2,
            Storage::Q8 { q, scales } => q.len() + scales.len() * 4,
        }
    }

    /// Widens (or dequantises) row `r` into `out` (`out.len() == cols`).
    pub fn row_to_f32(&self, isa: Isa, r: usize, out: &mut [f32]) {
        let out = &mut out[..self.cols];
        with_rows!(self, |row| dispatch(isa, Widen { row: row(r), out }));
    }

    /// Keeps the first `rows` rows (no-op when it holds fewer), releasing the rest.
    pub fn truncate_rows(&mut self, rows: usize) {
        fn cut<T>(v: &mut Vec<T>, n: usize) {
            v.truncate(n);
            v.shrink_to_fit();
        }
        if rows >= self.rows {
            return;
        }
        let n = rows * self.cols;
        match &mut self.data {
            Storage::F32(v) => cut(v, n),
            Storage::F16(v) | Storage::Bf16(v) => cut(v, n),
            Storage::Q8 { q, scales } => {
                cut(q, n);
                cut(scales, n / Q8_BLOCK);
            }
        }
        self.rows = rows;
    }

    /// Stacks matrices with equal `cols` and dtype vertically (e.g. fused Q/K/V).
    pub fn vstack(parts: &[Matrix]) -> Matrix {
        let cols = parts[0].cols;
        assert!(
            parts
                .iter()
                .all(|p| p.cols == cols && p.dtype() == parts[0].dtype()),
            "vstack of mismatched matrices"
        );
        let rows = parts.iter().map(|p| p.rows).sum();
        let data = match &parts[0].data {
            Storage::F32(_) => Storage::F32(parts.iter().flat_map(|p| p.f32s()).copied().collect()),
            Storage::F16(_) => {
                Storage::F16(parts.iter().flat_map(|p| p.halves()).copied().collect())
            }
            Storage::Bf16(_) => {
                Storage::Bf16(parts.iter().flat_map(|p| p.halves()).copied().collect())
            }
            Storage::Q8 { .. } => {
                let (mut q, mut scales) = (Vec::new(), Vec::new());
                for p in parts {
                    if let Storage::Q8 { q: pq, scales: ps } = &p.data {
                        q.extend_from_slice(pq);
                        scales.extend_from_slice(ps);
                    }
                }
                Storage::Q8 { q, scales }
            }
        };
        Matrix { rows, cols, data }
    }

    fn f32s(&self) -> &[f32] {
        match &self.data {
            Storage::F32(v) => v,
            _ => &[],
        }
    }

    fn halves(&self) -> &[u16] {
        match &self.data {
            Storage::F16(v) | Storage::Bf16(v) => v,
            _ => &[],
        }
    }

    /// `y[i, o] = x[i, :] · W[o, :]` for `i < m`; `x` is `m × cols`, `y` is
    /// `m × rows`. Parallel over output rows on the current rayon pool.
    pub fn matmul(&self, isa: Isa, x: &[f32], m: usize, y: &mut [f32]) {
        let (n, k) = (self.rows, self.cols);
        assert!(x.len() >= m * k && y.len() >= m * n, "matmul buffer sizes");
        if m == 0 {
            return;
        }
        let tiles = n.div_ceil(TILE);
        let threads = rayon::current_num_threads().max(1);
        // A few tasks per thread balance uneven tails without much overhead.
        let tasks = if n * k * m < 32 * 1024 {
            1
        } else {
            (threads * 4).min(tiles)
        };
        let per_task = tiles.div_ceil(tasks);
        let out = SharedOut(y.as_mut_ptr());
        let run = |t: usize| {
            let r0 = t * per_task * TILE;
            let r1 = ((t + 1) * per_task * TILE).min(n);
            if r0 < r1 {
                with_rows!(self, |row| {
                    dispatch(
                        isa,
                        MatmulRows {
                            x,
                            m,
                            k,
                            n,
                            r0,
                            r1,
                            row,
                            y: out.at(0),
                        },
                    )
                });
            }
        };
        if tasks == 1 {
            run(0);
        } else {
            (0..tasks).into_par_iter().for_each(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(x: &[f32], m: usize, w: &[f32], n: usize, k: usize) -> Vec<f64> {
        let mut y = vec![0f64; m * n];
        for i in 0..m {
            for o in 0..n {
                y[i * n + o] = (0..k)
                    .map(|c| x[i * k + c] as f64 * w[o * k + c] as f64)
                    .sum();
            }
        }
        y
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn matmul_matches_reference_and_is_batch_independent(
            m in 1usize..14, n in 1usize..40,
            k in prop_oneof![1usize..70, (1usize..4).prop_map(|b| b * Q8_BLOCK)], seed in any::<u64>()
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            for dtype in [WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16, WeightDtype::Q8] {
                let mat = Matrix::from_f32(n, k, &w, dtype);
                // Reference on the rounded weights, so only accumulation error remains.
                let mut wr = vec![0f32; n * k];
                for o in 0..n {
                    mat.row_to_f32(Isa::Portable, o, &mut wr[o * k..(o + 1) * k]);
                }
                let expect = reference(&x, m, &wr, n, k);
                for isa in Isa::available() {
                    let mut y = vec![0f32; m * n];
                    mat.matmul(isa, &x, m, &mut y);
                    for (a, b) in y.iter().zip(&expect) {
                        prop_assert!((*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()), "{dtype:?} {isa:?} {a} vs {b}");
                    }
                    // Each row alone gives bit-identical results.
                    for i in 0..m {
                        let mut yi = vec![0f32; n];
                        mat.matmul(isa, &x[i * k..(i + 1) * k], 1, &mut yi);
                        prop_assert_eq!(&yi[..], &y[i * n..(i + 1) * n]);
                    }
                    // Keeping only the first rows gives those rows' outputs bit for bit.
                    let cut = 1 + (seed as usize % n);
                    let mut head = mat.clone();
                    head.truncate_rows(cut);
                    prop_assert_eq!(head.rows(), cut);
                    let mut yc = vec![0f32; m * cut];
                    head.matmul(isa, &x, m, &mut yc);
                    for i in 0..m {
                        prop_assert_eq!(&yc[i * cut..(i + 1) * cut], &y[i * n..i * n + cut]);
                    }
                }
            }
        }
    }

    #[test]
    fn q8_round_trip_error_is_within_half_a_step_per_block() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (rows, cols) = (5, 3 * Q8_BLOCK);
        let mut w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random_range(-0.2..0.2))
            .collect();
        w[..Q8_BLOCK].fill(0.0); // an all-zero block keeps scale 0 and stays exact
        let m = Matrix::from_f32(rows, cols, &w, WeightDtype::Q8);
        assert_eq!(m.dtype(), WeightDtype::Q8);
        assert_eq!(m.bytes(), rows * cols + rows * cols / Q8_BLOCK * 4);
        let mut back = vec![0f32; cols];
        for r in 0..rows {
            m.row_to_f32(Isa::Portable, r, &mut back);
            for (b, block) in w[r * cols..(r + 1) * cols].chunks(Q8_BLOCK).enumerate() {
                let step = block.iter().fold(0f32, |a, v| a.max(v.abs())) / 127.0;
                for (i, v) in block.iter().enumerate() {
                    let got = back[b * Q8_BLOCK + i];
                    assert!((got - v).abs() <= 0.5 * step * 1.0001, "{got} vs {v}");
                }
            }
        }
        // Rows that are not whole blocks fall back to f16.
        assert_eq!(
            Matrix::from_f32(1, 33, &[0.5; 33], WeightDtype::Q8).dtype(),
            WeightDtype::F16
        );
    }
}
