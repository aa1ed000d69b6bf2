//! aarch64 Advanced SIMD.

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
