//! Writes a complete model directory with random weights: the fixture for
//! tests, the server's tiny test model and the benchmark's stand-in for the
//! not-yet-trained default model. Nothing here is used when serving.

use std::collections::BTreeMap;
use std::path::Path;

use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, tensor::TensorView};
use slm_tokenizer::Tokenizer;

use crate::config::ModelConfig;
use crate::error::InferError;
use slm_model::generation::GenerationDefaults;
use slm_model::{FileDtype, TensorName};

/// Random tensors, named and shaped per docs/architecture.md, as f32.
pub fn random_tensors(cfg: &ModelConfig, seed: u64) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BTreeMap::new();
    let dim = cfg.dim;
    // Linear weights first, then the norms: the draw order fixes each seed's weights.
    let mut linear = |rng: &mut ChaCha8Rng, t: TensorName| {
        let shape = t.shape(cfg);
        // Uniform with variance 1/cols keeps activations O(1) through the stack.
        let a = (3.0 / shape[1] as f32).sqrt();
        let v = (0..shape[0] * shape[1])
            .map(|_| rng.random_range(-a..a))
            .collect();
        out.insert(t.name(), (shape, v));
    };
    linear(&mut rng, TensorName::Embed);
    for i in 0..cfg.n_layers {
        use TensorName::*;
        for t in [Q(i), K(i), V(i), O(i), Gate(i), Up(i), Down(i)] {
            linear(&mut rng, t);
        }
    }
    if !cfg.tied {
        linear(&mut rng, TensorName::LmHead);
    }
    let mut norm = |rng: &mut ChaCha8Rng, t: TensorName| {
        let v = (0..dim).map(|_| rng.random_range(0.8..1.2)).collect();
        out.insert(t.name(), (vec![dim], v));
    };
    for i in 0..cfg.n_layers {
        norm(&mut rng, TensorName::AttnNorm(i));
        norm(&mut rng, TensorName::FfnNorm(i));
    }
    norm(&mut rng, TensorName::FinalNorm);
    out
}

/// Serialises f32 tensors to safetensors bytes in `dtype`.
pub fn safetensors_bytes(
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    dtype: FileDtype,
) -> Result<Vec<u8>, InferError> {
    let st_dtype = match dtype {
        FileDtype::F32 => Dtype::F32,
        FileDtype::F16 => Dtype::F16,
        FileDtype::Bf16 => Dtype::BF16,
    };
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, (shape, v))| {
            let bytes: Vec<u8> = match st_dtype {
                Dtype::F16 => v
                    .iter()
                    .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
                    .collect(),
                Dtype::BF16 => v
                    .iter()
                    .flat_map(|x| bf16::from_f32(*x).to_bits().to_le_bytes())
                    .collect(),
                _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            };
            (name.clone(), shape.clone(), bytes)
        })
        .collect();
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| InferError::Model(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| InferError::Model(e.to_string()))
}

/// Writes config.json, model.safetensors (random weights in `dtype`),
/// tokenizer.json and generation.json into `dir` (created if needed).
pub fn write_random_model(
    dir: &Path,
    cfg: &ModelConfig,
    dtype: FileDtype,
    seed: u64,
    tokenizer: &Tokenizer,
) -> Result<(), InferError> {
    cfg.validate().map_err(|e| InferError::Config {
        path: dir.join("config.json"),
        message: e.to_string(),
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InferError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let cfg_path = dir.join("config.json");
    let json = serde_json::to_string_pretty(cfg).map_err(|e| InferError::Model(e.to_string()))?;
    std::fs::write(&cfg_path, json + "\n").map_err(io(&cfg_path))?;
    let bytes = safetensors_bytes(&random_tensors(cfg, seed), dtype)?;
    let st_path = dir.join("model.safetensors");
    std::fs::write(&st_path, bytes).map_err(io(&st_path))?;
    let tok_path = dir.join("tokenizer.json");
    tokenizer
        .save(&tok_path)
        .map_err(|e| InferError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
    let gen_path = dir.join("generation.json");
    let gen_json = serde_json::to_string_pretty(&GenerationDefaults::default())
        .map_err(|e| InferError::Model(e.to_string()))?;
    std::fs::write(&gen_path, gen_json + "\n").map_err(io(&gen_path))?;
    Ok(())
}
