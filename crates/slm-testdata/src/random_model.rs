//! Writes a complete model directory with random weights: the fixture for tests, the
//! committed `models/tiny-random` (`slm-infer`'s `make_tiny_model` example) and the
//! benchmarks' stand-in for a model of the default shape. Nothing here is used when serving.

use std::collections::BTreeMap;
use std::path::Path;

use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, tensor::TensorView};
use slm_tokenizer::Tokenizer;

use anyhow::Context;
use slm_model::generation::GenerationDefaults;
use slm_model::{FileDtype, ModelConfig, TensorName};

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
) -> anyhow::Result<Vec<u8>> {
    let st_dtype = match dtype {
        FileDtype::F32 => Dtype::F32,
        FileDtype::F16 => Dtype::F16,
        FileDtype::Bf16 => Dtype::BF16,
    };
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, (shape, v))| {
            let bytes: Vec<u8> = match dtype {
                FileDtype::F16 => v
                    .iter()
                    .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
                    .collect(),
                FileDtype::Bf16 => v
                    .iter()
                    .flat_map(|x| bf16::from_f32(*x).to_bits().to_le_bytes())
                    .collect(),
                FileDtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            };
            (name.clone(), shape.clone(), bytes)
        })
        .collect();
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .with_context(|| format!("tensor {name}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(safetensors::serialize(views, None)?)
}

/// Writes config.json, model.safetensors (random weights in `dtype`),
/// tokenizer.json and generation.json into `dir` (created if needed).
pub fn write_random_model(
    dir: &Path,
    cfg: &ModelConfig,
    dtype: FileDtype,
    seed: u64,
    tokenizer: &Tokenizer,
) -> anyhow::Result<()> {
    cfg.validate()?;
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write(
        "config.json",
        (serde_json::to_string_pretty(cfg)? + "\n").into(),
    )?;
    write(
        "model.safetensors",
        safetensors_bytes(&random_tensors(cfg, seed), dtype)?,
    )?;
    let tok_path = dir.join("tokenizer.json");
    tokenizer
        .save(&tok_path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tok_path.display()))?;
    let generation = serde_json::to_string_pretty(&GenerationDefaults::default())? + "\n";
    write("generation.json", generation.into())
}
