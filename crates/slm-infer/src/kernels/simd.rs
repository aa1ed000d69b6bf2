//! The innermost loops: dot products and half-precision widening, with an
//! AVX-512 implementation chosen at run time and a portable fallback.
//!
//! Every dot product, whatever the caller's batch size, goes through the same
//! lane layout and reduction order, so a row's result never depends on which
//! other rows share the step (batched output equals unbatched output bit for
//! bit).

use half::{bf16, f16};

pub use slm_model::numeric::{exp_nonpositive, max_ignoring_nan};

/// Which instruction set the kernels use; decided once at model load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (+F16C): 16-lane FMAs, hardware f16 widening.
    Avx512,
    /// Plain Rust; runs anywhere.
    Portable,
}

impl Isa {
    /// The fastest instruction set this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                return Isa::Avx512;
            }
        }
        Isa::Portable
    }
}

const LANES: usize = 16;

/// `a · b` over `min(len)` elements.
#[inline]
pub fn dot(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Isa::Avx512 is only constructed after run-time detection.
        Isa::Avx512 => unsafe { avx512::dot(&a[..n], &b[..n]) },
        _ => portable::dot(&a[..n], &b[..n]),
    }
}

/// Four dot products of `x` with four equally long rows, sharing the loads of `x`.
#[inline]
pub fn dot4(isa: Isa, x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
    let n = x.len();
    debug_assert!(w.iter().all(|r| r.len() == n));
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Isa::Avx512 is only constructed after run-time detection; lengths checked above by construction.
        Isa::Avx512 => unsafe { avx512::dot4(x, w) },
        _ => [
            portable::dot(x, w[0]),
            portable::dot(x, w[1]),
            portable::dot(x, w[2]),
            portable::dot(x, w[3]),
        ],
    }
}

/// Sixteen dot products: `out[i][j] = x[i] · w[j]`, every pair computed
/// with exactly the operations of [`dot4`] (so results are bit-identical to
/// it) but sharing loads, which makes batched steps compute-bound rather
/// than load-bound.
#[inline]
pub fn dot4x4(isa: Isa, x: [&[f32]; 4], w: [&[f32]; 4]) -> [[f32; 4]; 4] {
    let n = w[0].len();
    debug_assert!(x.iter().chain(w.iter()).all(|r| r.len() == n));
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: run-time detected; equal lengths by construction.
        Isa::Avx512 => unsafe { avx512::dot4x4(x, w) },
        _ => x.map(|xr| dot4(isa, xr, w)),
    }
}

/// [`dot4`] with the four weight rows in half precision, widened in
/// registers; bit-identical to widening them first (widening is exact).
/// Returns `None` when no fused kernel exists for this ISA.
#[inline]
pub fn dot4_half(isa: Isa, x: &[f32], w: [&[u16]; 4], bf16: bool) -> Option<[f32; 4]> {
    debug_assert!(w.iter().all(|r| r.len() == x.len()));
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: run-time detected (Avx512 implies F16C); equal lengths by construction.
        Isa::Avx512 => Some(unsafe { avx512::dot4_half(x, w, bf16) }),
        _ => None,
    }
}

/// Widens f16 values to f32 (exact).
pub fn f16_to_f32(isa: Isa, src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: run-time detected; slices trimmed to a common length.
        Isa::Avx512 => unsafe { avx512::f16_to_f32(&src[..n], &mut dst[..n]) },
        _ => {
            for (d, s) in dst[..n].iter_mut().zip(&src[..n]) {
                *d = s.to_f32();
            }
        }
    }
}

/// Widens bf16 values to f32 (exact: a bf16 is the top half of an f32).
pub fn bf16_to_f32(src: &[bf16], dst: &mut [f32]) {
    // A shift the compiler vectorises on its own.
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32::from_bits((s.to_bits() as u32) << 16);
    }
}

/// `out[i] = exp((x[i] - max) * scale)` for softmax weights; NaN inputs give 0.
///
/// A Cephes-style polynomial (relative error ~2e-7) written so the compiler
/// vectorises it: libm's scalar `expf` over a 32,000-entry vocabulary costs
/// more than the sort-free top-p that follows it.
pub fn softmax_weights(isa: Isa, x: &[f32], max: f32, scale: f32, out: &mut [f32]) {
    let n = x.len().min(out.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: run-time detected.
        Isa::Avx512 => unsafe { avx512::softmax_weights(&x[..n], max, scale, &mut out[..n]) },
        _ => softmax_weights_body(&x[..n], max, scale, &mut out[..n]),
    }
}

#[inline(always)]
fn softmax_weights_body(x: &[f32], max: f32, scale: f32, out: &mut [f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = exp_nonpositive((v - max) * scale);
    }
}

mod portable {
    use super::LANES;

    /// Lane-wise partial sums then a fixed-order reduction, mirroring the
    /// AVX-512 layout so the two paths differ only by rounding.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; LANES];
        let mut ca = a.chunks_exact(LANES);
        let mut cb = b.chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for l in 0..LANES {
                acc[l] = x[l].mul_add(y[l], acc[l]);
            }
        }
        for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
            acc[l] = x.mul_add(*y, acc[l]);
        }
        acc.iter().sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::LANES;
    use half::f16;
    use std::arch::x86_64::*;

    #[inline]
    fn tail_mask(rem: usize) -> __mmask16 {
        ((1u32 << rem) - 1) as __mmask16
    }

    /// # Safety
    /// Requires AVX-512F; `a.len() == b.len()`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut i = 0;
        // Two accumulators hide FMA latency.
        while i + 2 * LANES <= n {
            unsafe {
                acc0 =
                    _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
                acc1 = _mm512_fmadd_ps(
                    _mm512_loadu_ps(pa.add(i + LANES)),
                    _mm512_loadu_ps(pb.add(i + LANES)),
                    acc1,
                );
            }
            i += 2 * LANES;
        }
        while i + LANES <= n {
            unsafe {
                acc0 =
                    _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            }
            i += LANES;
        }
        if i < n {
            let m = tail_mask(n - i);
            unsafe {
                acc1 = _mm512_fmadd_ps(
                    _mm512_maskz_loadu_ps(m, pa.add(i)),
                    _mm512_maskz_loadu_ps(m, pb.add(i)),
                    acc1,
                );
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
    }

    /// # Safety
    /// Requires AVX-512F; every row as long as `x`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot4(x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
        let n = x.len();
        let px = x.as_ptr();
        let [p0, p1, p2, p3] = w.map(|r| r.as_ptr());
        let mut a0 = _mm512_setzero_ps();
        let mut a1 = _mm512_setzero_ps();
        let mut a2 = _mm512_setzero_ps();
        let mut a3 = _mm512_setzero_ps();
        let mut i = 0;
        while i + LANES <= n {
            unsafe {
                let xv = _mm512_loadu_ps(px.add(i));
                a0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(p0.add(i)), a0);
                a1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(p1.add(i)), a1);
                a2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(p2.add(i)), a2);
                a3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(p3.add(i)), a3);
            }
            i += LANES;
        }
        if i < n {
            let m = tail_mask(n - i);
            unsafe {
                let xv = _mm512_maskz_loadu_ps(m, px.add(i));
                a0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, p0.add(i)), a0);
                a1 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, p1.add(i)), a1);
                a2 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, p2.add(i)), a2);
                a3 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, p3.add(i)), a3);
            }
        }
        [
            _mm512_reduce_add_ps(a0),
            _mm512_reduce_add_ps(a1),
            _mm512_reduce_add_ps(a2),
            _mm512_reduce_add_ps(a3),
        ]
    }

    /// Sixteen halves at `p` widened to f32 (f16 via F16C, bf16 by shifting).
    #[inline]
    #[target_feature(enable = "avx512f,f16c")]
    unsafe fn load_half(p: *const u16, bf16: bool) -> __m512 {
        unsafe {
            let h = _mm256_loadu_si256(p as *const __m256i);
            if bf16 {
                _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
            } else {
                _mm512_cvtph_ps(h)
            }
        }
    }

    /// # Safety
    /// Requires AVX-512F and F16C; every row as long as `x`.
    #[target_feature(enable = "avx512f,f16c")]
    pub unsafe fn dot4_half(x: &[f32], w: [&[u16]; 4], bf16: bool) -> [f32; 4] {
        let n = x.len();
        let px = x.as_ptr();
        let [p0, p1, p2, p3] = [w[0].as_ptr(), w[1].as_ptr(), w[2].as_ptr(), w[3].as_ptr()];
        let z = _mm512_setzero_ps();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut i = 0;
        while i + LANES <= n {
            unsafe {
                let xv = _mm512_loadu_ps(px.add(i));
                a0 = _mm512_fmadd_ps(xv, load_half(p0.add(i), bf16), a0);
                a1 = _mm512_fmadd_ps(xv, load_half(p1.add(i), bf16), a1);
                a2 = _mm512_fmadd_ps(xv, load_half(p2.add(i), bf16), a2);
                a3 = _mm512_fmadd_ps(xv, load_half(p3.add(i), bf16), a3);
            }
            i += LANES;
        }
        let mut acc = [a0, a1, a2, a3];
        if i < n {
            // Tails are rare (dims are multiples of 16 in practice): widen via a buffer.
            let m = tail_mask(n - i);
            let xv = unsafe { _mm512_maskz_loadu_ps(m, px.add(i)) };
            for c in 0..4 {
                let mut buf = [0f32; LANES];
                for (j, b) in buf.iter_mut().enumerate().take(n - i) {
                    let h = w[c][i + j];
                    *b = if bf16 {
                        f32::from_bits((h as u32) << 16)
                    } else {
                        half::f16::from_bits(h).to_f32()
                    };
                }
                let wv = unsafe { _mm512_maskz_loadu_ps(m, buf.as_ptr()) };
                acc[c] = _mm512_fmadd_ps(xv, wv, acc[c]);
            }
        }
        [
            _mm512_reduce_add_ps(acc[0]),
            _mm512_reduce_add_ps(acc[1]),
            _mm512_reduce_add_ps(acc[2]),
            _mm512_reduce_add_ps(acc[3]),
        ]
    }

    /// # Safety
    /// Requires AVX-512F; all eight rows equally long.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot4x4(x: [&[f32]; 4], w: [&[f32]; 4]) -> [[f32; 4]; 4] {
        // Written out by hand: closures or array maps here are not inlined
        // into the AVX-512 context and would spill every accumulator.
        let n = w[0].len();
        let [x0, x1, x2, x3] = [x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr()];
        let [p0, p1, p2, p3] = [w[0].as_ptr(), w[1].as_ptr(), w[2].as_ptr(), w[3].as_ptr()];
        let z = _mm512_setzero_ps();
        let (mut a00, mut a01, mut a02, mut a03) = (z, z, z, z);
        let (mut a10, mut a11, mut a12, mut a13) = (z, z, z, z);
        let (mut a20, mut a21, mut a22, mut a23) = (z, z, z, z);
        let (mut a30, mut a31, mut a32, mut a33) = (z, z, z, z);
        macro_rules! step {
            ($load:ident $(, $m:ident)?) => {{
                let w0 = $load!(p0 $(, $m)?);
                let w1 = $load!(p1 $(, $m)?);
                let w2 = $load!(p2 $(, $m)?);
                let w3 = $load!(p3 $(, $m)?);
                let v = $load!(x0 $(, $m)?);
                a00 = _mm512_fmadd_ps(v, w0, a00);
                a01 = _mm512_fmadd_ps(v, w1, a01);
                a02 = _mm512_fmadd_ps(v, w2, a02);
                a03 = _mm512_fmadd_ps(v, w3, a03);
                let v = $load!(x1 $(, $m)?);
                a10 = _mm512_fmadd_ps(v, w0, a10);
                a11 = _mm512_fmadd_ps(v, w1, a11);
                a12 = _mm512_fmadd_ps(v, w2, a12);
                a13 = _mm512_fmadd_ps(v, w3, a13);
                let v = $load!(x2 $(, $m)?);
                a20 = _mm512_fmadd_ps(v, w0, a20);
                a21 = _mm512_fmadd_ps(v, w1, a21);
                a22 = _mm512_fmadd_ps(v, w2, a22);
                a23 = _mm512_fmadd_ps(v, w3, a23);
                let v = $load!(x3 $(, $m)?);
                a30 = _mm512_fmadd_ps(v, w0, a30);
                a31 = _mm512_fmadd_ps(v, w1, a31);
                a32 = _mm512_fmadd_ps(v, w2, a32);
                a33 = _mm512_fmadd_ps(v, w3, a33);
            }};
        }
        let mut i = 0;
        while i + LANES <= n {
            macro_rules! full {
                ($p:ident) => {
                    unsafe { _mm512_loadu_ps($p.add(i)) }
                };
            }
            step!(full);
            i += LANES;
        }
        if i < n {
            let m = tail_mask(n - i);
            macro_rules! masked {
                ($p:ident, $m:ident) => {
                    unsafe { _mm512_maskz_loadu_ps($m, $p.add(i)) }
                };
            }
            step!(masked, m);
        }
        let r = |a| _mm512_reduce_add_ps(a);
        [
            [r(a00), r(a01), r(a02), r(a03)],
            [r(a10), r(a11), r(a12), r(a13)],
            [r(a20), r(a21), r(a22), r(a23)],
            [r(a30), r(a31), r(a32), r(a33)],
        ]
    }

    /// # Safety
    /// Requires AVX-512F; equal lengths.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn softmax_weights(x: &[f32], max: f32, scale: f32, out: &mut [f32]) {
        super::softmax_weights_body(x, max, scale, out)
    }

    /// # Safety
    /// Requires AVX-512F and F16C; equal lengths.
    #[target_feature(enable = "avx512f,f16c")]
    pub unsafe fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
        let n = src.len();
        let ps = src.as_ptr() as *const u16;
        let pd = dst.as_mut_ptr();
        let mut i = 0;
        while i + LANES <= n {
            unsafe {
                let h = _mm256_loadu_si256(ps.add(i) as *const __m256i);
                _mm512_storeu_ps(pd.add(i), _mm512_cvtph_ps(h));
            }
            i += LANES;
        }
        for j in i..n {
            dst[j] = src[j].to_f32();
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

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    proptest! {
        #[test]
        fn dot_matches_f64_reference(v in proptest::collection::vec((-2f32..2.0, -2f32..2.0), 0..200)) {
            let a: Vec<f32> = v.iter().map(|p| p.0).collect();
            let b: Vec<f32> = v.iter().map(|p| p.1).collect();
            let r = naive(&a, &b);
            for isa in [Isa::detect(), Isa::Portable] {
                let d = dot(isa, &a, &b) as f64;
                prop_assert!((d - r).abs() <= 1e-4 * (1.0 + r.abs()), "{isa:?} {d} vs {r}");
                let rows = [&b[..], &a[..], &b[..], &a[..]];
                let d4 = dot4(isa, &a, rows);
                prop_assert!((d4[0] as f64 - r).abs() <= 1e-4 * (1.0 + r.abs()));
                prop_assert!((d4[1] as f64 - naive(&a, &a)).abs() <= 1e-4 * (1.0 + naive(&a, &a)));
            }
        }

        #[test]
        fn fast_exp_matches_libm(v in proptest::collection::vec(-100f32..0.0, 1..100)) {
            let mut out = vec![0f32; v.len()];
            softmax_weights(Isa::detect(), &v, 0.0, 1.0, &mut out);
            for (o, x) in out.iter().zip(&v) {
                let e = x.exp();
                if *x >= -87.0 {
                    prop_assert!((o - e).abs() <= 1e-6 * e, "exp({x}) = {o}, libm {e}");
                } else {
                    prop_assert!(*o == 0.0 && e < 2e-38);
                }
            }
        }

        #[test]
        fn half_widening_is_exact(v in proptest::collection::vec(-1000f32..1000.0, 0..100)) {
            let h: Vec<f16> = v.iter().map(|x| f16::from_f32(*x)).collect();
            let mut out = vec![0f32; h.len()];
            f16_to_f32(Isa::detect(), &h, &mut out);
            for (o, x) in out.iter().zip(&h) {
                prop_assert_eq!(*o, x.to_f32());
            }
            let b: Vec<bf16> = v.iter().map(|x| bf16::from_f32(*x)).collect();
            bf16_to_f32(&b, &mut out);
            for (o, x) in out.iter().zip(&b) {
                prop_assert_eq!(*o, x.to_f32());
            }
        }
    }
}
