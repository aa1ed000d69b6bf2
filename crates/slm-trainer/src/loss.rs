//! Next-token cross-entropy fused with the output head, in f32 whatever the compute dtype
//! (reduced-precision logits would lose the small probabilities that dominate the loss).
//!
//! Composed from Burn ops (matmul, log_softmax, gather, mean and their backward), the loss
//! makes about ten single-threaded passes over the `[tokens, vocab]` logits, and on the
//! CPU backend those passes cost more than the head's matmuls. Here the logits never enter
//! the autodiff graph:
//!
//! 1. `logits = h·Wᵀ` on the inner (non-autodiff) backend;
//! 2. one parallel pass per row turns them into the row's loss and, in place, the gradient
//!    `dL/dlogits = (softmax − onehot(target)) / tokens`;
//! 3. `gh = G·W` and `gW = Gᵀ·h` (the head's backward matmuls), again outside the graph;
//! 4. the returned tensor is `Σ h∘gh + Σ W∘gW`, shifted so its value is the loss: its
//!    gradients with respect to `h` and `W` are exactly `gh` and `gW`.

use rayon::prelude::*;
use slm_model::burn::prelude::*;
use slm_model::burn::tensor::DType;
use slm_model::numeric::exp_nonpositive;

/// Mean next-token cross-entropy of the head `head: [rows, dim]` over the hidden states
/// `hidden: [batch, seq, dim]` (a 1-element tensor, differentiable with respect to both).
pub fn head_cross_entropy(
    hidden: Tensor<3>,
    head: Tensor<2>,
    targets: Tensor<2, Int>,
) -> Tensor<1> {
    let [b, t, d] = hidden.dims();
    let n = b * t;
    let hidden = hidden.reshape([n, d]);
    let h = hidden.clone().inner().cast(DType::F32);
    let w = head.clone().inner().cast(DType::F32);
    let (grad, loss_sum) = logits_pass(h.clone(), w.clone(), targets, Some(1.0 / n as f32));
    let grad = grad.expect("gradient requested");
    let grad_hidden = grad.clone().matmul(w);
    let grad_head = grad.transpose().matmul(h);
    let surrogate =
        (hidden.cast(DType::F32) * grad_hidden).sum() + (head.cast(DType::F32) * grad_head).sum();
    let shift = surrogate.clone().detach();
    (surrogate - shift).add_scalar(loss_sum / n as f64)
}

/// Summed cross-entropy in nats over every token (evaluation; no gradient).
pub fn head_cross_entropy_sum(hidden: Tensor<3>, head: Tensor<2>, targets: Tensor<2, Int>) -> f64 {
    let [b, t, d] = hidden.dims();
    let h = hidden.inner().reshape([b * t, d]).cast(DType::F32);
    logits_pass(h, head.inner().cast(DType::F32), targets, None).1
}

/// Computes `h·wᵀ`, then per row the NLL of its target and, with `grad_scale`, the scaled
/// gradient in place. Returns the gradient tensor (with `grad_scale`) and the summed NLL.
fn logits_pass(
    h: Tensor<2>,
    w: Tensor<2>,
    targets: Tensor<2, Int>,
    grad_scale: Option<f32>,
) -> (Option<Tensor<2>>, f64) {
    let device = h.device();
    let [n, _] = h.dims();
    let [rows, _] = w.dims();
    let mut logits: Vec<f32> = h
        .matmul(w.transpose())
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 logits");
    let targets: Vec<i64> = targets
        .inner()
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("integer targets");
    assert_eq!(targets.len(), n, "one target per hidden state");
    let loss_sum = rows_cross_entropy(&mut logits, rows, &targets, grad_scale);
    let grad = grad_scale.map(|_| Tensor::from_data(TensorData::new(logits, [n, rows]), &device));
    (grad, loss_sum)
}

/// For each `row` of `logits` (`[targets.len(), rows]`, row-major) adds `logsumexp(row) −
/// row[target]` to the returned sum. With `grad_scale = Some(s)` the row is overwritten with
/// `s · (softmax(row) − onehot(target))`; without, its contents are left undefined. A row
/// holding NaN or ±inf yields a NaN loss (and NaN gradients), never a silently finite one.
fn rows_cross_entropy(
    logits: &mut [f32],
    rows: usize,
    targets: &[i64],
    grad_scale: Option<f32>,
) -> f64 {
    logits
        .par_chunks_mut(rows)
        .zip(targets.par_iter())
        .map(|(row, &target)| {
            let target = usize::try_from(target)
                .ok()
                .filter(|&t| t < rows)
                .unwrap_or_else(|| panic!("target {target} outside the {rows} logit rows"));
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
                let k = scale / sum;
                for x in row.iter_mut() {
                    *x *= k;
                }
                row[target] -= scale;
            }
            f64::from(sum).ln() + f64::from(max) - f64::from(picked)
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
    /// composition's, on irregular inputs with a row count that is not a multiple of 16.
    #[test]
    fn gradients_match_the_unfused_loss() {
        let device = Device::flex().autodiff();
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
            let hidden = tensor(hidden_v.clone(), [b, t, d], &device).require_grad();
            let head = tensor(head_v.clone(), [rows, d], &device).require_grad();
            let ids = targets(ids.clone(), [b, t], &device);
            let loss = if fused {
                head_cross_entropy(hidden.clone(), head.clone(), ids)
            } else {
                reference(hidden.clone(), head.clone(), ids)
            };
            let value = loss.clone().into_scalar::<f64>();
            let grads = loss.backward();
            let gh: Vec<f32> = hidden
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            let gw: Vec<f32> = head.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            (value, gh, gw)
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

    #[test]
    fn non_finite_logits_give_a_nan_loss() {
        let mut logits = vec![0.0, 1.0, f32::INFINITY, 0.5, 0.5, 0.5];
        let sum = rows_cross_entropy(&mut logits, 3, &[0, 1], Some(0.5));
        assert!(sum.is_nan());
        assert!(logits[..3].iter().all(|g| g.is_nan()));
        let mut logits = vec![f32::NAN, 1.0, 2.0];
        assert!(rows_cross_entropy(&mut logits, 3, &[1], None).is_nan());
    }

    #[test]
    fn gradient_rows_sum_to_zero() {
        // softmax sums to 1 and the one-hot to 1: each gradient row sums to 0.
        let mut logits: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let nll = rows_cross_entropy(&mut logits, 20, &[3, 19], Some(0.25));
        assert!(nll.is_finite() && nll > 0.0);
        for row in logits.chunks(20) {
            assert!(row.iter().sum::<f32>().abs() < 1e-6);
        }
        assert!(logits[3] < 0.0 && logits[20 + 19] < 0.0);
    }
}
