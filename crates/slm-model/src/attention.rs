//! Causal self-attention with rotary embeddings and optional grouped key/value heads.

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use crate::cache::LayerCache;
use crate::fused::causal_attention;
use crate::rope::Rope;

#[derive(Module, Debug)]
pub struct Attention {
    pub(crate) q_proj: Linear,
    pub(crate) k_proj: Linear,
    pub(crate) v_proj: Linear,
    pub(crate) o_proj: Linear,
    resid_dropout: Dropout,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
}

pub(crate) fn linear(d_in: usize, d_out: usize, std: f64, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

impl Attention {
    pub fn new(
        dim: usize,
        n_heads: usize,
        n_kv_heads: usize,
        dropout: f64,
        out_std: f64,
        device: &Device,
    ) -> Self {
        let head_dim = dim / n_heads;
        let kv_dim = n_kv_heads * head_dim;
        Self {
            q_proj: linear(dim, dim, 0.02, device),
            k_proj: linear(dim, kv_dim, 0.02, device),
            v_proj: linear(dim, kv_dim, 0.02, device),
            o_proj: linear(dim, dim, out_std, device),
            resid_dropout: DropoutConfig::new(dropout).init(),
            n_heads,
            n_kv_heads,
            head_dim,
        }
    }

    /// `x: [batch, seq, dim]`; positions start at `start`. With a cache, the new keys and
    /// values are appended to it and attention covers everything cached so far.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        start: usize,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let [batch, seq, dim] = x.dims();
        let heads =
            |t: Tensor<3>, n: usize| t.reshape([batch, seq, n, self.head_dim]).swap_dims(1, 2);
        let q = rope.apply(heads(self.q_proj.forward(x.clone()), self.n_heads), start);
        let k = rope.apply(
            heads(self.k_proj.forward(x.clone()), self.n_kv_heads),
            start,
        );
        let v = heads(self.v_proj.forward(x), self.n_kv_heads);

        let (k, v, mask) = match cache {
            None => (k, v, None),
            Some(cache) => {
                let (k, v) = cache.append(k, v);
                let total = k.dims()[2];
                // Query i sits at absolute position start + i and may see keys 0..=start + i.
                let mask = Tensor::<2, Bool>::tril_mask([seq, total], start as i64, &q.device());
                (
                    k,
                    v,
                    Some(
                        mask.unsqueeze::<4>()
                            .expand([batch, self.n_heads, seq, total]),
                    ),
                )
            }
        };
        let k = self.repeat_kv(k);
        let v = self.repeat_kv(v);
        let out = match mask {
            None => causal_attention(q, k, v),
            Some(mask) => {
                let options = AttentionModuleOptions {
                    scale: None,
                    softcap: None,
                    is_causal: false,
                };
                attention(q, k, v, Some(mask), None, options)
            }
        };
        let out = out.swap_dims(1, 2).reshape([batch, seq, dim]);
        self.resid_dropout.forward(self.o_proj.forward(out))
    }

    /// Expands `[b, kv_heads, t, d]` to `[b, heads, t, d]`: query head h reads KV head h / rep.
    fn repeat_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let rep = self.n_heads / self.n_kv_heads;
        if rep == 1 {
            return x;
        }
        let [b, kvh, t, d] = x.dims();
        x.unsqueeze_dim::<5>(2)
            .expand([b, kvh, rep, t, d])
            .reshape([b, kvh * rep, t, d])
    }
}
