//! `config.json` of a model directory (see docs/architecture.md), read with
//! serde and checked for internal consistency before any weight is touched.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::InferError;

/// Mirror of `slm_model::ModelConfig`, kept here so the engine does not pull
/// in Burn; the field names are the model-directory contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub dim: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub hidden_dim: usize,
    pub vocab_size: usize,
    pub max_seq_len: usize,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f64,
    #[serde(default = "default_tied")]
    pub tied: bool,
    #[serde(default)]
    pub dropout: f64,
}

fn default_rope_theta() -> f64 {
    10000.0
}
fn default_norm_eps() -> f64 {
    1e-5
}
fn default_tied() -> bool {
    true
}

impl ModelConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, InferError> {
        let text = std::fs::read_to_string(path).map_err(|source| InferError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: ModelConfig = serde_json::from_str(&text).map_err(|e| InferError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|message| InferError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Checks the relations the maths relies on; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
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
                return Err(format!("{name} must be positive"));
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return Err(format!(
                "dim {} is not divisible by n_heads {}",
                self.dim, self.n_heads
            ));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(format!(
                "n_heads {} is not divisible by n_kv_heads {}",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim()
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(format!("rope_theta {} must be positive", self.rope_theta));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0) {
            return Err(format!("norm_eps {} must be non-negative", self.norm_eps));
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }

    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim()
    }

    /// Parameter count as stored (the tied embedding counted once).
    pub fn n_params(&self) -> usize {
        let q = self.dim * self.dim;
        let kv = 2 * self.kv_dim() * self.dim;
        let o = self.dim * self.dim;
        let mlp = 3 * self.hidden_dim * self.dim;
        let norms = 2 * self.dim;
        let layer = q + kv + o + mlp + norms;
        let embed = self.vocab_size * self.dim;
        let head = if self.tied { 0 } else { embed };
        embed + head + self.n_layers * layer + self.dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ModelConfig {
        ModelConfig {
            dim: 64,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            hidden_dim: 128,
            vocab_size: 512,
            max_seq_len: 128,
            rope_theta: 10000.0,
            norm_eps: 1e-5,
            tied: true,
            dropout: 0.0,
        }
    }

    #[test]
    fn valid_config_passes_and_counts_params() {
        let c = base();
        c.validate().unwrap();
        assert_eq!(c.head_dim(), 16);
        assert_eq!(c.kv_dim(), 32);
        // embed 512*64 + 2 layers * (64*64*2 + 2*32*64 + 3*128*64 + 128) + 64
        assert_eq!(
            c.n_params(),
            512 * 64 + 2 * (64 * 64 * 2 + 2 * 32 * 64 + 3 * 128 * 64 + 128) + 64
        );
    }

    #[test]
    fn inconsistent_heads_are_rejected() {
        let mut c = base();
        c.n_kv_heads = 3;
        assert!(c.validate().unwrap_err().contains("n_kv_heads"));
        let mut c = base();
        c.n_heads = 5;
        assert!(c.validate().unwrap_err().contains("n_heads"));
        let mut c = base();
        c.vocab_size = 0;
        assert!(c.validate().unwrap_err().contains("vocab_size"));
    }

    #[test]
    fn default_15m_shape_has_about_15m_params() {
        let c = ModelConfig {
            dim: 288,
            n_layers: 6,
            n_heads: 6,
            n_kv_heads: 6,
            hidden_dim: 768,
            vocab_size: 32000,
            max_seq_len: 512,
            ..base()
        };
        let n = c.n_params();
        assert!((15_000_000..15_300_000).contains(&n), "{n}");
    }
}
