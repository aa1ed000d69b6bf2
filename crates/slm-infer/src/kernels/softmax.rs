//! Softmax weights over a vocabulary of logits, for the sampler.

use super::{Isa, Kernel, Simd, dispatch, exp_nonpositive};

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
