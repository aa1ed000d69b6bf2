//! RMSNorm over the last dimension: `y = x / sqrt(mean(x²) + eps) · gamma`. Burn's module
//! makes six passes forward (square, mean, add, sqrt, divide, scale) and about ten
//! backward; here each row is one pass each way, and the gamma gradient is summed over
//! row blocks in parallel.

use burn::backend::Flex;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::nn::RmsNorm;
use burn::prelude::*;
use rayon::prelude::*;
use std::sync::Arc;

use super::{flex_input, new_f32, record};

/// Rows per task when summing the gamma gradient.
const ROW_BLOCK: usize = 64;

/// `norm.forward(x)`, fused on `Autodiff<Flex>`.
pub(crate) fn rms_norm<const D: usize>(norm: &RmsNorm, x: Tensor<D>) -> Tensor<D> {
    fused(norm, &x).unwrap_or_else(|| norm.forward(x))
}

fn fused<const D: usize>(norm: &RmsNorm, x: &Tensor<D>) -> Option<Tensor<D>> {
    let (x, x_node) = flex_input(x)?;
    let (gamma, gamma_node) = flex_input(&norm.gamma.val())?;
    let eps = norm.epsilon as f32;
    let dim = gamma.shape().num_elements();
    let xs = x.storage::<f32>();
    let g = gamma.storage::<f32>();
    let mut inv_rms = vec![0f32; xs.len() / dim];
    let out = new_f32(x.shape(), |out| {
        out.par_chunks_mut(dim)
            .zip(xs.par_chunks(dim))
            .zip(inv_rms.par_iter_mut())
            .for_each(|((out, x), inv)| {
                let mean_square = x.iter().map(|v| v * v).sum::<f32>() / dim as f32;
                *inv = 1.0 / (mean_square + eps).sqrt();
                for ((o, x), g) in out.iter_mut().zip(x).zip(g) {
                    *o = x * *inv * g;
                }
            });
    });
    let state = RmsState {
        x,
        gamma,
        inv_rms: Arc::new(inv_rms),
    };
    Some(record(RmsNormOp, [x_node, gamma_node], state, out))
}

#[derive(Debug)]
struct RmsNormOp;

#[derive(Debug, Clone)]
struct RmsState {
    x: FlexTensor,
    gamma: FlexTensor,
    /// `1 / sqrt(mean(x²) + eps)` per row.
    inv_rms: Arc<Vec<f32>>,
}

impl Backward<Flex, 2> for RmsNormOp {
    type State = RmsState;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let RmsState { x, gamma, inv_rms } = ops.state;
        let grad_out = grads.consume::<Flex>(&ops.node).to_contiguous();
        let [x_node, gamma_node] = ops.parents;
        let dim = gamma.shape().num_elements();
        let (xs, g, dy) = (
            x.storage::<f32>(),
            gamma.storage::<f32>(),
            grad_out.storage::<f32>(),
        );
        if let Some(node) = x_node {
            // With x̂ = x·r: dx = r · (dy∘γ − x̂ · mean(dy∘γ∘x̂)).
            let grad_x = new_f32(x.shape(), |dx| {
                dx.par_chunks_mut(dim)
                    .zip(xs.par_chunks(dim).zip(dy.par_chunks(dim)))
                    .zip(inv_rms.par_iter())
                    .for_each(|((dx, (x, dy)), &r)| {
                        let dot: f32 = x.iter().zip(dy).zip(g).map(|((x, dy), g)| x * dy * g).sum();
                        let k = r * r * dot / dim as f32;
                        for (((dx, x), dy), g) in dx.iter_mut().zip(x).zip(dy).zip(g) {
                            *dx = r * (dy * g - x * k);
                        }
                    });
            });
            grads.register::<Flex>(node.id, grad_x);
        }
        if let Some(node) = gamma_node {
            let block = ROW_BLOCK * dim;
            let sum = xs
                .par_chunks(block)
                .zip(dy.par_chunks(block))
                .zip(inv_rms.par_chunks(ROW_BLOCK))
                .map(|((x, dy), inv)| {
                    let mut acc = vec![0f32; dim];
                    for ((x, dy), r) in x.chunks(dim).zip(dy.chunks(dim)).zip(inv) {
                        for ((a, x), dy) in acc.iter_mut().zip(x).zip(dy) {
                            *a += dy * x * r;
                        }
                    }
                    acc
                })
                .reduce(
                    || vec![0f32; dim],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                        a
                    },
                );
            let grad_gamma = new_f32(gamma.shape(), |dg| dg.copy_from_slice(&sum));
            grads.register::<Flex>(node.id, grad_gamma);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::test_util::{assert_close, random, values};
    use burn::module::Param;
    use burn::nn::RmsNormConfig;

    /// Values and the gradients of x and gamma match Burn's `RmsNorm` module.
    #[test]
    fn matches_burn_rms_norm_forward_and_backward() {
        let device = Device::flex().autodiff();
        let (shape, dim) = ([3, 5, 12], 12);
        let n = 3 * 5 * 12;
        let (xv, gv, wv) = (random(n, 11, 4.0), random(dim, 12, 2.0), random(n, 13, 2.0));
        let run = |fused: bool| {
            let mut norm = RmsNormConfig::new(dim).with_epsilon(1e-5).init(&device);
            norm.gamma = Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(gv.clone(), [dim]),
                &device,
            ));
            let x =
                Tensor::<3>::from_data(TensorData::new(xv.clone(), shape), &device).require_grad();
            let out = if fused {
                super::fused(&norm, &x).expect("f32 on Autodiff<Flex> takes the fused op")
            } else {
                norm.forward(x.clone())
            };
            let w = Tensor::<3>::from_data(TensorData::new(wv.clone(), shape), &device);
            let grads = (out.clone() * w).sum().backward();
            vec![
                values(out.inner()),
                values(x.grad(&grads).unwrap()),
                values(norm.gamma.val().grad(&grads).unwrap()),
            ]
        };
        let (fused, reference) = (run(true), run(false));
        for (name, (got, want)) in ["out", "dx", "dgamma"]
            .iter()
            .zip(fused.iter().zip(&reference))
        {
            assert_close(name, got, want);
        }
    }
}
