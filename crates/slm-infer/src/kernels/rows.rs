//! One weight row in its storage precision (f32, f16, bf16, int8 blocks),
//! loaded a vector at a time and widened to f32.

use half::{bf16, f16};

use super::{Q8_BLOCK, Simd};

/// One weight row in its storage precision.
pub trait Row: Copy {
    /// `S::LANES` weights from column `c`, widened to f32.
    ///
    /// # Safety
    /// `c + S::LANES <= len`; `S` as for [`super::Kernel::run`].
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
