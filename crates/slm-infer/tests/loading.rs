//! Loading a model directory: success and every class of bad input.

mod common;

use common::*;
use std::time::Duration;

use slm_infer::{
    Engine, EngineOptions, GenerateRequest, GenerationDefaults, InferError, ModelConfig, ModelInfo,
    SamplingParams, WeightDtype,
};
use slm_testdata::random_model;

#[test]
fn tiny_model_loads_with_info() {
    let e = Engine::load(tiny_dir(), EngineOptions::default()).unwrap();
    let info = e.info();
    assert_eq!(info.name, "tiny-random");
    assert_eq!(info.config.n_kv_heads, 2);
    assert_eq!(info.vocab_size, e.tokenizer().vocab_size());
    assert_eq!(info.active_vocab, e.tokenizer().vocab_size());
    assert_eq!(info.max_seq_len, 128);
    assert_eq!(
        (info.dtype, info.dtype_exceptions.len()),
        (WeightDtype::Q8, 0)
    );
    assert_eq!(info.n_params, info.config.num_params());
    let file = std::fs::metadata(tiny_dir().join("model.safetensors"))
        .unwrap()
        .len();
    assert_eq!(info.weights_bytes, file);
    e.shutdown();
}

fn load_err(dir: &std::path::Path) -> String {
    match Engine::load(dir, EngineOptions::default()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_files_are_named() {
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        let tmp = tiny_copy();
        std::fs::remove_file(tmp.path().join(f)).unwrap();
        let msg = load_err(tmp.path());
        assert!(msg.contains(f), "{f}: {msg}");
    }
}

#[test]
fn corrupt_safetensors_is_reported() {
    let tmp = tiny_copy();
    let p = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_err(tmp.path());
    assert!(
        msg.contains("model.safetensors") && msg.contains("not a valid safetensors"),
        "{msg}"
    );
    std::fs::write(&p, b"garbage").unwrap();
    assert!(load_err(tmp.path()).contains("not a valid safetensors"));
}

#[test]
fn malformed_or_inconsistent_config_is_reported() {
    let tmp = tiny_copy();
    let p = tmp.path().join("config.json");
    std::fs::write(&p, "{\"dim\": 64").unwrap();
    assert!(load_err(tmp.path()).contains("config.json"));
    let mut cfg: ModelConfig =
        serde_json::from_str(&std::fs::read_to_string(tiny_dir().join("config.json")).unwrap())
            .unwrap();
    cfg.n_kv_heads = 3;
    std::fs::write(&p, serde_json::to_string(&cfg).unwrap()).unwrap();
    assert!(load_err(tmp.path()).contains("n_kv_heads"));
}

#[test]
fn vocab_mismatch_is_reported() {
    let tmp = tiny_copy();
    let p = tmp.path().join("config.json");
    let mut cfg: ModelConfig = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    cfg.vocab_size = 300;
    std::fs::write(&p, serde_json::to_string(&cfg).unwrap()).unwrap();
    match Engine::load(tmp.path(), EngineOptions::default()) {
        Err(InferError::VocabMismatch {
            tokenizer_vocab,
            model_vocab,
        }) => {
            assert_eq!((tokenizer_vocab, model_vocab), (512, 300));
        }
        other => panic!("expected VocabMismatch, got {other:?}"),
    }
}

#[test]
fn wrong_shape_and_missing_tensor_are_named() {
    // Config says hidden_dim 96 but the weights have 128.
    let tmp = tiny_copy();
    let p = tmp.path().join("config.json");
    let mut cfg: ModelConfig = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    cfg.hidden_dim = 96;
    std::fs::write(&p, serde_json::to_string(&cfg).unwrap()).unwrap();
    let msg = load_err(tmp.path());
    assert!(
        msg.contains("gate_proj") && msg.contains("[128, 64]") && msg.contains("[96, 64]"),
        "{msg}"
    );

    // An untied config needs lm_head.weight, which the tied fixture lacks.
    cfg.hidden_dim = 128;
    cfg.tied = false;
    std::fs::write(&p, serde_json::to_string(&cfg).unwrap()).unwrap();
    let msg = load_err(tmp.path());
    assert!(msg.contains("missing tensor lm_head.weight"), "{msg}");
}

#[test]
fn unsupported_dtype_is_named() {
    let tmp = tiny_copy();
    let cfg: ModelConfig =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
            .unwrap();
    let mut tensors = random_model::random_tensors(&cfg, 1);
    let bytes = random_model::safetensors_bytes(&tensors, slm_infer::FileDtype::F32).unwrap();
    std::fs::write(tmp.path().join("model.safetensors"), &bytes).unwrap();
    Engine::load(tmp.path(), EngineOptions::default())
        .expect("f32 file loads")
        .shutdown();

    // Re-encode one tensor as I32 by hand.
    let (shape, _) = tensors.remove("model.norm.weight").unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, (s, v))| {
            (
                n.clone(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let ints: Vec<u8> = vec![0u8; shape[0] * 4];
    for (n, s, b) in &encoded {
        views.push((
            n.clone(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
        ));
    }
    views.push((
        "model.norm.weight".into(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::I32, shape.clone(), &ints)
            .unwrap(),
    ));
    std::fs::write(
        tmp.path().join("model.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    let msg = load_err(tmp.path());
    assert!(
        msg.contains("model.norm.weight") && msg.contains("I32"),
        "{msg}"
    );
}

#[test]
fn bad_engine_options_are_rejected() {
    let r = Engine::load(
        tiny_dir(),
        EngineOptions {
            max_batch: 0,
            kv_cache_mib: 0,
            ..Default::default()
        },
    );
    assert!(matches!(r, Err(InferError::InvalidRequest(m)) if m.contains("kv_cache_mib")));
}

#[test]
fn auto_batch_is_bounded_by_the_kv_cache_memory() {
    // The bundled model's shape: 12 layers × 2 × 512 positions × 288 × 4 bytes a slot.
    let cfg = ModelConfig {
        n_layers: 12,
        max_seq_len: 512,
        dim: 288,
        n_heads: 6,
        n_kv_heads: 6,
        ..Default::default()
    };
    let per_slot = 12 * 2 * 512 * 288 * 4;
    let auto = EngineOptions::default();
    assert_eq!(auto.max_batch, 0);
    assert_eq!(auto.slots_for(&cfg), 1024 * 1024 * 1024 / per_slot);
    assert_eq!(auto.slots_for(&cfg), 75);
    let small = EngineOptions {
        kv_cache_mib: 1,
        ..Default::default()
    };
    assert_eq!(small.slots_for(&cfg), 1, "at least one slot");
    let fixed = EngineOptions {
        max_batch: 7,
        kv_cache_mib: 1,
        ..Default::default()
    };
    assert_eq!(fixed.slots_for(&cfg), 7);
    // The engine takes what the options give for its model.
    let engine = Engine::load(
        tiny_dir(),
        EngineOptions {
            kv_cache_mib: 64,
            ..Default::default()
        },
    )
    .unwrap();
    let tiny = engine.info().config.clone();
    let want = EngineOptions {
        kv_cache_mib: 64,
        ..Default::default()
    }
    .slots_for(&tiny);
    assert_eq!(engine.stats().max_batch, want);
    assert!(want > 1, "{want}");
}

#[test]
fn padded_vocabulary_computes_only_the_tokenizers_rows() {
    // A config vocabulary padded past the tokenizer's 512 tokens.
    let cfg = ModelConfig {
        dim: 32,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 1,
        hidden_dim: 48,
        vocab_size: 1000,
        max_seq_len: 64,
        ..Default::default()
    };
    let tmp = random_model_dir(&cfg, slm_infer::FileDtype::F16, 5);
    let e = Engine::load(tmp.path(), EngineOptions::default()).unwrap();
    assert_eq!(e.info().vocab_size, 1000);
    assert_eq!(e.info().config.vocab_size, 1000);
    assert_eq!(e.info().active_vocab, 512);
    // q8 needs rows of whole 32-value blocks: the 48-wide down projection stays f16, and
    // the info says so.
    assert_eq!(e.info().dtype, WeightDtype::Q8);
    assert_eq!(
        e.info().dtype_exceptions,
        [(
            "model.layers.0.mlp.down_proj.weight".to_string(),
            WeightDtype::F16
        )]
    );
    let c = e
        .generate(GenerateRequest {
            prompt: "Once upon a time".into(),
            max_tokens: 8,
            sampling: SamplingParams {
                seed: Some(1),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    assert!(c.usage.completion_tokens >= 1);
    e.shutdown();
}

/// `with_model` over a scripted model computing `width` logits, with a
/// config vocabulary of `config_vocab` and the tiny 512-token tokenizer.
fn with_width(width: usize, config_vocab: usize) -> Result<Engine, InferError> {
    let config = ModelConfig {
        dim: 8,
        n_layers: 1,
        n_heads: 1,
        n_kv_heads: 1,
        hidden_dim: 8,
        vocab_size: config_vocab,
        max_seq_len: 32,
        ..Default::default()
    };
    let info = ModelInfo {
        name: "scripted".into(),
        n_params: 0,
        weights_bytes: 0,
        dtype: slm_infer::WeightDtype::F32,
        dtype_exceptions: Vec::new(),
        max_seq_len: 32,
        vocab_size: config_vocab,
        active_vocab: 0,
        config,
        generation: GenerationDefaults::default(),
    };
    let model = ScriptedModel::new(vec![5], width, 32, 2, Duration::ZERO);
    Engine::with_model(
        Box::new(model),
        tiny_tokenizer(),
        info,
        EngineOptions::default(),
    )
}

#[test]
fn with_model_accepts_logit_widths_between_tokenizer_and_config() {
    for width in [512, 600, 700] {
        let e = with_width(width, 700).unwrap();
        assert_eq!(e.info().active_vocab, width);
        e.shutdown();
    }
    for width in [511, 701] {
        let msg = with_width(width, 700).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("computes {width} logits"))
                && msg.contains("512")
                && msg.contains("700"),
            "{msg}"
        );
    }
}
