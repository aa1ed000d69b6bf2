//! Causal attention: under autodiff, Burn 0.22 computes `attention` with its generic
//! fallback, about six element-wise passes over the `[batch, heads, seq, seq]` scores
//! forward and eight more backward (scale, mask, max, shift, exp, sum, divide and their
//! gradients). This op keeps the four matmuls (flex's parallel gemm) and replaces the rest
//! with one row-parallel pass forward (masked, scaled softmax) and one backward
//! (`dS = P ∘ (dP − rowsum(P ∘ dP))`).

use burn::backend::Flex;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::prelude::*;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use rayon::prelude::*;

use super::{flex_input, record};
use crate::numeric::{exp_nonpositive, max_ignoring_nan};

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
    let (q, q_node) = flex_input(q)?;
    let (k, k_node) = flex_input(k)?;
    let (v, v_node) = flex_input(v)?;
    let scale = 1.0 / (q.shape()[3] as f32).sqrt();
    let mut probs = Flex::float_matmul(q.clone(), Flex::float_transpose(k.clone()));
    let seq = probs.shape()[3];
    masked_softmax_rows(scores_mut(&mut probs), seq, scale);
    let out = Flex::float_matmul(probs.clone(), v.clone());
    let state = AttentionState {
        q,
        k,
        v,
        probs,
        scale,
    };
    Some(record(
        CausalAttention,
        [q_node, k_node, v_node],
        state,
        out,
    ))
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
            scores_mut(&mut grad_scores),
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

/// The f32 elements of a freshly computed (contiguous, unshared) matmul output, in place.
fn scores_mut(t: &mut FlexTensor) -> &mut [f32] {
    let n = t.shape().num_elements();
    assert!(t.is_contiguous(), "matmul outputs are contiguous");
    let data = t.storage_mut::<f32>();
    assert_eq!(data.len(), n, "the output owns its whole buffer");
    data
}

/// Rows of `seq` scores, `seq` rows per (batch, head): row `i` becomes
/// `softmax(scale · row[..=i])` followed by zeros.
fn masked_softmax_rows(scores: &mut [f32], seq: usize, scale: f32) {
    scores.par_chunks_mut(seq).enumerate().for_each(|(r, row)| {
        let (live, future) = row.split_at_mut(r % seq + 1);
        future.fill(0.0);
        let max = max_ignoring_nan(live);
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
    use crate::fused::test_util::{assert_close, random, values};

    /// Output and the gradients of q, k and v match Burn's own causal attention (the
    /// generic autodiff fallback) on the same inputs.
    #[test]
    fn matches_burn_attention_forward_and_backward() {
        let device = Device::flex().autodiff();
        let shape = [2, 3, 7, 4];
        let n: usize = shape.iter().product();
        let inputs = [random(n, 1, 3.0), random(n, 2, 3.0), random(n, 3, 3.0)];
        // A fixed random projection of the output, so every output element has a gradient.
        let weights = random(n, 4, 3.0);
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
            assert_close(name, got, want);
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
        let (q, k, v) = (t(random(6, 5, 3.0)), t(random(6, 6, 3.0)), t(v));
        assert!(fused(&q, &k, &v).is_none());
        let out = values(causal_attention(q, k, v));
        assert!(
            (out[0] - 1.0).abs() < 1e-6 && (out[1] - 2.0).abs() < 1e-6,
            "{out:?}"
        );
    }
}
