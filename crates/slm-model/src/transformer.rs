//! The decoder-only Transformer: embedding, pre-norm blocks, final norm, output head.

use burn::module::Param;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, RmsNorm, RmsNormConfig,
};
use burn::prelude::*;

use crate::attention::{Attention, linear};
use crate::cache::{KvCache, LayerCache};
use crate::feed_forward::FeedForward;
use crate::fused::rms_norm;
use crate::rope::Rope;
use crate::{ModelConfig, ModelError};

#[derive(Module, Debug)]
pub struct Block {
    pub(crate) input_norm: RmsNorm,
    pub(crate) attn: Attention,
    pub(crate) post_attn_norm: RmsNorm,
    pub(crate) mlp: FeedForward,
}

impl Block {
    fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        start: usize,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let x = x.clone()
            + self
                .attn
                .forward(rms_norm(&self.input_norm, x), rope, start, cache);
        x.clone() + self.mlp.forward(rms_norm(&self.post_attn_norm, x))
    }
}

#[derive(Module, Debug)]
pub struct Transformer {
    pub(crate) embed: Embedding,
    pub(crate) layers: Vec<Block>,
    pub(crate) norm: RmsNorm,
    /// `None` when tied to the embedding.
    pub(crate) lm_head: Option<Linear>,
    rope: Rope,
    embed_dropout: Dropout,
    #[module(skip)]
    config: ModelConfig,
}

impl ModelConfig {
    /// A freshly initialised model: normal(0, 0.02) weights, with the residual output
    /// projections scaled by 1/sqrt(2 * n_layers) (GPT-2 / llama2.c practice).
    pub fn init(&self, device: &Device) -> Result<Transformer, ModelError> {
        self.validate()?;
        let out_std = 0.02 / (2.0 * self.n_layers as f64).sqrt();
        let norm = || {
            RmsNormConfig::new(self.dim)
                .with_epsilon(self.norm_eps)
                .init(device)
        };
        let layers = (0..self.n_layers)
            .map(|_| Block {
                input_norm: norm(),
                attn: Attention::new(
                    self.dim,
                    self.n_heads,
                    self.n_kv_heads,
                    self.dropout,
                    out_std,
                    device,
                ),
                post_attn_norm: norm(),
                mlp: FeedForward::new(self.dim, self.hidden_dim, self.dropout, out_std, device),
            })
            .collect();
        Ok(Transformer {
            embed: EmbeddingConfig::new(self.vocab_size, self.dim)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            layers,
            norm: norm(),
            lm_head: (!self.tied).then(|| linear(self.dim, self.vocab_size, 0.02, device)),
            rope: Rope::new(self.head_dim(), self.max_seq_len, self.rope_theta, device),
            embed_dropout: DropoutConfig::new(self.dropout).init(),
            config: self.clone(),
        })
    }
}

impl Transformer {
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Full-sequence forward for training: `tokens: [batch, seq]` → logits `[batch, seq, vocab]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward_rows(tokens, self.config.vocab_size)
    }

    /// [`Transformer::forward`] with logits for only the first `rows` vocabulary entries
    /// (`[batch, seq, rows]`). When the tokenizer is smaller than `vocab_size`, the rows past
    /// it are padding that can never be an input or a target; skipping them saves most of
    /// the output head's work (and the softmax over them) in training and evaluation.
    pub fn forward_rows(&self, tokens: Tensor<2, Int>, rows: usize) -> Tensor<3> {
        self.project(self.hidden(tokens), rows)
    }

    /// Full-sequence forward up to the output head: the final-norm hidden states
    /// `[batch, seq, dim]`. `forward_rows(t, rows)` is `hidden(t)` times `head_rows(rows)`ᵀ;
    /// the trainer's fused loss (slm-trainer) takes the two apart.
    pub fn hidden(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [_, seq] = tokens.dims();
        assert!(
            seq <= self.config.max_seq_len,
            "sequence of {seq} tokens exceeds max_seq_len {}",
            self.config.max_seq_len
        );
        let mut x = self.embed_dropout.forward(self.embed.forward(tokens));
        for layer in &self.layers {
            x = layer.forward(x, &self.rope, 0, None);
        }
        rms_norm(&self.norm, x)
    }

    /// The output head's first `rows` vocabulary rows as `[rows, dim]` (a view of the
    /// embedding when tied).
    pub fn head_rows(&self, rows: usize) -> Tensor<2> {
        assert!(
            rows > 0 && rows <= self.config.vocab_size,
            "logit rows {rows} outside 1..={}",
            self.config.vocab_size
        );
        match &self.lm_head {
            // Linear stores [d_in, d_out].
            Some(head) => head.weight.val().narrow(1, 0, rows).transpose(),
            None => self.embed.weight.val().narrow(0, 0, rows),
        }
    }

    /// Incremental decode: feeds `tokens: [batch, new]` at the cache's current position,
    /// appends their keys/values to `cache` and returns logits for the new positions.
    pub fn forward_cached(
        &self,
        tokens: Tensor<2, Int>,
        cache: &mut KvCache,
    ) -> Result<Tensor<3>, ModelError> {
        let [_, new] = tokens.dims();
        let start = cache.len;
        if start + new > self.config.max_seq_len {
            return Err(ModelError::ContextOverflow {
                needed: start + new,
                max: self.config.max_seq_len,
            });
        }
        if cache.layers.len() != self.layers.len() {
            return Err(ModelError::InvalidConfig(format!(
                "cache has {} layers, model has {}",
                cache.layers.len(),
                self.layers.len()
            )));
        }
        let mut x = self.embed.forward(tokens);
        for (layer, layer_cache) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = layer.forward(x, &self.rope, start, Some(layer_cache));
        }
        cache.len += new;
        Ok(self.project(rms_norm(&self.norm, x), self.config.vocab_size))
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    /// Output head over the first `rows` vocabulary entries of normed hidden states.
    fn project(&self, x: Tensor<3>, rows: usize) -> Tensor<3> {
        let [b, t, d] = x.dims();
        x.reshape([b * t, d])
            .matmul(self.head_rows(rows).transpose())
            .reshape([b, t, rows])
    }

    /// The token embedding matrix `[vocab, dim]` (also the output head when tied).
    pub fn embedding_param(&self) -> &Param<Tensor<2>> {
        &self.embed.weight
    }
}
