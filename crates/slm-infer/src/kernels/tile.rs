//! The matrix tile every weight product goes through, and the kernels built
//! on it: the batched matrix product and row widening.

use super::{Kernel, Row, Simd, TILE};

/// `out[i][j] = x[i] · w[j]` over the first `k` columns: the matrix tile
/// every product goes through. Each (i, j) pair sees the same operations
/// whatever `M` is, which is what makes batching bit-exact.
///
/// # Safety
/// Every row holds at least `k` values; `S` as for [`Kernel::run`].
#[inline(always)]
pub(super) unsafe fn tile<S: Simd, R: Row, const M: usize>(
    x: [&[f32]; M],
    w: [R; TILE],
    k: usize,
) -> [[f32; TILE]; M] {
    unsafe {
        let mut acc = [[S::zero(); TILE]; M];
        let mut c = 0;
        while c + S::LANES <= k {
            let wv = [
                w[0].load::<S>(c),
                w[1].load::<S>(c),
                w[2].load::<S>(c),
                w[3].load::<S>(c),
            ];
            for i in 0..M {
                let xv = S::load(x[i].as_ptr().add(c));
                for j in 0..TILE {
                    acc[i][j] = S::fma(xv, wv[j], acc[i][j]);
                }
            }
            c += S::LANES;
        }
        let mut out = [[0f32; TILE]; M];
        for i in 0..M {
            for j in 0..TILE {
                let mut s = S::sum(acc[i][j]);
                for (t, xv) in x[i][..k].iter().enumerate().skip(c) {
                    s += xv * w[j].at(t);
                }
                out[i][j] = s;
            }
        }
        out
    }
}

/// Output rows `r0..r1` of `y[m, n] = x[m, k] · Wᵀ`, weight row `o` given by
/// `row(o)`; `y` is written through a raw pointer because several tasks
/// fill disjoint columns of it at once.
pub struct MatmulRows<'a, R, F: Fn(usize) -> R> {
    pub x: &'a [f32],
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub r0: usize,
    pub r1: usize,
    pub row: F,
    /// `m × n` output; the caller guarantees no one else touches rows `r0..r1` of it meanwhile.
    pub y: *mut f32,
}

impl<R: Row, F: Fn(usize) -> R> MatmulRows<'_, R, F> {
    #[inline(always)]
    unsafe fn block<S: Simd, const M: usize>(
        &self,
        i0: usize,
        o: usize,
        here: usize,
        w: [R; TILE],
    ) {
        let k = self.k;
        let x: [&[f32]; M] = std::array::from_fn(|i| &self.x[(i0 + i) * k..(i0 + i + 1) * k]);
        let r = unsafe { tile::<S, R, M>(x, w, k) };
        for (i, vals) in r.iter().enumerate() {
            for (j, v) in vals.iter().take(here).enumerate() {
                // SAFETY: (i0 + i, o + j) is inside `y` and ours alone (see `y`).
                unsafe { *self.y.add((i0 + i) * self.n + o + j) = *v };
            }
        }
    }
}

impl<R: Row, F: Fn(usize) -> R> Kernel for MatmulRows<'_, R, F> {
    type Out = ();
    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        assert!(self.x.len() >= self.m * self.k && self.r1 <= self.n);
        let mut o = self.r0;
        while o < self.r1 {
            // A partial tile repeats its last row, so every output goes
            // through the same 4-row kernel: a row's result never depends on
            // how many rows follow it (a head cut to the tokenizer's
            // vocabulary gives the full head's logits bit for bit).
            let here = TILE.min(self.r1 - o);
            let w: [R; TILE] = std::array::from_fn(|j| (self.row)(o + j.min(here - 1)));
            let mut i0 = 0;
            while i0 < self.m {
                let mr = (self.m - i0).min(S::MR);
                unsafe {
                    match mr {
                        1 => self.block::<S, 1>(i0, o, here, w),
                        2 => self.block::<S, 2>(i0, o, here, w),
                        3 => self.block::<S, 3>(i0, o, here, w),
                        4 => self.block::<S, 4>(i0, o, here, w),
                        5 => self.block::<S, 5>(i0, o, here, w),
                        _ => self.block::<S, 6>(i0, o, here, w),
                    }
                }
                i0 += mr;
            }
            o += here;
        }
    }
}

/// Widens one weight row into `out`.
pub struct Widen<'a, R> {
    pub row: R,
    pub out: &'a mut [f32],
}

impl<R: Row> Kernel for Widen<'_, R> {
    type Out = ();
    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let n = self.out.len();
        let p = self.out.as_mut_ptr();
        let mut c = 0;
        while c + S::LANES <= n {
            // SAFETY: the row holds `n` values (checked by the callers' slicing).
            unsafe { S::store(p.add(c), self.row.load::<S>(c)) };
            c += S::LANES;
        }
        for t in c..n {
            self.out[t] = self.row.at(t);
        }
    }
}
