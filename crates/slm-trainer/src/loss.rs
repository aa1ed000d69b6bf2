//! Next-token cross-entropy fused with the output head, in f32 whatever the compute dtype
//! (reduced-precision logits would lose the small probabilities that dominate the loss).
//!
//! Composed from Burn ops (matmul, log_softmax, gather, mean and their backward), the loss
//! makes about ten single-threaded passes over the `[tokens, vocab]` logits, and on the
//! CPU backend those passes cost more than the head's matmuls. Here the logits never enter
//! the autodiff graph:
//!
//! 1. `logits = h·Wᵀ`;
//! 2. one parallel pass per row turns them into the row's loss and, in place, the gradient
//!    `G = dL/dlogits = (softmax − onehot(target)) / tokens`;
//! 3. `gh = G·W` and `gW = Gᵀ·h` (the head's backward matmuls) are computed at once, and
//!    the logits are freed;
//! 4. the returned loss hands `gh` and `gW` to autodiff as its gradients.
//!
//! On `Autodiff<Flex>` (CPU training) the matmuls call gemm directly into buffers that are
//! neither zero-filled nor copied, and step 4 is an autodiff op whose backward registers
//! `gh` and `gW` scaled by the incoming gradient. On other devices the matmuls are Burn
//! ops and step 4 is the surrogate `Σ h∘gh + Σ W∘gW`, shifted so its value is the loss:
//! its gradients with respect to `h` and `W` are exactly `gh` and `gW`.

use rayon::prelude::*;
use slm_model::burn::backend::autodiff::checkpoint::base::Checkpointer;
use slm_model::burn::backend::autodiff::grads::Gradients;
use slm_model::burn::backend::autodiff::ops::{Backward, Ops};
use slm_model::burn::backend::flex::FlexTensor;
use slm_model::burn::backend::{Flex, TensorMetadata};
use slm_model::burn::prelude::*;
use slm_model::burn::tensor::DType;
use slm_model::fused::{flex_f32, flex_input, record};
use slm_model::numeric::exp_nonpositive;

/// A target that is not predicted: its position adds nothing to the loss or the gradient
/// (the prompt tokens of instruction tuning).
pub const IGNORE_TARGET: i64 = -1;

/// Mean next-token cross-entropy of the head `head: [rows, dim]` over the hidden states
/// `hidden: [batch, seq, dim]` (a 1-element tensor, differentiable with respect to both).
/// Positions whose target is [`IGNORE_TARGET`] are left out of the mean.
pub fn head_cross_entropy(
    hidden: Tensor<3>,
    head: Tensor<2>,
    targets: Tensor<2, Int>,
) -> Tensor<1> {
    head_cross_entropy_weighted(hidden, head, targets, None)
}

/// [`head_cross_entropy`] with a weight per position (`weights`, one per target, all
/// positive): the weighted mean `Σ wᵢ·nllᵢ / Σ wᵢ` over the predicted positions, so a
/// position of weight 3 counts as three of weight 1. `None` weighs every position 1.
pub fn head_cross_entropy_weighted(
    hidden: Tensor<3>,
    head: Tensor<2>,
    targets: Tensor<2, Int>,
    weights: Option<&[f32]>,
) -> Tensor<1> {
    let [b, t, d] = hidden.dims();
    let hidden = hidden.reshape([b * t, d]).cast(DType::F32);
    let head = head.cast(DType::F32);
    let targets = target_ids(targets, b * t);
    if let Some(w) = weights {
        assert_eq!(w.len(), targets.len(), "one weight per target");
        assert!(w.iter().all(|&w| w > 0.0), "weights must be positive");
    }
    let weight = |i: usize| weights.map_or(1.0, |w| f64::from(w[i]));
    // An all-ignored batch gives a zero loss and zero gradients.
    let n = (0..targets.len())
        .filter(|&i| targets[i] != IGNORE_TARGET)
        .map(weight)
        .sum::<f64>();
    let n = if n > 0.0 { n } else { 1.0 };
    let rows = RowTargets {
        ids: &targets,
        weights,
    };
    if let Some(loss) = flex_head_loss(&hidden, &head, rows, n) {
        return loss;
    }
    let h = hidden.clone().inner();
    let w = head.clone().inner();
    let (grad, loss_sum) = logits_pass(h.clone(), w.clone(), rows, Some((1.0 / n) as f32));
    let grad = grad.expect("gradient requested");
    let grad_hidden = grad.clone().matmul(w);
    let grad_head = grad.transpose().matmul(h);
    let surrogate = (hidden * grad_hidden).sum() + (head * grad_head).sum();
    let shift = surrogate.clone().detach();
    (surrogate - shift).add_scalar(loss_sum / n)
}

/// Summed cross-entropy in nats over every predicted token (evaluation; no gradient).
pub fn head_cross_entropy_sum(hidden: Tensor<3>, head: Tensor<2>, targets: Tensor<2, Int>) -> f64 {
    let [b, t, d] = hidden.dims();
    let n = b * t;
    let h = hidden.inner().reshape([n, d]).cast(DType::F32);
    let w = head.inner().cast(DType::F32);
    let ids = target_ids(targets, n);
    let rows = RowTargets {
        ids: &ids,
        weights: None,
    };
    logits_pass(h, w, rows, None).1
}

/// Each logit row's target id (or [`IGNORE_TARGET`]) and, optionally, its weight.
#[derive(Clone, Copy)]
struct RowTargets<'a> {
    ids: &'a [i64],
    weights: Option<&'a [f32]>,
}

fn target_ids(targets: Tensor<2, Int>, n: usize) -> Vec<i64> {
    let ids = targets
        .inner()
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("integer targets");
    assert_eq!(ids.len(), n, "one target per hidden state");
    ids
}

/// Computes `h·wᵀ`, then per row the NLL of its target and, with `grad_scale`, the scaled
/// gradient in place. Returns the gradient tensor (with `grad_scale`) and the summed NLL.
fn logits_pass(
    h: Tensor<2>,
    w: Tensor<2>,
    targets: RowTargets,
    grad_scale: Option<f32>,
) -> (Option<Tensor<2>>, f64) {
    let device = h.device();
    let [n, d] = h.dims();
    let [rows, _] = w.dims();
    let mut logits = match (flex_f32(h.clone()), flex_f32(w.clone())) {
        (Some(h), Some(w)) => logits_gemm(h.storage(), w.storage(), n, rows, d),
        _ => h
            .matmul(w.transpose())
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 logits"),
    };
    let loss_sum = rows_cross_entropy(&mut logits, rows, targets, grad_scale);
    let grad = grad_scale.map(|_| Tensor::from_data(TensorData::new(logits, [n, rows]), &device));
    (grad, loss_sum)
}

/// The loss as one autodiff op on `Autodiff<Flex>`; `None` on any other device.
fn flex_head_loss(
    hidden: &Tensor<2>,
    head: &Tensor<2>,
    targets: RowTargets,
    n: f64,
) -> Option<Tensor<1>> {
    let (h, h_node) = flex_input(hidden)?;
    let (w, w_node) = flex_input(head)?;
    let ([len, d], [rows, _]) = (h.shape().dims(), w.shape().dims());
    let (h, w) = (h.storage::<f32>(), w.storage::<f32>());
    let mut grad = logits_gemm(h, w, len, rows, d);
    let loss_sum = rows_cross_entropy(&mut grad, rows, targets, Some((1.0 / n) as f32));
    // gh = G·W ([len, rows]·[rows, d]); gW = Gᵀ·h ([rows, len]·[len, d]).
    let grad_hidden = gemm(len, d, rows, (&grad, rows, 1), (w, d, 1));
    let grad_head = gemm(rows, d, len, (&grad, 1, rows), (h, d, 1));
    drop(grad);
    let f32_tensor =
        |v: Vec<f32>, shape: [usize; 2]| FlexTensor::from_data(TensorData::new(v, shape));
    let state = (
        f32_tensor(grad_hidden, [len, d]),
        f32_tensor(grad_head, [rows, d]),
    );
    let loss = FlexTensor::from_data(TensorData::new(vec![(loss_sum / n) as f32], [1]));
    Some(record(HeadLoss, [h_node, w_node], state, loss))
}

/// Backward of [`flex_head_loss`]: the precomputed gradients times the incoming one.
#[derive(Debug)]
struct HeadLoss;

impl Backward<Flex, 2> for HeadLoss {
    /// `dL/dh` and `dL/dW`.
    type State = (FlexTensor, FlexTensor);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let scale = grads
            .consume::<Flex>(&ops.node)
            .to_contiguous()
            .storage::<f32>()[0];
        let (grad_hidden, grad_head) = ops.state;
        for (node, mut grad) in ops.parents.into_iter().zip([grad_hidden, grad_head]) {
            if let Some(node) = node {
                if scale != 1.0 {
                    grad.storage_mut::<f32>()
                        .par_chunks_mut(1 << 14)
                        .for_each(|c| c.iter_mut().for_each(|x| *x *= scale));
                }
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

/// `h·wᵀ` for row-major `h: [n, d]` and `w: [rows, d]`, as row-major `[n, rows]`.
fn logits_gemm(h: &[f32], w: &[f32], n: usize, rows: usize, d: usize) -> Vec<f32> {
    gemm(n, rows, d, (h, d, 1), (w, 1, d))
}

/// A matrix operand: its elements with the strides between rows and between columns.
type Strided<'a> = (&'a [f32], usize, usize);

/// The row-major `[m, n]` product of `a: [m, k]` and `b: [k, n]`, written by gemm straight
/// into a new buffer (no zero-fill, no copy).
fn gemm(m: usize, n: usize, k: usize, a: Strided, b: Strided) -> Vec<f32> {
    assert!(m > 0 && n > 0 && k > 0, "empty matmul {m}x{k}x{n}");
    let last = |(data, rs, cs): Strided, rows: usize, cols: usize| {
        assert!(
            (rows - 1) * rs + (cols - 1) * cs < data.len(),
            "operand out of bounds"
        );
    };
    last(a, m, k);
    last(b, k, n);
    let mut out = Vec::<f32>::with_capacity(m * n);
    let parallelism = if m * n * k >= 1 << 16 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the operands' extents were checked above; `out` has room for m·n elements,
    // which gemm writes in full without reading them (`read_dst = false`), so the length
    // is set only after every element is initialised.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.0.as_ptr(),
            a.2 as isize,
            a.1 as isize,
            b.0.as_ptr(),
            b.2 as isize,
            b.1 as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
        out.set_len(m * n);
    }
    out
}

/// For each `row` of `logits` (`[targets.ids.len(), rows]`, row-major) adds `w·(logsumexp(row)
/// − row[target])` to the returned sum, `w` the row's weight (1 without weights). With
/// `grad_scale = Some(s)` the row is overwritten with `s·w·(softmax(row) − onehot(target))`;
/// without, its contents are left undefined. A row holding NaN or ±inf yields a NaN loss (and
/// NaN gradients), never a silently finite one. A row whose target is [`IGNORE_TARGET`] adds
/// 0 and gets a zero gradient.
fn rows_cross_entropy(
    logits: &mut [f32],
    rows: usize,
    targets: RowTargets,
    grad_scale: Option<f32>,
) -> f64 {
    logits
        .par_chunks_mut(rows)
        .zip(targets.ids.par_iter())
        .enumerate()
        .map(|(i, (row, &target))| {
            if target == IGNORE_TARGET {
                row.fill(0.0);
                return 0.0;
            }
            let target = usize::try_from(target)
                .ok()
                .filter(|&t| t < rows)
                .unwrap_or_else(|| panic!("target {target} outside the {rows} logit rows"));
            let weight = targets.weights.map_or(1.0, |w| w[i]);
            let picked = row[target];
            let (max, finite) = max_and_finite(row);
            if !finite {
                row.fill(f32::NAN);
                return f64::NAN;
            }
            for x in row.iter_mut() {
                *x = exp_nonpositive(*x - max);
            }
            let sum = lane_sum(row);
            if let Some(scale) = grad_scale {
                let scale = scale * weight;
                let k = scale / sum;
                for x in row.iter_mut() {
                    *x *= k;
                }
                row[target] -= scale;
            }
            f64::from(weight) * (f64::from(sum).ln() + f64::from(max) - f64::from(picked))
        })
        .sum()
}

const LANES: usize = 16;

/// Largest value and whether every value is finite; sixteen running lanes so the loop
/// vectorises.
fn max_and_finite(x: &[f32]) -> (f32, bool) {
    let mut max = [f32::NEG_INFINITY; LANES];
    // `x * 0` is 0 for finite x and NaN for NaN or ±inf.
    let mut probe = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            max[l] = if c[l] > max[l] { c[l] } else { max[l] };
            probe[l] += c[l] * 0.0;
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        max[l] = if v > max[l] { v } else { max[l] };
        probe[l] += v * 0.0;
    }
    let finite = probe.iter().sum::<f32>() == 0.0;
    (max.into_iter().fold(f32::NEG_INFINITY, f32::max), finite)
}

/// Sum in sixteen lanes (vectorises; the order is fixed, so results are deterministic).
fn lane_sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        acc[l] += v;
    }
    acc.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slm_model::burn::tensor::activation::log_softmax;

    /// The loss as plain Burn ops (log_softmax + gather + mean): the reference.
    fn reference(hidden: Tensor<3>, head: Tensor<2>, targets: Tensor<2, Int>) -> Tensor<1> {
        let [b, t, d] = hidden.dims();
        let logits = hidden.reshape([b * t, d]).matmul(head.transpose());
        let logp = log_softmax(logits.cast(DType::F32), 1);
        let picked: Tensor<2> = logp.gather(1, targets.reshape([b * t, 1]));
        picked.neg().mean()
    }

    fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn targets(ids: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(ids, shape), device)
    }

    /// The loss's value and the gradients of `hidden` and `head` it gives.
    fn value_and_grads(
        loss: Tensor<1>,
        hidden: &Tensor<3>,
        head: &Tensor<2>,
    ) -> (f64, Vec<f32>, Vec<f32>) {
        let value = loss.clone().into_scalar::<f64>();
        let grads = loss.backward();
        let gh = hidden
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        let gw = head.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        (value, gh, gw)
    }

    #[test]
    fn matches_hand_computed_values() {
        let device = Device::flex();
        // hidden = identity rows, so the logits are the head's columns: [1, 2, 3] and [0, 0, 0].
        let hidden = tensor(vec![1.0, 0.0, 0.0, 1.0], [1, 2, 2], &device);
        let head = tensor(vec![1.0, 0.0, 2.0, 0.0, 3.0, 0.0], [3, 2], &device);
        let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        let expected = ((lse - 3.0) + 3f64.ln()) / 2.0;
        let ids = || targets(vec![2, 0], [1, 2], &device);
        let mean = head_cross_entropy(hidden.clone(), head.clone(), ids()).into_scalar::<f64>();
        assert!((mean - expected).abs() < 1e-6, "{mean} vs {expected}");
        let sum = head_cross_entropy_sum(hidden, head, ids());
        assert!((sum - 2.0 * expected).abs() < 1e-6, "{sum}");
    }

    /// Value and gradients (for both the hidden states and the head) equal the plain-Burn
    /// composition's, on irregular inputs with a row count that is not a multiple of 16, for
    /// the fused autodiff op (flex) and the surrogate (ndarray), with the loss scaled before
    /// the backward pass as the trainer does.
    #[test]
    fn gradients_match_the_unfused_loss() {
        #[allow(deprecated)]
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            check_gradients(&device);
        }
    }

    fn check_gradients(device: &Device) {
        let (b, t, d, rows) = (2, 5, 8, 37);
        // Deterministic, irregular values: sin of a quadratic in the index.
        let values = |len: usize, amp: f32, k: f32| -> Vec<f32> {
            (0..len)
                .map(|i| (i as f32 * k + (i * i) as f32 * 0.013).sin() * amp)
                .collect()
        };
        let hidden_v = values(b * t * d, 2.0, 0.71);
        let head_v = values(rows * d, 1.0, 0.37);
        let ids: Vec<i64> = (0..(b * t) as i64)
            .map(|i| (i * 11) % rows as i64)
            .collect();
        let run = |fused: bool| {
            let hidden = tensor(hidden_v.clone(), [b, t, d], device).require_grad();
            let head = tensor(head_v.clone(), [rows, d], device).require_grad();
            let ids = targets(ids.clone(), [b, t], device);
            let loss = if fused {
                head_cross_entropy(hidden.clone(), head.clone(), ids)
            } else {
                reference(hidden.clone(), head.clone(), ids)
            };
            value_and_grads(loss.mul_scalar(0.25), &hidden, &head)
        };
        let (value, gh, gw) = run(true);
        let (want, want_gh, want_gw) = run(false);
        assert!((value - want).abs() < 1e-5, "{value} vs {want}");
        for (got, want) in [(gh, want_gh), (gw, want_gw)] {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * scale.max(1.0), "{g} vs {w}");
            }
        }
    }

    /// Evaluation's sum is the same through gemm (flex) and Burn's matmul (ndarray).
    #[test]
    fn summed_loss_is_the_same_on_both_paths() {
        let (b, t, d, rows) = (3, 7, 16, 53);
        let hidden_v: Vec<f32> = (0..b * t * d).map(|i| (i as f32 * 0.37).sin()).collect();
        let head_v: Vec<f32> = (0..rows * d).map(|i| (i as f32 * 0.11).cos()).collect();
        let ids: Vec<i64> = (0..(b * t) as i64).map(|i| (i * 7) % rows as i64).collect();
        #[allow(deprecated)]
        let sums: Vec<f64> = [Device::flex(), Device::ndarray()]
            .iter()
            .map(|device| {
                head_cross_entropy_sum(
                    tensor(hidden_v.clone(), [b, t, d], device),
                    tensor(head_v.clone(), [rows, d], device),
                    targets(ids.clone(), [b, t], device),
                )
            })
            .collect();
        assert!(
            sums[0] > 0.0 && (sums[0] - sums[1]).abs() < 1e-4,
            "{sums:?}"
        );
    }

    /// Ignored targets drop out of the mean and get zero gradients; the rest is the loss of
    /// the kept positions alone.
    #[test]
    fn ignored_targets_are_left_out() {
        #[allow(deprecated)]
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let (d, rows) = (4, 9);
            let hidden_v: Vec<f32> = (0..3 * d).map(|i| (i as f32 * 0.7).sin()).collect();
            let head_v: Vec<f32> = (0..rows * d).map(|i| (i as f32 * 0.3).cos()).collect();
            let run = |hidden_v: Vec<f32>, ids: Vec<i64>, t: usize| {
                let hidden = tensor(hidden_v, [1, t, d], &device).require_grad();
                let head = tensor(head_v.clone(), [rows, d], &device).require_grad();
                let ids = targets(ids, [1, t], &device);
                let loss = head_cross_entropy(hidden.clone(), head.clone(), ids);
                let (value, gh, _) = value_and_grads(loss, &hidden, &head);
                (value, gh)
            };
            let (masked, gh) = run(hidden_v.clone(), vec![2, IGNORE_TARGET, 5], 3);
            let kept: Vec<f32> = [&hidden_v[..d], &hidden_v[2 * d..]].concat();
            let (want, want_gh) = run(kept, vec![2, 5], 2);
            assert!((masked - want).abs() < 1e-6, "{masked} vs {want}");
            assert!(gh[d..2 * d].iter().all(|&g| g == 0.0));
            for (g, w) in [&gh[..d], &gh[2 * d..]].concat().iter().zip(&want_gh) {
                assert!((g - w).abs() < 1e-6, "{g} vs {w}");
            }
        }
    }

    fn unweighted(ids: &[i64]) -> RowTargets<'_> {
        RowTargets { ids, weights: None }
    }

    /// A position of weight 3 counts as three copies of it: the weighted loss and its
    /// gradients equal the plain loss over the batch with that position repeated (the
    /// copies' hidden-state gradients summed), on the fused op (flex) and the surrogate.
    #[test]
    fn a_weight_counts_as_repeated_positions() {
        #[allow(deprecated)]
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let (d, rows) = (4, 11);
            let hidden_v: Vec<f32> = (0..3 * d).map(|i| (i as f32 * 0.9).sin()).collect();
            let head_v: Vec<f32> = (0..rows * d).map(|i| (i as f32 * 0.23).cos()).collect();
            let run = |hidden_v: Vec<f32>, ids: Vec<i64>, weights: Option<&[f32]>| {
                let t = ids.len();
                let hidden = tensor(hidden_v, [1, t, d], &device).require_grad();
                let head = tensor(head_v.clone(), [rows, d], &device).require_grad();
                let loss = head_cross_entropy_weighted(
                    hidden.clone(),
                    head.clone(),
                    targets(ids, [1, t], &device),
                    weights,
                );
                value_and_grads(loss, &hidden, &head)
            };
            // Positions 0, 1 (weight 3), 2 (ignored).
            let (value, gh, gw) = run(
                hidden_v.clone(),
                vec![2, 7, IGNORE_TARGET],
                Some(&[1.0, 3.0, 5.0]),
            );
            let row = |i: usize| hidden_v[i * d..(i + 1) * d].to_vec();
            let repeated = [row(0), row(1), row(1), row(1)].concat();
            let (want, want_gh, want_gw) = run(repeated, vec![2, 7, 7, 7], None);
            assert!((value - want).abs() < 1e-6, "{value} vs {want}");
            let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
            assert!(
                gh[..d]
                    .iter()
                    .zip(&want_gh[..d])
                    .all(|(&a, &b)| close(a, b))
            );
            for j in 0..d {
                let copies: f32 = (1..4).map(|c| want_gh[c * d + j]).sum();
                assert!(close(gh[d + j], copies), "{} vs {copies}", gh[d + j]);
            }
            assert!(gh[2 * d..].iter().all(|&g| g == 0.0));
            assert!(gw.iter().zip(&want_gw).all(|(&a, &b)| close(a, b)));
            // Weights of 1 are the plain loss.
            let ones = run(hidden_v.clone(), vec![2, 7, 1], Some(&[1.0; 3]));
            let plain = run(hidden_v.clone(), vec![2, 7, 1], None);
            assert!((ones.0 - plain.0).abs() < 1e-9 && ones.1 == plain.1 && ones.2 == plain.2);
        }
    }

    #[test]
    fn non_finite_logits_give_a_nan_loss() {
        let mut logits = vec![0.0, 1.0, f32::INFINITY, 0.5, 0.5, 0.5];
        let sum = rows_cross_entropy(&mut logits, 3, unweighted(&[0, 1]), Some(0.5));
        assert!(sum.is_nan());
        assert!(logits[..3].iter().all(|g| g.is_nan()));
        let mut logits = vec![f32::NAN, 1.0, 2.0];
        assert!(rows_cross_entropy(&mut logits, 3, unweighted(&[1]), None).is_nan());
    }

    #[test]
    fn gradient_rows_sum_to_zero() {
        // softmax sums to 1 and the one-hot to 1: each gradient row sums to 0.
        let mut logits: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let nll = rows_cross_entropy(&mut logits, 20, unweighted(&[3, 19]), Some(0.25));
        assert!(nll.is_finite() && nll > 0.0);
        for row in logits.chunks(20) {
            assert!(row.iter().sum::<f32>().abs() < 1e-6);
        }
        assert!(logits[3] < 0.0 && logits[20 + 19] < 0.0);
    }
}
