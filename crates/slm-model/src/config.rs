//! The model's hyper-parameters, as stored in `config.json`.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Shape of the decoder-only Transformer. Serialized as the model directory's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of the residual stream.
    pub dim: usize,
    pub n_layers: usize,
    /// Query heads; `dim` must be divisible by it.
    pub n_heads: usize,
    /// Key/value heads (grouped-query attention when smaller than `n_heads`).
    pub n_kv_heads: usize,
    /// Inner width of the SwiGLU feed-forward.
    pub hidden_dim: usize,
    pub vocab_size: usize,
    /// Context length: positions beyond it have no rotary table entry.
    pub max_seq_len: usize,
    pub rope_theta: f64,
    pub norm_eps: f64,
    /// Output projection shares the token embedding matrix.
    pub tied: bool,
    /// Residual/embedding dropout, only active on autodiff devices (training).
    #[serde(default)]
    pub dropout: f64,
}

impl Default for ModelConfig {
    /// The ~15M-parameter TinyStories shape (llama2.c's "15M" with a 32k vocabulary).
    fn default() -> Self {
        Self {
            dim: 288,
            n_layers: 6,
            n_heads: 6,
            n_kv_heads: 6,
            hidden_dim: 768,
            vocab_size: 32_000,
            max_seq_len: 512,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            tied: true,
            dropout: 0.0,
        }
    }
}

impl ModelConfig {
    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }

    /// Width of the key (and value) projection: `n_kv_heads * head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim()
    }

    /// Checks the invariants the model code relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let fail = |msg: String| Err(ModelError::InvalidConfig(msg));
        for (name, v) in [
            ("dim", self.dim),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("hidden_dim", self.hidden_dim),
            ("vocab_size", self.vocab_size),
            ("max_seq_len", self.max_seq_len),
        ] {
            if v == 0 {
                return fail(format!("{name} must be positive"));
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return fail(format!(
                "dim ({}) must be divisible by n_heads ({})",
                self.dim, self.n_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return fail(format!(
                "head_dim ({}) must be even for rotary embeddings",
                self.head_dim()
            ));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return fail(format!(
                "n_heads ({}) must be a multiple of n_kv_heads ({})",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return fail(format!(
                "rope_theta must be positive, got {}",
                self.rope_theta
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return fail(format!("norm_eps must be positive, got {}", self.norm_eps));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// Parameter count computed from the shape alone (matches `Module::num_params`).
    pub fn num_params(&self) -> usize {
        let kv_dim = self.kv_dim();
        let attn = 2 * self.dim * self.dim + 2 * self.dim * kv_dim;
        let mlp = 3 * self.dim * self.hidden_dim;
        let norms = 2 * self.dim;
        let embed = self.vocab_size * self.dim;
        let head = if self.tied { 0 } else { embed };
        embed + self.n_layers * (attn + mlp + norms) + self.dim + head
    }

    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let cfg: Self = serde_json::from_str(text)
            .map_err(|e| ModelError::InvalidConfig(format!("config.json: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("ModelConfig always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_about_15m_parameters() {
        let cfg = ModelConfig::default();
        cfg.validate().unwrap();
        // 32000*288 (tied embedding) + 6 * (4*288*288 + 3*288*768 + 2*288) + 288
        assert_eq!(cfg.num_params(), 15_191_712);
    }

    #[test]
    fn json_round_trip_and_validation() {
        let cfg = ModelConfig::default();
        assert_eq!(ModelConfig::from_json(&cfg.to_json()).unwrap(), cfg);

        let bad = cfg
            .to_json()
            .replace("\"n_kv_heads\": 6", "\"n_kv_heads\": 4");
        let err = ModelConfig::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("multiple of n_kv_heads"), "{err}");

        let typo = cfg.to_json().replace("\"dim\"", "\"dimm\"");
        let err = ModelConfig::from_json(&typo).unwrap_err().to_string();
        assert!(err.contains("dimm"), "{err}");
    }
}
