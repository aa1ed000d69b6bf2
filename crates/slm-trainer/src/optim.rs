//! AdamW with decoupled weight decay on matrices only: 1-D parameters (RMSNorm gains) get
//! their own group without decay, as in GPT-2/llama recipes.

use slm_model::Transformer;
use slm_model::burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use slm_model::burn::optim::{AdamWConfig, ModuleOptimizer};
use slm_model::burn::prelude::*;

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
    let adamw = |wd: f64| {
        AdamWConfig::new()
            .with_beta_1(cfg.beta1 as f32)
            .with_beta_2(cfg.beta2 as f32)
            .with_epsilon(cfg.eps as f32)
            .with_weight_decay(wd as f32)
            .build()
    };
    ModuleOptimizer::from(adamw(cfg.weight_decay)).with_group(
        ParamGroup::from_ids(no_decay_ids(model)),
        adamw(0.0),
        None,
    )
}
