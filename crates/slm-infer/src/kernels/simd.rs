//! The innermost loops, written once over a small vector trait ([`Simd`])
//! and compiled once per instruction set ([`Isa`]).
//!
//! Shape: a kernel is a struct implementing [`Kernel`]; [`dispatch`] runs it
//! inside a `#[target_feature]` function of the chosen ISA so every vector
//! operation inlines to that ISA's instructions. Adding an ISA means one
//! [`Simd`] implementation, one wrapper and one arm in [`dispatch`].
//!
//! Why not a SIMD library: `pulp` (which `gemm` is built on) gives the same
//! dispatch and f32 arithmetic, but its portable trait has no f16/bf16
//! widening or int8 conversion, which are exactly the loads the weight
//! kernels live on; those would be per-ISA intrinsics anyway. The trait here
//! is those ten operations and nothing else.
//!
//! Determinism: every dot product of a weight row with an activation row
//! goes through the same lane layout and reduction order whatever the batch
//! size and whatever other rows share the tile, so batched output equals
//! unbatched output bit for bit within one ISA. Different ISAs differ only by
//! rounding (lane count, and the portable path's separate multiply and add).

use half::{bf16, f16};

pub use super::isa::Isa;
pub use slm_model::numeric::{exp_nonpositive, max_ignoring_nan};

/// Weights per int8 block, each block with one f32 scale (the Q8_0 layout).
pub const Q8_BLOCK: usize = 32;

/// Weight rows per matrix tile.
pub const TILE: usize = 4;

/// The vector operations the kernels use.
///
/// # Safety
/// Every method may only run inside [`dispatch`] for an ISA the CPU
/// supports; pointers must be valid for `LANES` elements.
#[allow(clippy::missing_safety_doc)] // one contract for all methods, above
pub trait Simd {
    /// f32 lanes per vector; divides [`Q8_BLOCK`].
    const LANES: usize;
    /// Activation rows per matrix tile: `MR * TILE` accumulators, `TILE`
    /// weight vectors and one activation vector fit in the register file.
    const MR: usize;
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(v: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` f16 values widened (exact).
    unsafe fn load_f16(p: *const u16) -> Self::V;
    /// `LANES` bf16 values widened (exact).
    unsafe fn load_bf16(p: *const u16) -> Self::V;
    /// `LANES` int8 values converted (exact).
    unsafe fn load_i8(p: *const i8) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a * b + c`.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// Sum of the lanes, in a fixed order.
    unsafe fn sum(v: Self::V) -> f32;
}

/// A computation generic over [`Simd`], run by [`dispatch`].
pub trait Kernel {
    type Out;
    /// # Safety
    /// `S` must be the vector type of an ISA this CPU supports.
    unsafe fn run<S: Simd>(self) -> Self::Out;
}

/// Runs `k` with the vector type of `isa` (the portable one when `isa` is
/// not supported here, which [`Isa::resolve`] never hands out).
#[inline]
pub fn dispatch<K: Kernel>(isa: Isa, k: K) -> K::Out {
    match isa {
        // SAFETY (every arm): the guard checks the CPU supports the ISA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.supported() => unsafe { x86::run_avx512(k) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.supported() => unsafe { x86::run_avx2(k) },
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if isa.supported() => unsafe { k.run::<neon::Neon>() },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => unsafe { k.run::<wasm::Simd128>() },
        _ => unsafe { k.run::<portable::Portable>() },
    }
}

/// One weight row in its storage precision.
pub trait Row: Copy {
    /// `S::LANES` weights from column `c`, widened to f32.
    ///
    /// # Safety
    /// `c + S::LANES <= len`; `S` as for [`Kernel::run`].
    unsafe fn load<S: Simd>(self, c: usize) -> S::V;
    /// Weight `c` as f32.
    fn at(self, c: usize) -> f32;
}

#[derive(Clone, Copy)]
pub struct F32Row<'a>(pub &'a [f32]);
/// f16 bits.
#[derive(Clone, Copy)]
pub struct F16Row<'a>(pub &'a [u16]);
/// bf16 bits.
#[derive(Clone, Copy)]
pub struct Bf16Row<'a>(pub &'a [u16]);
/// int8 weights with one scale per [`Q8_BLOCK`]; the row length is a multiple of it.
#[derive(Clone, Copy)]
pub struct Q8Row<'a> {
    pub q: &'a [i8],
    pub scales: &'a [f32],
}

impl Row for F32Row<'_> {
    #[inline(always)]
    unsafe fn load<S: Simd>(self, c: usize) -> S::V {
        unsafe { S::load(self.0.as_ptr().add(c)) }
    }
    #[inline(always)]
    fn at(self, c: usize) -> f32 {
        self.0[c]
    }
}

impl Row for F16Row<'_> {
    #[inline(always)]
    unsafe fn load<S: Simd>(self, c: usize) -> S::V {
        unsafe { S::load_f16(self.0.as_ptr().add(c)) }
    }
    #[inline(always)]
    fn at(self, c: usize) -> f32 {
        f16::from_bits(self.0[c]).to_f32()
    }
}

impl Row for Bf16Row<'_> {
    #[inline(always)]
    unsafe fn load<S: Simd>(self, c: usize) -> S::V {
        unsafe { S::load_bf16(self.0.as_ptr().add(c)) }
    }
    #[inline(always)]
    fn at(self, c: usize) -> f32 {
        bf16::from_bits(self.0[c]).to_f32()
    }
}

impl Row for Q8Row<'_> {
    #[inline(always)]
    unsafe fn load<S: Simd>(self, c: usize) -> S::V {
        // LANES divides the block, so one vector never straddles two scales.
        unsafe {
            S::mul(
                S::load_i8(self.q.as_ptr().add(c)),
                S::splat(*self.scales.get_unchecked(c / Q8_BLOCK)),
            )
        }
    }
    #[inline(always)]
    fn at(self, c: usize) -> f32 {
        self.q[c] as f32 * self.scales[c / Q8_BLOCK]
    }
}

/// `out[i][j] = x[i] · w[j]` over the first `k` columns: the matrix tile
/// every product goes through. Each (i, j) pair sees the same operations
/// whatever `M` is, which is what makes batching bit-exact.
///
/// # Safety
/// Every row holds at least `k` values; `S` as for [`Kernel::run`].
#[inline(always)]
unsafe fn tile<S: Simd, R: Row, const M: usize>(
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

/// `out[i] = exp((x[i] - max) * scale)` for softmax weights; NaN inputs give 0.
///
/// A Cephes-style polynomial (relative error ~2e-7) written so the compiler
/// vectorises it with the ISA's instructions: libm's scalar `expf` over a
/// 32,000-entry vocabulary costs more than the sort-free top-p that follows.
pub struct SoftmaxWeights<'a> {
    pub x: &'a [f32],
    pub max: f32,
    pub scale: f32,
    pub out: &'a mut [f32],
}

impl Kernel for SoftmaxWeights<'_> {
    type Out = ();
    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        for (o, v) in self.out.iter_mut().zip(self.x) {
            *o = exp_nonpositive((v - self.max) * self.scale);
        }
    }
}

/// [`SoftmaxWeights`] as a function.
pub fn softmax_weights(isa: Isa, x: &[f32], max: f32, scale: f32, out: &mut [f32]) {
    dispatch(isa, SoftmaxWeights { x, max, scale, out });
}

/// f16 bits to f32 without branches or tables, so it vectorises: shift the
/// exponent and mantissa into place, rescale by 2^112 (which also turns
/// subnormals into normals exactly), then restore infinities/NaNs and sign.
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let em = h & 0x7fff;
    let f = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000); // 2^112
    let inf_nan = if em >= 0x7c00 { 0x7f80_0000 } else { 0 };
    f32::from_bits(f.to_bits() | inf_nan | ((h & 0x8000) << 16))
}

mod portable {
    use super::{Simd, f16_bits_to_f32};

    const L: usize = 8;

    /// Eight f32 lanes in an array the compiler maps to the baseline's vector
    /// registers. `fma` is a separate multiply and add: `f32::mul_add`
    /// without hardware FMA is a libm call per element.
    pub struct Portable;

    impl Simd for Portable {
        const LANES: usize = L;
        const MR: usize = 1;
        type V = [f32; L];
        #[inline(always)]
        unsafe fn zero() -> Self::V {
            [0.0; L]
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self::V {
            [v; L]
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self::V {
            unsafe { std::ptr::read_unaligned(p as *const [f32; L]) }
        }
        #[inline(always)]
        unsafe fn load_f16(p: *const u16) -> Self::V {
            let h = unsafe { std::ptr::read_unaligned(p as *const [u16; L]) };
            h.map(f16_bits_to_f32)
        }
        #[inline(always)]
        unsafe fn load_bf16(p: *const u16) -> Self::V {
            let h = unsafe { std::ptr::read_unaligned(p as *const [u16; L]) };
            h.map(|b| f32::from_bits((b as u32) << 16))
        }
        #[inline(always)]
        unsafe fn load_i8(p: *const i8) -> Self::V {
            let q = unsafe { std::ptr::read_unaligned(p as *const [i8; L]) };
            q.map(|v| v as f32)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self::V) {
            unsafe { std::ptr::write_unaligned(p as *mut [f32; L], v) }
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            std::array::from_fn(|l| a[l] * b[l] + c[l])
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            std::array::from_fn(|l| a[l] * b[l])
        }
        #[inline(always)]
        unsafe fn sum(v: Self::V) -> f32 {
            ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Kernel, Simd};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU supports AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn run_avx2<K: Kernel>(k: K) -> K::Out {
        unsafe { k.run::<Avx2>() }
    }

    /// # Safety
    /// The CPU supports AVX-512F, AVX2, FMA and F16C.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub unsafe fn run_avx512<K: Kernel>(k: K) -> K::Out {
        unsafe { k.run::<Avx512>() }
    }

    pub struct Avx2;

    impl Simd for Avx2 {
        const LANES: usize = 8;
        // 16 ymm registers: 2 × 4 accumulators + 4 weights + 1 activation.
        const MR: usize = 2;
        type V = __m256;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> __m256 {
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_f16(p: *const u16) -> __m256 {
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
        }
        #[inline(always)]
        unsafe fn load_bf16(p: *const u16) -> __m256 {
            unsafe {
                let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i));
                _mm256_castsi256_ps(_mm256_slli_epi32(w, 16))
            }
        }
        #[inline(always)]
        unsafe fn load_i8(p: *const i8) -> __m256 {
            unsafe {
                let q = _mm_loadl_epi64(p as *const __m128i);
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m256) -> f32 {
            unsafe {
                let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
            }
        }
    }

    pub struct Avx512;

    impl Simd for Avx512 {
        const LANES: usize = 16;
        // 32 zmm registers: 6 × 4 accumulators + 4 weights + 1 activation.
        const MR: usize = 6;
        type V = __m512;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> __m512 {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_f16(p: *const u16) -> __m512 {
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)) }
        }
        #[inline(always)]
        unsafe fn load_bf16(p: *const u16) -> __m512 {
            unsafe {
                let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p as *const __m256i));
                _mm512_castsi512_ps(_mm512_slli_epi32(w, 16))
            }
        }
        #[inline(always)]
        unsafe fn load_i8(p: *const i8) -> __m512 {
            unsafe {
                let q = _mm_loadu_si128(p as *const __m128i);
                _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m512) -> f32 {
            unsafe { _mm512_reduce_add_ps(v) }
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::Simd;
    use std::arch::aarch64::*;

    /// Two 4-lane registers per vector, so f16 and int8 rows load in one
    /// instruction each (8 halves, 8 bytes).
    pub struct Neon;

    #[inline(always)]
    unsafe fn half4(h: uint16x4_t) -> float32x4_t {
        // The branch-free widening of `f16_bits_to_f32`, four lanes at once
        // (the FCVTL intrinsics need Rust's unstable f16 vector types).
        unsafe {
            let h = vmovl_u16(h);
            let em = vandq_u32(h, vdupq_n_u32(0x7fff));
            let f = vmulq_f32(
                vreinterpretq_f32_u32(vshlq_n_u32::<13>(em)),
                vdupq_n_f32(f32::from_bits(0x7780_0000)),
            );
            let inf_nan = vandq_u32(vcgeq_u32(em, vdupq_n_u32(0x7c00)), vdupq_n_u32(0x7f80_0000));
            let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
            vreinterpretq_f32_u32(vorrq_u32(
                vorrq_u32(vreinterpretq_u32_f32(f), inf_nan),
                sign,
            ))
        }
    }

    impl Simd for Neon {
        const LANES: usize = 8;
        // 32 registers of 4 lanes: 2 × 4 accumulator pairs + 4 weight pairs + 1 activation pair.
        const MR: usize = 2;
        type V = (float32x4_t, float32x4_t);
        #[inline(always)]
        unsafe fn zero() -> Self::V {
            unsafe { (vdupq_n_f32(0.0), vdupq_n_f32(0.0)) }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self::V {
            unsafe { (vdupq_n_f32(v), vdupq_n_f32(v)) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self::V {
            unsafe { (vld1q_f32(p), vld1q_f32(p.add(4))) }
        }
        #[inline(always)]
        unsafe fn load_f16(p: *const u16) -> Self::V {
            unsafe {
                let h = vld1q_u16(p);
                (half4(vget_low_u16(h)), half4(vget_high_u16(h)))
            }
        }
        #[inline(always)]
        unsafe fn load_bf16(p: *const u16) -> Self::V {
            unsafe {
                let h = vld1q_u16(p);
                (
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h))),
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_high_u16(h))),
                )
            }
        }
        #[inline(always)]
        unsafe fn load_i8(p: *const i8) -> Self::V {
            unsafe {
                let w = vmovl_s8(vld1_s8(p));
                (
                    vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))),
                    vcvtq_f32_s32(vmovl_s16(vget_high_s16(w))),
                )
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self::V) {
            unsafe {
                vst1q_f32(p, v.0);
                vst1q_f32(p.add(4), v.1);
            }
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            unsafe { (vfmaq_f32(c.0, a.0, b.0), vfmaq_f32(c.1, a.1, b.1)) }
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            unsafe { (vmulq_f32(a.0, b.0), vmulq_f32(a.1, b.1)) }
        }
        #[inline(always)]
        unsafe fn sum(v: Self::V) -> f32 {
            unsafe { vaddvq_f32(vaddq_f32(v.0, v.1)) }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::Simd;
    use std::arch::wasm32::*;

    /// One 128-bit register of four f32 lanes; no fused multiply-add in
    /// SIMD128, so `fma` is a multiply and an add.
    pub struct Simd128;

    impl Simd for Simd128 {
        const LANES: usize = 4;
        const MR: usize = 2;
        type V = v128;
        #[inline(always)]
        unsafe fn zero() -> v128 {
            f32x4_splat(0.0)
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> v128 {
            f32x4_splat(v)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> v128 {
            unsafe { v128_load(p as *const v128) }
        }
        #[inline(always)]
        unsafe fn load_f16(p: *const u16) -> v128 {
            let h = u32x4_extend_low_u16x8(unsafe { v128_load64_zero(p as *const u64) });
            let em = v128_and(h, u32x4_splat(0x7fff));
            let f = f32x4_mul(u32x4_shl(em, 13), f32x4_splat(f32::from_bits(0x7780_0000)));
            let inf_nan = v128_and(u32x4_ge(em, u32x4_splat(0x7c00)), u32x4_splat(0x7f80_0000));
            let sign = u32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
            v128_or(v128_or(f, inf_nan), sign)
        }
        #[inline(always)]
        unsafe fn load_bf16(p: *const u16) -> v128 {
            let h = u32x4_extend_low_u16x8(unsafe { v128_load64_zero(p as *const u64) });
            u32x4_shl(h, 16)
        }
        #[inline(always)]
        unsafe fn load_i8(p: *const i8) -> v128 {
            let b = unsafe { v128_load32_zero(p as *const u32) };
            f32x4_convert_i32x4(i32x4_extend_low_i16x8(i16x8_extend_low_i8x16(b)))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: v128) {
            unsafe { v128_store(p as *mut v128, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: v128, b: v128, c: v128) -> v128 {
            f32x4_add(f32x4_mul(a, b), c)
        }
        #[inline(always)]
        unsafe fn mul(a: v128, b: v128) -> v128 {
            f32x4_mul(a, b)
        }
        #[inline(always)]
        unsafe fn sum(v: v128) -> f32 {
            (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<2>(v))
                + (f32x4_extract_lane::<1>(v) + f32x4_extract_lane::<3>(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_exp_edge_cases() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f32::NAN), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!((exp_nonpositive(-1.0) - (-1f32).exp()).abs() < 1e-7);
    }

    #[test]
    fn branch_free_f16_widening_is_exact_for_every_value() {
        for h in 0..=u16::MAX {
            let want = f16::from_bits(h).to_f32();
            let got = f16_bits_to_f32(h);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{h:#06x}: {got} vs {want}"
            );
        }
    }

    /// `a · b` over `min(len)` elements, through a one-row tile.
    fn dot(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
        struct Dot<'a>(&'a [f32], &'a [f32]);
        impl Kernel for Dot<'_> {
            type Out = f32;
            #[inline(always)]
            unsafe fn run<S: Simd>(self) -> f32 {
                let n = self.0.len().min(self.1.len());
                let w = F32Row(&self.1[..n]);
                unsafe { tile::<S, F32Row, 1>([&self.0[..n]], [w; TILE], n)[0][0] }
            }
        }
        dispatch(isa, Dot(a, b))
    }

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    proptest! {
        #[test]
        fn dot_matches_f64_reference_on_every_isa(v in proptest::collection::vec((-2f32..2.0, -2f32..2.0), 0..200)) {
            let a: Vec<f32> = v.iter().map(|p| p.0).collect();
            let b: Vec<f32> = v.iter().map(|p| p.1).collect();
            let r = naive(&a, &b);
            for isa in Isa::available() {
                let d = dot(isa, &a, &b) as f64;
                prop_assert!((d - r).abs() <= 1e-4 * (1.0 + r.abs()), "{isa:?} {d} vs {r}");
            }
        }

        #[test]
        fn fast_exp_matches_libm(v in proptest::collection::vec(-100f32..0.0, 1..100)) {
            for isa in Isa::available() {
                let mut out = vec![0f32; v.len()];
                softmax_weights(isa, &v, 0.0, 1.0, &mut out);
                for (o, x) in out.iter().zip(&v) {
                    let e = x.exp();
                    if *x >= -87.0 {
                        prop_assert!((o - e).abs() <= 1e-6 * e, "exp({x}) = {o}, libm {e}");
                    } else {
                        prop_assert!(*o == 0.0 && e < 2e-38);
                    }
                }
            }
        }

        #[test]
        fn widening_is_exact_on_every_isa(v in proptest::collection::vec(-1000f32..1000.0, 0..100)) {
            let h: Vec<u16> = v.iter().map(|x| f16::from_f32(*x).to_bits()).collect();
            let b: Vec<u16> = v.iter().map(|x| bf16::from_f32(*x).to_bits()).collect();
            for isa in Isa::available() {
                let mut out = vec![0f32; v.len()];
                dispatch(isa, Widen { row: F16Row(&h), out: &mut out });
                for (o, x) in out.iter().zip(&h) {
                    prop_assert_eq!(*o, f16::from_bits(*x).to_f32());
                }
                dispatch(isa, Widen { row: Bf16Row(&b), out: &mut out });
                for (o, x) in out.iter().zip(&b) {
                    prop_assert_eq!(*o, bf16::from_bits(*x).to_f32());
                }
            }
        }
    }
}
