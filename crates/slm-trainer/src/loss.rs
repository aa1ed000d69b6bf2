//! Next-token cross-entropy computed as log_softmax + gather, in f32 whatever the compute
//! dtype (reduced-precision logits would lose the small probabilities that dominate the loss).

use slm_model::burn::prelude::*;
use slm_model::burn::tensor::DType;
use slm_model::burn::tensor::activation::log_softmax;

/// Per-token negative log-likelihood, `[batch * seq]`.
fn token_nll(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [b, t, v] = logits.dims();
    let logits = logits.reshape([b * t, v]).cast(DType::F32);
    let logp = log_softmax(logits, 1);
    let picked: Tensor<2> = logp.gather(1, targets.reshape([b * t, 1]));
    picked.reshape([b * t]).neg()
}

/// Mean cross-entropy over every token of the batch (a 1-element tensor, differentiable).
pub fn cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    token_nll(logits, targets).mean()
}

/// Summed cross-entropy in nats over every token (for evaluation totals).
pub fn cross_entropy_sum(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    token_nll(logits, targets).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        let device = Device::flex();
        // Two positions over a 3-token vocabulary.
        let logits = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0], [1, 2, 3]),
            &device,
        );
        let targets = Tensor::<2, Int>::from_data(TensorData::new(vec![2i64, 0], [1, 2]), &device);
        let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        let expected = ((lse - 3.0) + 3f64.ln()) / 2.0;
        let got = cross_entropy(logits.clone(), targets.clone()).into_scalar::<f64>();
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        let sum = cross_entropy_sum(logits, targets).into_scalar::<f64>();
        assert!((sum - 2.0 * expected).abs() < 1e-5);
    }
}
