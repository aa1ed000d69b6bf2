//! Training ops with hand-written backward passes, for f32 tensors on `Autodiff<Flex>`
//! (the CPU training device).
//!
//! Composed from Burn ops, attention, RMSNorm and SwiGLU each make several element-wise
//! passes forward and more backward, and burn-flex 0.22 runs element-wise ops on one
//! thread: on a 2-core CPU half of a training step was those passes. Each op here does
//! its element-wise work in one row-parallel (rayon) pass forward and one backward,
//! keeps matmuls on flex's gemm, and is recorded in Burn's autodiff graph through its
//! backend-extension API (`Tensor::try_into_primitive`, `Backward`).
//!
//! Anything else (other backends, bf16/f16 compute, inference without autodiff) takes
//! the plain Burn composition, so results never depend on which path ran beyond float
//! rounding: each op's tests compare values and gradients with that composition.
//!
//! [`flex_input`], [`record`] and [`flex_f32`] are public so that other crates' fused code
//! (the trainer's output-head loss and AdamW) is built the same way.

mod attention;
mod rms_norm;
mod swiglu;

pub(crate) use attention::causal_attention;
pub(crate) use rms_norm::rms_norm;
pub(crate) use swiglu::swiglu;

use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, NodeGuard, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::DType;

/// The contiguous flex primitive of `t` and its autodiff node, when `t` is f32 on
/// `Autodiff<Flex>`.
pub fn flex_input<const D: usize>(t: &Tensor<D>) -> Option<(FlexTensor, NodeGuard)> {
    if !t.device().is_autodiff() || t.dtype() != DType::F32 {
        return None;
    }
    let (primitive, node) = t
        .clone()
        .try_into_primitive::<Autodiff<Flex>>()
        .ok()?
        .into_parts();
    Some((primitive.to_contiguous(), node))
}

/// Whether `t` is f32 on `Flex` without autodiff.
pub fn is_flex_f32<const D: usize>(t: &Tensor<D>) -> bool {
    t.device() == Device::flex() && t.dtype() == DType::F32
}

/// The contiguous flex primitive of `t` when [`is_flex_f32`]. A contiguous tensor that is
/// the sole owner of its buffer keeps it, so it can be updated in place.
pub fn flex_f32<const D: usize>(t: Tensor<D>) -> Option<FlexTensor> {
    if !is_flex_f32(&t) {
        return None;
    }
    Some(t.try_into_primitive::<Flex>().ok()?.to_contiguous())
}

/// Records `op` on the autodiff graph with its inputs' `nodes` and returns `out` as a
/// tensor. `state` is what the backward needs; it is dropped when no input needs a
/// gradient.
pub fn record<O: Backward<Flex, N>, const N: usize, const D: usize>(
    op: O,
    nodes: [NodeGuard; N],
    state: O::State,
    out: FlexTensor,
) -> Tensor<D> {
    let out = match op
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}

/// A new contiguous f32 tensor of `shape` filled by `fill` (given the elements).
fn new_f32(shape: burn::tensor::Shape, fill: impl FnOnce(&mut [f32])) -> FlexTensor {
    let mut t = FlexTensor::empty(shape, DType::F32);
    fill(t.storage_mut::<f32>());
    t
}

#[cfg(test)]
mod test_util {
    use burn::prelude::*;

    /// Deterministic values in [-amp/2, amp/2).
    pub fn random(len: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * amp
            })
            .collect()
    }

    pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Asserts `got` equals `want` within `1e-5` of `want`'s largest magnitude (≥ 1).
    pub fn assert_close(name: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{name}: length");
        let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(scale > 0.0, "{name} is all zeros");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5 * scale.max(1.0), "{name}: {g} vs {w}");
        }
    }
}
