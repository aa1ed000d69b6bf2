//! Global-norm gradient clipping. Burn's `GradientClipping::Norm` clips each parameter on
//! its own; the usual recipe scales all gradients together by one factor.

use slm_model::burn::module::{Module, ModuleVisitor, Param};
use slm_model::burn::optim::GradientsParams;
use slm_model::burn::prelude::*;

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let sq = g.cast(slm_model::burn::tensor::DType::F32).square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// L2 norm of all gradients of `module` taken together (one device→host read).
/// Non-finite when any gradient overflowed.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut v = SquaredNorm { grads, total: None };
    module.visit(&mut v);
    v.total
        .map(|t| t.into_scalar::<f64>().sqrt())
        .unwrap_or(0.0)
}

/// Multiplies every gradient of `module` by `factor`.
pub fn scale_grads<M: Module>(module: &M, grads: &mut GradientsParams, factor: f64) {
    module.visit(&mut Scale { grads, factor });
}

/// Scales the gradients so their global norm is at most `max_norm`; returns the norm before
/// clipping. `max_norm == 0` disables clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = global_grad_norm(module, grads);
    if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
        scale_grads(module, grads, max_norm / (norm + 1e-6));
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use slm_model::burn::nn::{Linear, LinearConfig};

    #[test]
    fn clips_all_gradients_by_one_global_factor() {
        let device = Device::flex().autodiff();
        let layer: Linear = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::ones([4, 3], &device);
        let loss = layer.forward(x).sum().mul_scalar(10.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let w0: Vec<f32> = grads
            .get::<2>(layer.weight.id)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b0: Vec<f32> = grads
            .get::<1>(layer.bias.as_ref().unwrap().id)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // d(10*sum(xW+b))/dW = 10 * 4 per entry; /db = 10 * 4.
        let expected = ((w0.len() + b0.len()) as f64 * 1600.0).sqrt();
        let norm = clip_global_norm(&layer, &mut grads, 1.0);
        assert!((norm - expected).abs() < 1e-3, "{norm} vs {expected}");
        assert!((global_grad_norm(&layer, &grads) - 1.0).abs() < 1e-4);
        let w1: Vec<f32> = grads
            .get::<2>(layer.weight.id)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // Same direction: every entry shrank by the same factor.
        let f = w1[0] / w0[0];
        assert!(w1.iter().zip(&w0).all(|(a, b)| (a / b - f).abs() < 1e-5));
    }
}
