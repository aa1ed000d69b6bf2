//! Rotary position embeddings in the "rotate half" form used by Hugging Face Llama.

use burn::prelude::*;

/// Precomputed cos/sin tables, `[max_seq_len, head_dim / 2]`. Constants, not parameters.
#[derive(Module, Debug)]
pub struct Rope {
    cos: Tensor<2>,
    sin: Tensor<2>,
}

impl Rope {
    pub fn new(head_dim: usize, max_seq_len: usize, theta: f64, device: &Device) -> Self {
        let half = head_dim / 2;
        let (cos, sin) = crate::format::rope_tables(head_dim, max_seq_len, theta);
        let shape = [max_seq_len, half];
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
        }
    }

    /// Rotates `x: [batch, heads, seq, head_dim]` whose first position is `start`.
    pub fn apply(&self, x: Tensor<4>, start: usize) -> Tensor<4> {
        let [_, _, seq, head_dim] = x.dims();
        let half = head_dim / 2;
        let dtype = x.dtype();
        let cos = self.cos.clone().narrow(0, start, seq).cast(dtype);
        let sin = self.sin.clone().narrow(0, start, seq).cast(dtype);
        let cos: Tensor<4> = cos.unsqueeze();
        let sin: Tensor<4> = sin.unsqueeze();
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.narrow(3, half, half);
        let r1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
        let r2 = x2 * cos + x1 * sin;
        Tensor::cat(vec![r1, r2], 3)
    }
}
