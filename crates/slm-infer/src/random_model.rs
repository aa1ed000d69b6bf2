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
use crate::kernels::matrix::WeightDtype;
use slm_model::generation::GenerationDefaults;

/// Random tensors, named and shaped per docs/architecture.md, as f32.
pub fn random_tensors(cfg: &ModelConfig, seed: u64) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BTreeMap::new();
    let (dim, kv, hidden) = (cfg.dim, cfg.kv_dim(), cfg.hidden_dim);
    let mut linear = |rng: &mut ChaCha8Rng, name: String, rows: usize, cols: usize| {
        // Uniform with variance 1/cols keeps activations O(1) through the stack.
        let a = (3.0 / cols as f32).sqrt();
        let v = (0..rows * cols).map(|_| rng.random_range(-a..a)).collect();
        out.insert(name, (vec![rows, cols], v));
    };
    linear(
        &mut rng,
        "model.embed_tokens.weight".into(),
        cfg.vocab_size,
        dim,
    );
    for i in 0..cfg.n_layers {
        let p = format!("model.layers.{i}");
        linear(&mut rng, format!("{p}.self_attn.q_proj.weight"), dim, dim);
        linear(&mut rng, format!("{p}.self_attn.k_proj.weight"), kv, dim);
        linear(&mut rng, format!("{p}.self_attn.v_proj.weight"), kv, dim);
        linear(&mut rng, format!("{p}.self_attn.o_proj.weight"), dim, dim);
        linear(&mut rng, format!("{p}.mlp.gate_proj.weight"), hidden, dim);
        linear(&mut rng, format!("{p}.mlp.up_proj.weight"), hidden, dim);
        linear(&mut rng, format!("{p}.mlp.down_proj.weight"), dim, hidden);
    }
    if !cfg.tied {
        linear(&mut rng, "lm_head.weight".into(), cfg.vocab_size, dim);
    }
    let mut norm = |rng: &mut ChaCha8Rng, name: String| {
        let v = (0..dim).map(|_| rng.random_range(0.8..1.2)).collect();
        out.insert(name, (vec![dim], v));
    };
    for i in 0..cfg.n_layers {
        norm(&mut rng, format!("model.layers.{i}.input_layernorm.weight"));
        norm(
            &mut rng,
            format!("model.layers.{i}.post_attention_layernorm.weight"),
        );
    }
    norm(&mut rng, "model.norm.weight".into());
    out
}

/// Serialises f32 tensors to safetensors bytes in `dtype`.
pub fn safetensors_bytes(
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    dtype: WeightDtype,
) -> Result<Vec<u8>, InferError> {
    let st_dtype = match dtype {
        WeightDtype::F32 => Dtype::F32,
        WeightDtype::F16 => Dtype::F16,
        WeightDtype::Bf16 => Dtype::BF16,
        WeightDtype::Q8 => {
            return Err(InferError::Model(
                "q8 is an in-memory precision; model files hold f32, f16 or bf16".into(),
            ));
        }
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
    dtype: WeightDtype,
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
