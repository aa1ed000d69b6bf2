//! A weight matrix `[rows, cols]` (row = output feature) held in the
//! precision chosen at load time, and the batched matrix product
//! `y[m, rows] = x[m, cols] · Wᵀ` that reads every weight once per step
//! however many sequences share it.

use std::cell::RefCell;

use half::{bf16, f16};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::simd::{self, Isa};

/// Precision the weights are kept in after loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightDtype {
    F32,
    /// Half the memory traffic of f32; widening is one instruction on AVX-512.
    #[default]
    F16,
    Bf16,
}

impl WeightDtype {
    pub fn name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "f32",
            WeightDtype::F16 => "f16",
            WeightDtype::Bf16 => "bf16",
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            WeightDtype::F32 => 4,
            WeightDtype::F16 | WeightDtype::Bf16 => 2,
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
            other => Err(format!("unknown weight dtype {other:?} (f32, f16, bf16)")),
        }
    }
}

#[derive(Debug, Clone)]
enum Storage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

/// Row-major weight matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Storage,
}

/// Rows converted per tile; matches `simd::dot4`.
const TILE: usize = 4;

thread_local! {
    // Per-thread widening buffer for one tile of rows; grows once, then reused.
    static TILE_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
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

impl Matrix {
    /// Builds from f32 values, rounding to `dtype`.
    pub fn from_f32(rows: usize, cols: usize, values: &[f32], dtype: WeightDtype) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix data length");
        let data = match dtype {
            WeightDtype::F32 => Storage::F32(values.to_vec()),
            WeightDtype::F16 => Storage::F16(values.iter().map(|v| f16::from_f32(*v)).collect()),
            WeightDtype::Bf16 => Storage::Bf16(values.iter().map(|v| bf16::from_f32(*v)).collect()),
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
                data: Storage::F16(values),
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
                data: Storage::Bf16(values),
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

    /// Bytes held by the weights.
    pub fn bytes(&self) -> usize {
        let per = match self.data {
            Storage::F32(_) => 4,
            Storage::F16(_) | Storage::Bf16(_) => 2,
        };
        self.rows * self.cols * per
    }

    /// Widens row `r` into `out` (`out.len() == cols`).
    pub fn row_to_f32(&self, isa: Isa, r: usize, out: &mut [f32]) {
        let range = r * self.cols..(r + 1) * self.cols;
        match &self.data {
            Storage::F32(v) => out.copy_from_slice(&v[range]),
            Storage::F16(v) => simd::f16_to_f32(isa, &v[range], out),
            Storage::Bf16(v) => simd::bf16_to_f32(&v[range], out),
        }
    }

    /// Keeps the first `rows` rows (no-op when it holds fewer), releasing the rest.
    pub fn truncate_rows(&mut self, rows: usize) {
        if rows >= self.rows {
            return;
        }
        let n = rows * self.cols;
        match &mut self.data {
            Storage::F32(v) => {
                v.truncate(n);
                v.shrink_to_fit();
            }
            Storage::F16(v) => {
                v.truncate(n);
                v.shrink_to_fit();
            }
            Storage::Bf16(v) => {
                v.truncate(n);
                v.shrink_to_fit();
            }
        }
        self.rows = rows;
    }

    /// Stacks matrices with equal `cols` vertically (e.g. fused Q/K/V).
    pub fn vstack(parts: &[Matrix]) -> Matrix {
        let cols = parts[0].cols;
        let rows = parts.iter().map(|p| p.rows).sum();
        let data = match &parts[0].data {
            Storage::F32(_) => Storage::F32(
                parts
                    .iter()
                    .flat_map(|p| match &p.data {
                        Storage::F32(v) => v.iter().copied(),
                        _ => unreachable!("vstack of mixed dtypes"),
                    })
                    .collect(),
            ),
            Storage::F16(_) => Storage::F16(
                parts
                    .iter()
                    .flat_map(|p| match &p.data {
                        Storage::F16(v) => v.iter().copied(),
                        _ => unreachable!("vstack of mixed dtypes"),
                    })
                    .collect(),
            ),
            Storage::Bf16(_) => Storage::Bf16(
                parts
                    .iter()
                    .flat_map(|p| match &p.data {
                        Storage::Bf16(v) => v.iter().copied(),
                        _ => unreachable!("vstack of mixed dtypes"),
                    })
                    .collect(),
            ),
        };
        debug_assert!(parts.iter().all(|p| p.cols == cols));
        Matrix { rows, cols, data }
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
            let t0 = t * per_task * TILE;
            let t1 = ((t + 1) * per_task * TILE).min(n);
            if t0 < t1 {
                self.matmul_rows(isa, x, m, out, t0, t1);
            }
        };
        if tasks == 1 {
            run(0);
        } else {
            (0..tasks).into_par_iter().for_each(run);
        }
    }

    /// Output rows `r0..r1` of [`Matrix::matmul`].
    fn matmul_rows(&self, isa: Isa, x: &[f32], m: usize, out: SharedOut, r0: usize, r1: usize) {
        let (n, k) = (self.rows, self.cols);
        let write = |i: usize, o: usize, v: f32| {
            debug_assert!(i < m && o < n);
            // SAFETY: each (i, o) is written by exactly one task (row ranges are disjoint)
            // and `y` outlives the parallel section that calls us.
            unsafe { *out.at(i * n + o) = v };
        };
        // A partial tile (the matrix's last rows) repeats its last row, so
        // every output goes through the same 4-row kernels: a row's result
        // never depends on how many rows follow it (e.g. a head cut to the
        // tokenizer's vocabulary gives the full head's logits bit for bit).
        let compute = |w: &[f32], o: usize, rows_here: usize| {
            let row = |j: usize| {
                let j = j.min(rows_here - 1);
                &w[j * k..(j + 1) * k]
            };
            let rows = [row(0), row(1), row(2), row(3)];
            let mut i0 = 0;
            while i0 + 4 <= m {
                let xr = |i: usize| &x[(i0 + i) * k..(i0 + i + 1) * k];
                let r = simd::dot4x4(isa, [xr(0), xr(1), xr(2), xr(3)], rows);
                for (ii, vals) in r.into_iter().enumerate() {
                    for (j, v) in vals.into_iter().take(rows_here).enumerate() {
                        write(i0 + ii, o + j, v);
                    }
                }
                i0 += 4;
            }
            for i in i0..m {
                let r = simd::dot4(isa, &x[i * k..(i + 1) * k], rows);
                for (j, v) in r.into_iter().take(rows_here).enumerate() {
                    write(i, o + j, v);
                }
            }
        };
        match &self.data {
            // f32 rows are used in place: nothing to widen.
            Storage::F32(v) => {
                let mut o = r0;
                while o < r1 {
                    let rows_here = TILE.min(r1 - o);
                    compute(&v[o * k..(o + rows_here) * k], o, rows_here);
                    o += rows_here;
                }
            }
            // Few rows: widen in registers instead of through the tile buffer.
            Storage::F16(_) | Storage::Bf16(_) if m < 4 && isa == Isa::Avx512 => {
                let (halves, bf16): (&[u16], bool) = match &self.data {
                    Storage::F16(v) => (bytemuck::cast_slice(v), false),
                    Storage::Bf16(v) => (bytemuck::cast_slice(v), true),
                    Storage::F32(_) => unreachable!("matched above"),
                };
                let mut o = r0;
                while o < r1 {
                    let rows_here = TILE.min(r1 - o);
                    if rows_here == TILE {
                        let w = [0, 1, 2, 3].map(|j| &halves[(o + j) * k..(o + j + 1) * k]);
                        for i in 0..m {
                            let xi = &x[i * k..(i + 1) * k];
                            let r = simd::dot4_half(isa, xi, w, bf16)
                                .expect("AVX-512 has a fused kernel");
                            for (j, v) in r.into_iter().enumerate() {
                                write(i, o + j, v);
                            }
                        }
                    } else {
                        TILE_BUF.with(|buf| {
                            let mut buf = buf.borrow_mut();
                            if buf.len() < TILE * k {
                                buf.resize(TILE * k, 0.0);
                            }
                            for j in 0..rows_here {
                                self.row_to_f32(isa, o + j, &mut buf[j * k..(j + 1) * k]);
                            }
                            compute(&buf[..rows_here * k], o, rows_here);
                        });
                    }
                    o += rows_here;
                }
            }
            _ => TILE_BUF.with(|buf| {
                let mut buf = buf.borrow_mut();
                if buf.len() < TILE * k {
                    buf.resize(TILE * k, 0.0);
                }
                let mut o = r0;
                while o < r1 {
                    let rows_here = TILE.min(r1 - o);
                    for j in 0..rows_here {
                        self.row_to_f32(isa, o + j, &mut buf[j * k..(j + 1) * k]);
                    }
                    compute(&buf[..rows_here * k], o, rows_here);
                    o += rows_here;
                }
            }),
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
            m in 1usize..10, n in 1usize..40, k in 1usize..70, seed in any::<u64>()
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            for dtype in [WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16] {
                let mat = Matrix::from_f32(n, k, &w, dtype);
                // Reference on the rounded weights, so only accumulation error remains.
                let mut wr = vec![0f32; n * k];
                for o in 0..n {
                    mat.row_to_f32(Isa::Portable, o, &mut wr[o * k..(o + 1) * k]);
                }
                let expect = reference(&x, m, &wr, n, k);
                for isa in [Isa::detect(), Isa::Portable] {
                    let mut y = vec![0f32; m * n];
                    mat.matmul(isa, &x, m, &mut y);
                    for (a, b) in y.iter().zip(&expect) {
                        prop_assert!((*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()), "{dtype:?} {isa:?}");
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
}
