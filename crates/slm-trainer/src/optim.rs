//! AdamW with decoupled weight decay on matrices only: 1-D parameters (RMSNorm gains) get
//! their own group without decay, as in GPT-2/llama recipes.
//!
//! The update is Burn's `AdamW` step, fused on the CPU backend: Burn composes it from about
//! a dozen element-wise ops per parameter, and burn-flex runs element-wise ops on one
//! thread, so on a 2-core CPU the optimizer cost a tenth of a training step. For f32
//! tensors on `Flex` [`FusedAdamW`] does the same arithmetic, operation for operation, in
//! one parallel pass; its state is Burn's `AdamWState`, so checkpoints are the same either
//! way, and every other device or dtype runs Burn's `AdamW` itself.

use rayon::prelude::*;
use slm_model::Transformer;
use slm_model::burn::backend::flex::FlexTensor;
use slm_model::burn::backend::{Flex, TensorMetadata};
use slm_model::burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use slm_model::burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use slm_model::burn::prelude::*;
use slm_model::burn::tensor::DType;
use slm_model::fused::{flex_f32, is_flex_f32};

use crate::OptimConfig;

struct VectorParams(Vec<ParamId>);

impl ModuleVisitor for VectorParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D == 1 {
            self.0.push(param.id);
        }
    }
}

/// Ids of the parameters that get no weight decay.
pub fn no_decay_ids(model: &Transformer) -> Vec<ParamId> {
    let mut v = VectorParams(Vec::new());
    model.visit(&mut v);
    v.0
}

/// The optimizer for `model`. Groups are keyed by parameter id, so build it from the model
/// whose ids the checkpoint's optimizer state refers to.
pub fn build_optimizer(model: &Transformer, cfg: &OptimConfig) -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdamW::new(cfg, cfg.weight_decay)).with_group(
        ParamGroup::from_ids(no_decay_ids(model)),
        FusedAdamW::new(cfg, 0.0),
        None,
    )
}

/// Burn's AdamW (no AMSGrad, no cautious decay), fused for f32 tensors on `Flex`.
#[derive(Clone)]
pub struct FusedAdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    /// The same optimizer as Burn ops, for every other device and dtype.
    burn: AdamW,
}

/// Elements per rayon task.
const BLOCK: usize = 1 << 14;

impl FusedAdamW {
    fn new(cfg: &OptimConfig, weight_decay: f64) -> Self {
        let (beta_1, beta_2) = (cfg.beta1 as f32, cfg.beta2 as f32);
        let (epsilon, weight_decay) = (cfg.eps as f32, weight_decay as f32);
        let burn = AdamWConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            burn,
        }
    }

    /// The fused step, or `None` (nothing consumed) when a tensor is not f32 on `Flex`.
    fn fused<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: &Tensor<D>,
        grad: &Tensor<D>,
        state: &mut Option<AdamWState<D>>,
    ) -> Option<(Tensor<D>, AdamWState<D>)> {
        let fits = |t: &Tensor<D>| is_flex_f32(t) && t.dims() == tensor.dims();
        let state_ok = state.as_ref().is_none_or(|s| {
            let m = &s.momentum;
            m.max_moment_2.is_none() && fits(&m.moment_1) && fits(&m.moment_2)
        });
        if !(fits(tensor) && fits(grad) && state_ok) {
            return None;
        }
        let primitive = |t: Tensor<D>| flex_f32(t).expect("checked: f32 on Flex");
        let param = primitive(tensor.clone());
        let grad = primitive(grad.clone());
        let (time, mut m, mut v) = match state.take() {
            Some(s) => {
                let s = s.momentum;
                (s.time + 1, primitive(s.moment_1), primitive(s.moment_2))
            }
            None => {
                let zeros = || FlexTensor::zeros(param.shape(), DType::F32);
                (1, zeros(), zeros())
            }
        };
        let shape = param.shape();
        let first = time == 1;
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let c1 = 1.0 - b1.powi(time as i32);
        let c2 = 1.0 - b2.powi(time as i32);
        let decay_rate = lr * self.weight_decay as f64;
        let keep = (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32);
        let lr = lr as f32;
        let mut out = FlexTensor::empty(shape.clone(), DType::F32);
        out.storage_mut::<f32>()
            .par_chunks_mut(BLOCK)
            .zip(m.storage_mut::<f32>().par_chunks_mut(BLOCK))
            .zip(v.storage_mut::<f32>().par_chunks_mut(BLOCK))
            .zip(param.storage::<f32>().par_chunks(BLOCK))
            .zip(grad.storage::<f32>().par_chunks(BLOCK))
            .for_each(|((((out, m), v), p), g)| {
                for ((((o, m), v), &p), &g) in out.iter_mut().zip(m).zip(v).zip(p).zip(g) {
                    // Burn's AdamW, operation for operation (so results are identical).
                    if first {
                        *m = g * f1;
                        *v = g * g * f2;
                    } else {
                        *m = *m * b1 + g * f1;
                        *v = *v * b2 + g * g * f2;
                    }
                    let delta = (*m / c1) / ((*v / c2).sqrt() + eps);
                    let decayed = match keep {
                        Some(k) => p * k,
                        None => p,
                    };
                    *o = decayed - delta * lr;
                }
            });
        let tensor = |t: FlexTensor| Tensor::<D>::from_primitive::<Flex>(t);
        let momentum = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        Some((tensor(out), AdamWState::new(momentum)))
    }
}

impl Optimizer for FusedAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        mut state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        match self.fused(lr, &tensor, &grad, &mut state) {
            Some((tensor, state)) => (tensor, Some(state)),
            None => self.burn.step(lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamW::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slm_model::burn::nn::{Linear, LinearConfig};
    use slm_model::burn::optim::GradientsParams;
    use slm_model::burn::tensor::Distribution;

    fn config(weight_decay: f64) -> OptimConfig {
        OptimConfig {
            weight_decay,
            ..OptimConfig::default()
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Four steps of `optim` on a small linear layer; returns its weights after each.
    fn train(device: &Device, mut optim: ModuleOptimizer) -> Vec<Vec<f32>> {
        let mut layer: Linear = LinearConfig::new(70, 300).init(device);
        let x = Tensor::<2>::random([8, 70], Distribution::Normal(0.0, 1.0), device);
        (0..4)
            .map(|step| {
                let loss = layer
                    .forward(x.clone())
                    .powf_scalar(2.0)
                    .mean()
                    .mul_scalar(step + 1);
                let grads = GradientsParams::from_grads(loss.backward(), &layer);
                layer = optim.step(1e-2, layer.clone(), grads);
                values(layer.weight.val())
            })
            .collect()
    }

    /// The fused step gives Burn's AdamW results bit for bit, with and without decay.
    #[test]
    fn fused_adamw_equals_burns_adamw() {
        let device = Device::flex().autodiff();
        for wd in [0.0, 0.1] {
            let cfg = config(wd);
            device.seed(7);
            let fused = train(&device, ModuleOptimizer::from(FusedAdamW::new(&cfg, wd)));
            device.seed(7);
            let burn = AdamWConfig::new()
                .with_beta_1(cfg.beta1 as f32)
                .with_beta_2(cfg.beta2 as f32)
                .with_epsilon(cfg.eps as f32)
                .with_weight_decay(wd as f32)
                .init();
            let reference = train(&device, burn);
            assert_ne!(fused[0], fused[3], "the weights moved");
            assert_eq!(fused, reference, "weight decay {wd}");
        }
    }

    /// The fused path is taken for f32 on Flex and declined elsewhere.
    #[test]
    fn fused_path_only_for_f32_on_flex() {
        let optim = FusedAdamW::new(&config(0.1), 0.1);
        let flex = Tensor::<2>::ones([3, 4], &Device::flex());
        assert!(optim.fused(1e-3, &flex, &flex, &mut None).is_some());
        #[allow(deprecated)]
        let ndarray = Tensor::<2>::ones([3, 4], &Device::ndarray());
        assert!(optim.fused(1e-3, &ndarray, &ndarray, &mut None).is_none());
        let half = flex.clone().cast(DType::F16);
        assert!(optim.fused(1e-3, &half, &half, &mut None).is_none());
    }
}
