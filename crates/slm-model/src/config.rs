//! The model's hyper-parameters, as stored in `config.json`.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Shape of the decoder-only Transformer. Its serde form (these field names) is the training
/// config's `[model]` section and the checkpoint state; a model directory's `config.json` uses
/// the Hugging Face `LlamaConfig` schema ([`Self::to_json`], [`Self::from_json`]).
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
    /// Whether the weights of `self` and `other` fit each other: every field but the
    /// (training-only) dropout agrees.
    pub fn same_shape(&self, other: &ModelConfig) -> bool {
        let shape = |c: &ModelConfig| ModelConfig {
            dropout: 0.0,
            ..c.clone()
        };
        shape(self) == shape(other)
    }

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

    /// Parses `config.json`: the Hugging Face `LlamaConfig` schema (what [`Self::to_json`]
    /// writes and what Llama-family checkpoints on the Hub ship), or this project's own
    /// pre-2026-12 keys (`dim`, `n_layers`, …), which older model directories use.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let bad = |e: serde_json::Error| ModelError::InvalidConfig(format!("config.json: {e}"));
        let value: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
        let cfg = if value.get("model_type").is_some() {
            serde_json::from_value::<HfLlamaConfig>(value)
                .map_err(bad)?
                .into_model_config()?
        } else {
            serde_json::from_value::<Self>(value).map_err(|e| {
                ModelError::InvalidConfig(format!(
                    "config.json: {e} (expected a Hugging Face LlamaConfig with \"model_type\": \
                     \"llama\", or this project's older keys)"
                ))
            })?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// `config.json` in the Hugging Face `LlamaConfig` schema, so `transformers` loads the
    /// model directory unmodified. Token ids (`bos_token_id`, `eos_token_id`) depend on the
    /// tokenizer; `slm-train export` adds them.
    pub fn to_json(&self) -> String {
        let json = serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.dim,
            "intermediate_size": self.hidden_dim,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "head_dim": self.head_dim(),
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_seq_len,
            "rope_theta": self.rope_theta,
            "rope_scaling": null,
            "rms_norm_eps": self.norm_eps,
            "tie_word_embeddings": self.tied,
            "hidden_act": "silu",
            "attention_bias": false,
            "mlp_bias": false,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "use_cache": true,
        });
        serde_json::to_string_pretty(&json).expect("ModelConfig always serializes")
    }
}

/// The `LlamaConfig` keys this model implements. Other keys (`torch_dtype`,
/// `transformers_version`, token ids, …) are ignored; features it does not implement are
/// refused by name rather than silently computed differently.
#[derive(Deserialize)]
struct HfLlamaConfig {
    model_type: String,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    vocab_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_rope_theta")]
    rope_theta: f64,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    /// transformers >= 5 writes `{"rope_theta": …, "rope_type": "default"}` here instead.
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    #[serde(default = "default_rms_norm_eps")]
    rms_norm_eps: f64,
    /// transformers' LlamaConfig default is false.
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
}

#[derive(Deserialize)]
struct RopeParameters {
    rope_theta: Option<f64>,
    rope_type: Option<String>,
}

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".into()
}

impl HfLlamaConfig {
    fn into_model_config(self) -> Result<ModelConfig, ModelError> {
        let unsupported = |what: String| {
            Err(ModelError::InvalidConfig(format!(
                "config.json: {what} is not supported (this engine runs Llama-architecture \
                 models: SwiGLU, RMSNorm, rotary embeddings without scaling, no biases)"
            )))
        };
        if self.model_type != "llama" {
            return unsupported(format!("model_type {:?}", self.model_type));
        }
        if self.hidden_act != "silu" {
            return unsupported(format!("hidden_act {:?}", self.hidden_act));
        }
        if self.attention_bias || self.mlp_bias {
            return unsupported("attention_bias / mlp_bias".into());
        }
        if let Some(scaling) = self.rope_scaling.filter(|v| !v.is_null()) {
            return unsupported(format!("rope_scaling {scaling}"));
        }
        let mut rope_theta = self.rope_theta;
        if let Some(p) = self.rope_parameters {
            if let Some(kind) = p.rope_type.filter(|t| t != "default") {
                return unsupported(format!("rope_type {kind:?}"));
            }
            rope_theta = p.rope_theta.unwrap_or(rope_theta);
        }
        if self.num_attention_heads == 0 {
            return unsupported("num_attention_heads 0".into());
        }
        if let Some(h) = self.head_dim
            && h * self.num_attention_heads != self.hidden_size
        {
            return unsupported(format!(
                "head_dim {h} with {} heads of a {}-wide model",
                self.num_attention_heads, self.hidden_size
            ));
        }
        Ok(ModelConfig {
            dim: self.hidden_size,
            n_layers: self.num_hidden_layers,
            n_heads: self.num_attention_heads,
            n_kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            hidden_dim: self.intermediate_size,
            vocab_size: self.vocab_size,
            max_seq_len: self.max_position_embeddings,
            rope_theta,
            norm_eps: self.rms_norm_eps,
            tied: self.tie_word_embeddings,
            dropout: 0.0,
        })
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
    fn json_is_a_hugging_face_llama_config_and_round_trips() {
        let cfg = ModelConfig {
            n_kv_heads: 2,
            tied: false,
            ..ModelConfig::default()
        };
        let json: serde_json::Value = serde_json::from_str(&cfg.to_json()).unwrap();
        assert_eq!(json["model_type"], "llama");
        assert_eq!(json["architectures"][0], "LlamaForCausalLM");
        assert_eq!(json["hidden_size"], 288);
        assert_eq!(json["num_key_value_heads"], 2);
        assert_eq!(json["tie_word_embeddings"], false);
        assert_eq!(ModelConfig::from_json(&cfg.to_json()).unwrap(), cfg);
    }

    #[test]
    fn reads_older_directories_and_refuses_what_it_cannot_run() {
        let old = r#"{"dim": 288, "n_layers": 6, "n_heads": 6, "n_kv_heads": 6,
            "hidden_dim": 768, "vocab_size": 32000, "max_seq_len": 512, "rope_theta": 10000.0,
            "norm_eps": 1e-5, "tied": true, "dropout": 0.0}"#;
        assert_eq!(ModelConfig::from_json(old).unwrap(), ModelConfig::default());
        let typo = old.replace("\"dim\"", "\"dimm\"");
        let err = ModelConfig::from_json(&typo).unwrap_err().to_string();
        assert!(err.contains("dimm") && err.contains("LlamaConfig"), "{err}");

        let hf = ModelConfig::default().to_json();
        let bad = hf.replace("\"num_key_value_heads\": 6", "\"num_key_value_heads\": 4");
        let err = ModelConfig::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("multiple of n_kv_heads"), "{err}");
        for (from, to, what) in [
            ("\"llama\"", "\"gpt2\"", "model_type"),
            ("\"silu\"", "\"gelu\"", "hidden_act"),
            ("\"mlp_bias\": false", "\"mlp_bias\": true", "bias"),
            (
                "\"rope_scaling\": null",
                "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}",
                "rope_scaling",
            ),
        ] {
            let err = ModelConfig::from_json(&hf.replace(from, to))
                .unwrap_err()
                .to_string();
            assert!(err.contains(what) && err.contains("not supported"), "{err}");
        }
        // An HF config with only the essentials: defaults as transformers applies them.
        let minimal = r#"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 176,
            "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 512,
            "max_position_embeddings": 64}"#;
        let cfg = ModelConfig::from_json(minimal).unwrap();
        assert_eq!((cfg.n_kv_heads, cfg.tied, cfg.norm_eps), (4, false, 1e-6));
        assert_eq!(cfg.rope_theta, 10_000.0);
        // transformers >= 5 nests the rotary settings.
        let nested = minimal.replace(
            "\"vocab_size\"",
            "\"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"default\"}, \"vocab_size\"",
        );
        assert_eq!(
            ModelConfig::from_json(&nested).unwrap().rope_theta,
            500_000.0
        );
        let yarn = nested.replace("\"default\"", "\"yarn\"");
        let err = ModelConfig::from_json(&yarn).unwrap_err().to_string();
        assert!(
            err.contains("rope_type") && err.contains("not supported"),
            "{err}"
        );
    }
}
