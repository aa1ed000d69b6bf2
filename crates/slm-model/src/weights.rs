//! Safetensors import/export with Llama-style tensor names, and the model directory.
//!
//! Burn's `Linear` stores weights as `[in, out]`; the file holds `[out, in]` like PyTorch,
//! so linear weights are transposed on the way in and out.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::nn::{Linear, RmsNorm};
use burn::prelude::*;
use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::format::{CONFIG_FILE, FileDtype, TensorName, WEIGHTS_FILE, read_config, view_to_f32};
use crate::{ModelConfig, ModelError, Transformer};

/// How a tensor is laid out in the file relative to Burn.
#[derive(Clone, Copy)]
enum Layout {
    /// Same layout (embeddings, norm gains).
    Plain,
    /// Burn `[in, out]` ↔ file `[out, in]`.
    Transposed,
}

/// Every tensor of the model with its file name, in a fixed order.
fn named_params(model: &Transformer) -> Vec<(String, Tensor<2>, Layout)> {
    let norm = |n: &RmsNorm| (n.gamma.val().unsqueeze::<2>(), Layout::Plain);
    let lin = |l: &Linear| (l.weight.val(), Layout::Transposed);
    let param = |t: TensorName| match t {
        TensorName::Embed => (model.embed.weight.val(), Layout::Plain),
        TensorName::FinalNorm => norm(&model.norm),
        TensorName::LmHead => lin(model.lm_head.as_ref().expect("untied head")),
        TensorName::AttnNorm(i) => norm(&model.layers[i].input_norm),
        TensorName::FfnNorm(i) => norm(&model.layers[i].post_attn_norm),
        TensorName::Q(i) => lin(&model.layers[i].attn.q_proj),
        TensorName::K(i) => lin(&model.layers[i].attn.k_proj),
        TensorName::V(i) => lin(&model.layers[i].attn.v_proj),
        TensorName::O(i) => lin(&model.layers[i].attn.o_proj),
        TensorName::Gate(i) => lin(&model.layers[i].mlp.gate_proj),
        TensorName::Up(i) => lin(&model.layers[i].mlp.up_proj),
        TensorName::Down(i) => lin(&model.layers[i].mlp.down_proj),
    };
    TensorName::all(model.config())
        .into_iter()
        .map(|t| {
            let (tensor, layout) = param(t);
            (t.name(), tensor, layout)
        })
        .collect()
}

fn to_f32_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted tensor data is f32")
}

/// Serializes the weights to safetensors bytes in `dtype`.
pub fn to_safetensors(model: &Transformer, dtype: FileDtype) -> Vec<u8> {
    let tensors: Vec<(String, Vec<u8>, Vec<usize>)> = named_params(model)
        .into_iter()
        .map(|(name, t, layout)| {
            let t = match layout {
                Layout::Plain => t,
                Layout::Transposed => t.transpose(),
            };
            let mut shape = t.dims().to_vec();
            if name.ends_with("norm.weight") || name.ends_with("layernorm.weight") {
                shape.remove(0); // stored 1-D
            }
            let values = to_f32_vec(t);
            let bytes = match dtype {
                FileDtype::F32 => bytemuck::cast_slice(&values).to_vec(),
                FileDtype::F16 => values
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect(),
                FileDtype::Bf16 => values
                    .iter()
                    .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
                    .collect(),
            };
            (name, bytes, shape)
        })
        .collect();
    let st_dtype = match dtype {
        FileDtype::F32 => Dtype::F32,
        FileDtype::F16 => Dtype::F16,
        FileDtype::Bf16 => Dtype::BF16,
    };
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, bytes, shape)| {
            let view = TensorView::new(st_dtype, shape.clone(), bytes)
                .expect("byte length matches shape by construction");
            (name.clone(), view)
        })
        .collect();
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(meta)).expect("in-memory serialization cannot fail")
}

/// Builds a model of `config` from safetensors bytes (`path` only names the source in errors).
/// Every expected tensor must be present with the right shape, and no other tensor may be.
pub fn from_safetensors(
    config: &ModelConfig,
    bytes: &[u8],
    path: &Path,
    device: &Device,
) -> Result<Transformer, ModelError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut model = config.init(device)?;
    let expected = named_params(&model);
    let known: std::collections::HashSet<&str> =
        expected.iter().map(|(n, _, _)| n.as_str()).collect();
    if let Some(extra) = st.names().into_iter().find(|n| !known.contains(n)) {
        return Err(ModelError::UnexpectedTensor {
            path: path.to_path_buf(),
            name: extra.to_string(),
        });
    }
    let mut loaded: HashMap<String, Tensor<2>> = HashMap::new();
    for (name, template, layout) in expected {
        let view = st.tensor(&name).map_err(|_| ModelError::MissingTensor {
            path: path.to_path_buf(),
            name: name.clone(),
        })?;
        let [a, b] = template.dims();
        let (file_shape, burn_shape) = match layout {
            Layout::Plain if a == 1 => (vec![b], [1, b]),
            Layout::Plain => (vec![a, b], [a, b]),
            Layout::Transposed => (vec![b, a], [b, a]),
        };
        if view.shape() != file_shape.as_slice() {
            return Err(ModelError::ShapeMismatch {
                path: path.to_path_buf(),
                name,
                expected: file_shape,
                found: view.shape().to_vec(),
            });
        }
        let values = view_to_f32(&view).ok_or_else(|| ModelError::UnsupportedDtype {
            path: path.to_path_buf(),
            name: name.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        let t = Tensor::<2>::from_data(TensorData::new(values, burn_shape), device);
        let t = match layout {
            Layout::Plain => t,
            Layout::Transposed => t.transpose(),
        };
        loaded.insert(name, t);
    }
    let mut take = |name: &str| {
        loaded
            .remove(name)
            .expect("all expected tensors were loaded")
    };
    let set_norm = |n: &mut RmsNorm, t: Tensor<2>| n.gamma = Param::from_tensor(t.squeeze_dim(0));
    let set_lin = |l: &mut Linear, t: Tensor<2>| l.weight = Param::from_tensor(t);
    let config = model.config().clone();
    for t in TensorName::all(&config) {
        let value = take(&t.name());
        match t {
            TensorName::Embed => model.embed.weight = Param::from_tensor(value),
            TensorName::FinalNorm => set_norm(&mut model.norm, value),
            TensorName::LmHead => set_lin(model.lm_head.as_mut().expect("untied head"), value),
            TensorName::AttnNorm(i) => set_norm(&mut model.layers[i].input_norm, value),
            TensorName::FfnNorm(i) => set_norm(&mut model.layers[i].post_attn_norm, value),
            TensorName::Q(i) => set_lin(&mut model.layers[i].attn.q_proj, value),
            TensorName::K(i) => set_lin(&mut model.layers[i].attn.k_proj, value),
            TensorName::V(i) => set_lin(&mut model.layers[i].attn.v_proj, value),
            TensorName::O(i) => set_lin(&mut model.layers[i].attn.o_proj, value),
            TensorName::Gate(i) => set_lin(&mut model.layers[i].mlp.gate_proj, value),
            TensorName::Up(i) => set_lin(&mut model.layers[i].mlp.up_proj, value),
            TensorName::Down(i) => set_lin(&mut model.layers[i].mlp.down_proj, value),
        }
    }
    Ok(model)
}

/// Writes `config.json` and `model.safetensors` into `dir` (created if needed). Each file is
/// written to a temporary name and renamed, so readers never see a half-written file.
pub fn save_model_dir(model: &Transformer, dir: &Path, dtype: FileDtype) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    write_atomic(&dir.join(CONFIG_FILE), model.config().to_json().as_bytes())?;
    write_atomic(&dir.join(WEIGHTS_FILE), &to_safetensors(model, dtype))
}

/// Loads `config.json` + `model.safetensors` from a model directory onto `device`.
pub fn load_model_dir(dir: &Path, device: &Device) -> Result<Transformer, ModelError> {
    let config = read_config(dir)?;
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
    from_safetensors(&config, &bytes, &path, device)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}
