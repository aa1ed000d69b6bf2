//! Causal attention for training on the flex CPU backend, with a hand-written backward.
//!
//! Under autodiff, Burn 0.22 computes `attention` with its generic fallback: about six
//! element-wise passes over the `[batch, heads, seq, seq]` scores forward and eight more
//! backward (scale, mask, max, shift, exp, sum, divide and their gradients), each one
//! single-threaded on the flex backend. This op keeps the four matmuls (flex's parallel
//! gemm) and replaces the rest with one row-parallel pass forward (masked, scaled softmax)
//! and one backward (`dS = P ∘ (dP − rowsum(P ∘ dP))`), registered as a Burn autodiff op
//! through its backend-extension API.
//!
//! It applies to f32 tensors on `Autodiff<Flex>`; anything else (other backends, reduced
//! precision, inference) goes through Burn's `attention` unchanged.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use rayon::prelude::*;

use crate::numeric::exp_nonpositive;

/// `softmax(q·kᵀ/√head_dim + causal mask)·v` for `[batch, heads, seq, head_dim]` inputs
/// (query `i` sees keys `0..=i`).
pub(crate) fn causal_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    fused(&q, &k, &v).unwrap_or_else(|| {
        let options = AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: true,
        };
        attention(q, k, v, None, None, options)
    })
}

/// The fused op, or `None` when the tensors are not f32 on `Autodiff<Flex>`.
fn fused(q: &Tensor<4>, k: &Tensor<4>, v: &Tensor<4>) -> Option<Tensor<4>> {
    if !q.device().is_autodiff() || [q, k, v].iter().any(|t| t.dtype() != DType::F32) {
        return None;
    }
    let primitive = |t: &Tensor<4>| t.clone().try_into_primitive::<Autodiff<Flex>>().ok();
    let (q, k, v) = (primitive(q)?, primitive(k)?, primitive(v)?);
    let scale = 1.0 / (q.primitive().shape()[3] as f32).sqrt();
    let (q, q_node) = q.into_parts();
    let (k, k_node) = k.into_parts();
    let (v, v_node) = v.into_parts();
    let (q, k, v) = (q.to_contiguous(), k.to_contiguous(), v.to_contiguous());
    let mut probs = Flex::float_matmul(q.clone(), Flex::float_transpose(k.clone()));
    let seq = probs.shape()[3];
    masked_softmax_rows(f32_storage(&mut probs, seq), seq, scale);
    let out = Flex::float_matmul(probs.clone(), v.clone());
    let out = match CausalAttention
        .prepare::<NoCheckpointing>([q_node, k_node, v_node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            AttentionState {
                q,
                k,
                v,
                probs,
                scale,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Autodiff<Flex>>(out))
}

#[derive(Debug)]
struct CausalAttention;

#[derive(Debug, Clone)]
struct AttentionState {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    /// The softmax probabilities `[batch, heads, seq, seq]` (0 above the diagonal).
    probs: FlexTensor,
    scale: f32,
}

impl Backward<Flex, 3> for CausalAttention {
    type State = AttentionState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let AttentionState {
            q,
            k,
            v,
            probs,
            scale,
        } = ops.state;
        let grad_out = grads.consume::<Flex>(&ops.node);
        let [q_node, k_node, v_node] = ops.parents;
        if let Some(node) = v_node {
            let grad_v = Flex::float_matmul(Flex::float_transpose(probs.clone()), grad_out.clone());
            grads.register::<Flex>(node.id, grad_v);
        }
        if q_node.is_none() && k_node.is_none() {
            return;
        }
        // dP = dO·vᵀ, then in place dS = scale · P ∘ (dP − rowsum(P ∘ dP)).
        let mut grad_scores = Flex::float_matmul(grad_out, Flex::float_transpose(v));
        let seq = grad_scores.shape()[3];
        softmax_backward_rows(
            f32_storage(&mut grad_scores, seq),
            probs.storage::<f32>(),
            seq,
            scale,
        );
        if let Some(node) = q_node {
            grads.register::<Flex>(node.id, Flex::float_matmul(grad_scores.clone(), k));
        }
        if let Some(node) = k_node {
            let grad_k = Flex::float_matmul(Flex::float_transpose(grad_scores), q);
            grads.register::<Flex>(node.id, grad_k);
        }
    }
}

/// The contiguous f32 elements of a freshly computed `[.., seq, seq]` matmul output.
fn f32_storage(t: &mut FlexTensor, seq: usize) -> &mut [f32] {
    let n = t.shape().num_elements();
    assert!(
        t.is_contiguous() && n % (seq * seq) == 0,
        "contiguous [.., seq, seq] scores"
    );
    let data = t.storage_mut::<f32>();
    assert_eq!(data.len(), n, "scores own their whole buffer");
    data
}

/// Rows of `seq` scores, `seq` rows per (batch, head): row `i` becomes
/// `softmax(scale · row[..=i])` followed by zeros.
fn masked_softmax_rows(scores: &mut [f32], seq: usize, scale: f32) {
    scores.par_chunks_mut(seq).enumerate().for_each(|(r, row)| {
        let (live, future) = row.split_at_mut(r % seq + 1);
        future.fill(0.0);
        let max = live.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut sum = 0.0f32;
        for x in live.iter_mut() {
            *x = exp_nonpositive((*x - max) * scale);
            sum += *x;
        }
        let inv = 1.0 / sum;
        live.iter_mut().for_each(|x| *x *= inv);
    });
}

/// In place, `grad` (rows of dP) becomes `scale · P ∘ (dP − rowsum(P ∘ dP))`; zero where P
/// is masked.
fn softmax_backward_rows(grad: &mut [f32], probs: &[f32], seq: usize, scale: f32) {
    assert_eq!(grad.len(), probs.len());
    grad.par_chunks_mut(seq)
        .zip(probs.par_chunks(seq))
        .enumerate()
        .for_each(|(r, (g, p))| {
            let live = r % seq + 1;
            let (g_live, g_future) = g.split_at_mut(live);
            g_future.fill(0.0);
            let p = &p[..live];
            let dot: f32 = g_live.iter().zip(p).map(|(g, p)| g * p).sum();
            for (g, p) in g_live.iter_mut().zip(p) {
                *g = scale * p * (*g - dot);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
            })
            .collect()
    }

    /// Output and the gradients of q, k and v match Burn's own causal attention (the
    /// generic autodiff fallback) on the same inputs.
    #[test]
    fn matches_burn_attention_forward_and_backward() {
        let device = Device::flex().autodiff();
        let shape = [2, 3, 7, 4];
        let n: usize = shape.iter().product();
        let inputs = [random(n, 1), random(n, 2), random(n, 3)];
        // A fixed random projection of the output, so every output element has a gradient.
        let weights = random(n, 4);
        let run = |fused: bool| {
            let [q, k, v] = inputs
                .clone()
                .map(|x| Tensor::<4>::from_data(TensorData::new(x, shape), &device).require_grad());
            let out = if fused {
                super::fused(&q, &k, &v).expect("f32 on Autodiff<Flex> takes the fused op")
            } else {
                let options = AttentionModuleOptions {
                    scale: None,
                    softcap: None,
                    is_causal: true,
                };
                attention(q.clone(), k.clone(), v.clone(), None, None, options)
            };
            let w = Tensor::<4>::from_data(TensorData::new(weights.clone(), shape), &device);
            let grads = (out.clone() * w).sum().backward();
            let values = |t: Tensor<4>| t.into_data().to_vec::<f32>().unwrap();
            let mut all = vec![values(out.inner())];
            for t in [q, k, v] {
                all.push(values(t.grad(&grads).expect("gradient")));
            }
            all
        };
        let fused = run(true);
        let reference = run(false);
        for (name, (got, want)) in ["out", "dq", "dk", "dv"]
            .iter()
            .zip(fused.iter().zip(&reference))
        {
            let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "{name} is all zeros");
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-5 * scale.max(1.0), "{name}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn falls_back_off_autodiff() {
        // Inference tensors take Burn's path; the result is still causal attention: the
        // first query sees only the first key, so its output is the first value row.
        let device = Device::flex();
        let shape = [1, 1, 3, 2];
        let t = |x: Vec<f32>| Tensor::<4>::from_data(TensorData::new(x, shape), &device);
        let v = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let (q, k, v) = (t(random(6, 5)), t(random(6, 6)), t(v));
        assert!(fused(&q, &k, &v).is_none());
        let out = causal_attention(q, k, v);
        let out = out.into_data().to_vec::<f32>().unwrap();
        assert!(
            (out[0] - 1.0).abs() < 1e-6 && (out[1] - 2.0).abs() < 1e-6,
            "{out:?}"
        );
    }
}
