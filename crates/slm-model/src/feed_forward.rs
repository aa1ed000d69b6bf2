//! SwiGLU feed-forward: `down(silu(gate(x)) * up(x))`.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;

use crate::attention::linear;
use crate::fused::swiglu;

#[derive(Module, Debug)]
pub struct FeedForward {
    pub(crate) gate_proj: Linear,
    pub(crate) up_proj: Linear,
    pub(crate) down_proj: Linear,
    dropout: Dropout,
}

impl FeedForward {
    pub fn new(dim: usize, hidden: usize, dropout: f64, out_std: f64, device: &Device) -> Self {
        Self {
            gate_proj: linear(dim, hidden, 0.02, device),
            up_proj: linear(dim, hidden, 0.02, device),
            down_proj: linear(hidden, dim, out_std, device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gated = swiglu(self.gate_proj.forward(x.clone()), self.up_proj.forward(x));
        self.dropout.forward(self.down_proj.forward(gated))
    }
}
