//! Every ISA against references: dot products, exp, f16/bf16 widening.

use half::{bf16, f16};

use super::tile::tile;
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
