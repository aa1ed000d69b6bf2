//! CPU compute kernels of the native decode path.

pub mod isa;
pub mod matrix;
pub mod ops;
pub mod simd;
