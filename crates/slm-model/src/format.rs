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

/// Every tensor of `model.safetensors` for `config`, with its file shape (`[out, in]` for
/// linear weights), in a fixed order.
pub fn tensor_shapes(config: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (d, h, v) = (config.dim, config.hidden_dim, config.vocab_size);
    let kv = config.n_kv_heads * config.head_dim();
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..config.n_layers {
        let p = format!("model.layers.{i}");
        out.extend([
            (format!("{p}.input_layernorm.weight"), vec![d]),
            (format!("{p}.self_attn.q_proj.weight"), vec![d, d]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, d]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, d]),
            (format!("{p}.self_attn.o_proj.weight"), vec![d, d]),
            (format!("{p}.post_attention_layernorm.weight"), vec![d]),
            (format!("{p}.mlp.gate_proj.weight"), vec![h, d]),
            (format!("{p}.mlp.up_proj.weight"), vec![h, d]),
            (format!("{p}.mlp.down_proj.weight"), vec![d, h]),
        ]);
    }
    out.push(("model.norm.weight".to_string(), vec![d]));
    if !config.tied {
        out.push(("lm_head.weight".to_string(), vec![v, d]));
    }
    out
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
