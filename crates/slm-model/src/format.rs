//! The model directory's file formats, without Burn: file names, `config.json` reading,
//! storage dtypes and the safetensors tensor names/shapes every implementation must agree on.

use std::path::Path;

use half::{bf16, f16};
use safetensors::{Dtype, tensor::TensorView};

use crate::{ModelConfig, ModelError};

/// Storage precision of `model.safetensors` (what the file holds; the engine's in-memory
/// precision is `slm_infer::WeightDtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileDtype {
    F32,
    F16,
    Bf16,
}

impl std::str::FromStr for FileDtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "bf16" => Ok(Self::Bf16),
            other => Err(format!(
                "unknown weight dtype `{other}` (use f32, f16 or bf16)"
            )),
        }
    }
}

/// File names inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Reads and validates `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<ModelConfig, ModelError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
    ModelConfig::from_json(&text).map_err(|e| match e {
        ModelError::InvalidConfig(msg) => {
            ModelError::InvalidConfig(format!("{}: {msg}", path.display()))
        }
        other => other,
    })
}

/// Decodes a tensor's bytes to f32, whatever its stored float dtype.
pub fn view_to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let data = view.data();
    Some(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

/// Rotary tables `(cos, sin)`, each `[max_seq_len, head_dim / 2]` row-major: position `pos`
/// and pair `i` rotate by `pos * theta^(-2i / head_dim)`. Angles are computed in f64 so every
/// implementation (Burn, native) gets the same f32 values.
pub fn rope_tables(head_dim: usize, max_seq_len: usize, theta: f64) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(max_seq_len * half);
    let mut sin = Vec::with_capacity(max_seq_len * half);
    for pos in 0..max_seq_len {
        for i in 0..half {
            let angle = pos as f64 * theta.powf(-2.0 * i as f64 / head_dim as f64);
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    (cos, sin)
}

/// One tensor of `model.safetensors` (Llama / Hugging Face layout; `usize` is the layer):
/// the one place the names are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorName {
    Embed,
    AttnNorm(usize),
    Q(usize),
    K(usize),
    V(usize),
    O(usize),
    FfnNorm(usize),
    Gate(usize),
    Up(usize),
    Down(usize),
    FinalNorm,
    /// Absent when the config ties the head to the embedding.
    LmHead,
}

impl TensorName {
    /// The name in the file.
    pub fn name(self) -> String {
        let layer = |i: usize, rest: &str| format!("model.layers.{i}.{rest}.weight");
        match self {
            TensorName::Embed => "model.embed_tokens.weight".into(),
            TensorName::AttnNorm(i) => layer(i, "input_layernorm"),
            TensorName::Q(i) => layer(i, "self_attn.q_proj"),
            TensorName::K(i) => layer(i, "self_attn.k_proj"),
            TensorName::V(i) => layer(i, "self_attn.v_proj"),
            TensorName::O(i) => layer(i, "self_attn.o_proj"),
            TensorName::FfnNorm(i) => layer(i, "post_attention_layernorm"),
            TensorName::Gate(i) => layer(i, "mlp.gate_proj"),
            TensorName::Up(i) => layer(i, "mlp.up_proj"),
            TensorName::Down(i) => layer(i, "mlp.down_proj"),
            TensorName::FinalNorm => "model.norm.weight".into(),
            TensorName::LmHead => "lm_head.weight".into(),
        }
    }

    /// The shape in the file for `config` (`[out, in]` for linear weights).
    pub fn shape(self, config: &ModelConfig) -> Vec<usize> {
        let (d, h, v) = (config.dim, config.hidden_dim, config.vocab_size);
        let (q, kv) = (config.n_heads * config.head_dim(), config.kv_dim());
        match self {
            TensorName::Embed | TensorName::LmHead => vec![v, d],
            TensorName::AttnNorm(_) | TensorName::FfnNorm(_) | TensorName::FinalNorm => vec![d],
            TensorName::Q(_) => vec![q, d],
            TensorName::K(_) | TensorName::V(_) => vec![kv, d],
            TensorName::O(_) => vec![d, q],
            TensorName::Gate(_) | TensorName::Up(_) => vec![h, d],
            TensorName::Down(_) => vec![d, h],
        }
    }

    /// Layer `i`'s tensors, in file order.
    pub fn layer(i: usize) -> [TensorName; 9] {
        use TensorName::*;
        [
            AttnNorm(i),
            Q(i),
            K(i),
            V(i),
            O(i),
            FfnNorm(i),
            Gate(i),
            Up(i),
            Down(i),
        ]
    }

    /// Every tensor of a model with `config`, in a fixed order.
    pub fn all(config: &ModelConfig) -> Vec<TensorName> {
        let mut out = vec![TensorName::Embed];
        out.extend((0..config.n_layers).flat_map(TensorName::layer));
        out.push(TensorName::FinalNorm);
        if !config.tied {
            out.push(TensorName::LmHead);
        }
        out
    }
}

/// Every tensor of `model.safetensors` for `config`, with its file shape, in a fixed order.
pub fn tensor_shapes(config: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    TensorName::all(config)
        .into_iter()
        .map(|t| (t.name(), t.shape(config)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_shapes_add_up_to_the_parameter_count() {
        for tied in [true, false] {
            let cfg = ModelConfig {
                tied,
                n_kv_heads: 2,
                ..ModelConfig::default()
            };
            let total: usize = tensor_shapes(&cfg)
                .iter()
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            assert_eq!(total, cfg.num_params());
        }
    }
}
