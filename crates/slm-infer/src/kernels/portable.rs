//! The portable vector type: plain Rust the compiler vectorises for the
//! build's baseline; runs anywhere.

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
