//! wasm32 SIMD128.

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
