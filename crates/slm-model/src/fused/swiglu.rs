//! SwiGLU's gate: `silu(g) · u`. As Burn ops that is sigmoid, two products forward and
//! five passes backward; here one pass each way.

use burn::backend::Flex;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::prelude::*;
use burn::tensor::activation::silu;
use rayon::prelude::*;

use super::{flex_input, new_f32, record};
use crate::numeric::exp_nonpositive;

/// Elements per rayon task.
const BLOCK: usize = 4096;

/// `silu(gate) * up`, fused on `Autodiff<Flex>`.
pub(crate) fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    fused(&gate, &up).unwrap_or_else(|| silu(gate) * up)
}

fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

fn fused<const D: usize>(gate: &Tensor<D>, up: &Tensor<D>) -> Option<Tensor<D>> {
    if gate.dims() != up.dims() {
        return None;
    }
    let (gate, gate_node) = flex_input(gate)?;
    let (up, up_node) = flex_input(up)?;
    let (g, u) = (gate.storage::<f32>(), up.storage::<f32>());
    let out = new_f32(gate.shape(), |out| {
        out.par_chunks_mut(BLOCK)
            .zip(g.par_chunks(BLOCK).zip(u.par_chunks(BLOCK)))
            .for_each(|(out, (g, u))| {
                for ((o, &g), &u) in out.iter_mut().zip(g).zip(u) {
                    *o = g * sigmoid(g) * u;
                }
            });
    });
    Some(record(SwiGlu, [gate_node, up_node], (gate, up), out))
}

#[derive(Debug)]
struct SwiGlu;

impl Backward<Flex, 2> for SwiGlu {
    /// The gate and up inputs.
    type State = (FlexTensor, FlexTensor);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (gate, up) = ops.state;
        let grad_out = grads.consume::<Flex>(&ops.node).to_contiguous();
        let [gate_node, up_node] = ops.parents;
        let (g, u, dy) = (
            gate.storage::<f32>(),
            up.storage::<f32>(),
            grad_out.storage::<f32>(),
        );
        let mut grad_gate = FlexTensor::empty(gate.shape(), gate.dtype());
        let mut grad_up = FlexTensor::empty(gate.shape(), gate.dtype());
        grad_gate
            .storage_mut::<f32>()
            .par_chunks_mut(BLOCK)
            .zip(grad_up.storage_mut::<f32>().par_chunks_mut(BLOCK))
            .zip(g.par_chunks(BLOCK).zip(u.par_chunks(BLOCK)))
            .zip(dy.par_chunks(BLOCK))
            .for_each(|(((dg, du), (g, u)), dy)| {
                for ((((dg, du), &g), &u), &dy) in dg.iter_mut().zip(du).zip(g).zip(u).zip(dy) {
                    let s = sigmoid(g);
                    // d silu(g)/dg = s · (1 + g · (1 − s)).
                    *dg = dy * u * s * (1.0 + g * (1.0 - s));
                    *du = dy * g * s;
                }
            });
        if let Some(node) = gate_node {
            grads.register::<Flex>(node.id, grad_gate);
        }
        if let Some(node) = up_node {
            grads.register::<Flex>(node.id, grad_up);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::test_util::{assert_close, random, values};

    /// Values and both gradients match `silu(gate) * up` as Burn ops, including large
    /// gate values of both signs.
    #[test]
    fn matches_burn_silu_product_forward_and_backward() {
        let device = Device::flex().autodiff();
        let shape = [2, 3, 1500];
        let n = 2 * 3 * 1500;
        let (gv, uv, wv) = (random(n, 21, 30.0), random(n, 22, 4.0), random(n, 23, 2.0));
        let run = |fused: bool| {
            let t = |v: &Vec<f32>| {
                Tensor::<3>::from_data(TensorData::new(v.clone(), shape), &device).require_grad()
            };
            let (g, u) = (t(&gv), t(&uv));
            let out = if fused {
                super::fused(&g, &u).expect("f32 on Autodiff<Flex> takes the fused op")
            } else {
                silu(g.clone()) * u.clone()
            };
            let w = Tensor::<3>::from_data(TensorData::new(wv.clone(), shape), &device);
            let grads = (out.clone() * w).sum().backward();
            vec![
                values(out.inner()),
                values(g.grad(&grads).unwrap()),
                values(u.grad(&grads).unwrap()),
            ]
        };
        let (fused, reference) = (run(true), run(false));
        for (name, (got, want)) in ["out", "dgate", "dup"]
            .iter()
            .zip(fused.iter().zip(&reference))
        {
            assert_close(name, got, want);
        }
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(100.0) - 1.0).abs() < 1e-7 && sigmoid(-100.0) >= 0.0);
        assert!((sigmoid(2.0) - 1.0 / (1.0 + (-2f32).exp())).abs() < 1e-6);
    }
}
