//! CPU compute kernels of the native decode path: the innermost loops,
//! written once over a small vector trait ([`Simd`]) and compiled once per
//! instruction set ([`Isa`]).
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
//!
//! Layout: this file holds the vector trait and [`dispatch`]; each ISA's
//! implementation of it lives in its own file (`portable`, `x86` for AVX2 and
//! AVX-512, `neon`, `wasm`), and the kernels written over it beside them
//! (`rows`: weight rows per storage precision, `tile`: the matrix tile every
//! product goes through, `attention`, `softmax`). `matrix` and `ops` build the
//! Transformer's operations on top.

pub mod isa;
pub mod matrix;
pub mod ops;

mod attention;
mod portable;
mod rows;
mod softmax;
mod tile;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests;

pub use attention::Attend;
pub use isa::Isa;
pub use rows::{Bf16Row, F16Row, F32Row, Q8Row, Row, f16_bits_to_f32};
pub use slm_model::numeric::{exp_nonpositive, max_ignoring_nan};
pub use softmax::{SoftmaxWeights, softmax_weights};
pub use tile::{MatmulRows, Widen};

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
