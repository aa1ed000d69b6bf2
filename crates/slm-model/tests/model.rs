//! Behaviour of the Burn Transformer: KV-cache equivalence, causality, save/load,
//! parameter counts and backend neutrality.

use burn::prelude::*;
use slm_model::{
    FileDtype, ModelConfig, ModelError, Transformer, burn, load_model_dir, save_model_dir,
};

/// Small enough to run in milliseconds, with grouped KV heads so GQA is exercised.
fn tiny_config() -> ModelConfig {
    ModelConfig {
        dim: 64,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        hidden_dim: 128,
        vocab_size: 97,
        max_seq_len: 32,
        ..ModelConfig::default()
    }
}

fn tokens(ids: &[i64], batch: usize, device: &Device) -> Tensor<2, Int> {
    let seq = ids.len() / batch;
    Tensor::from_data(TensorData::new(ids.to_vec(), [batch, seq]), device)
}

fn to_vec(t: Tensor<3>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn sequence(len: usize, salt: i64) -> Vec<i64> {
    (0..len as i64)
        .map(|i| (i * 31 + salt * 7 + 3) % 97)
        .collect()
}

/// Absolute tolerance for KV-cache vs full forward: both are f32 computations of the same
/// maths in a different association order; logits are O(1), so 1e-4 is tight.
const KV_TOL: f32 = 1e-4;

#[test]
fn kv_cache_decode_matches_full_forward() {
    let device = Device::flex();
    device.seed(7);
    let model = tiny_config().init(&device).unwrap();
    let batch = 2;
    let len = 20;
    let ids: Vec<i64> = [sequence(len, 1), sequence(len, 2)].concat();
    let full = to_vec(model.forward(tokens(&ids, batch, &device)));
    let vocab = 97;

    // Prefill 5 tokens, then a chunk of 3, then one token at a time.
    let mut cache = model.new_cache();
    let mut got = vec![Vec::new(); batch];
    let mut pos = 0;
    for chunk in [5usize, 3].into_iter().chain(std::iter::repeat_n(1, 12)) {
        let slice: Vec<i64> = (0..batch)
            .flat_map(|b| ids[b * len + pos..b * len + pos + chunk].to_vec())
            .collect();
        let logits = to_vec(
            model
                .forward_cached(tokens(&slice, batch, &device), &mut cache)
                .unwrap(),
        );
        for (b, out) in got.iter_mut().enumerate() {
            out.extend_from_slice(&logits[b * chunk * vocab..(b + 1) * chunk * vocab]);
        }
        pos += chunk;
    }
    assert_eq!(pos, len);
    assert_eq!(cache.len(), len);
    let got: Vec<f32> = got.concat();
    let diff = max_abs_diff(&full, &got);
    assert!(
        diff < KV_TOL,
        "KV-cache logits differ from full forward by {diff}"
    );
}

#[test]
fn causal_mask_hides_future_tokens() {
    let device = Device::flex();
    device.seed(11);
    let model = tiny_config().init(&device).unwrap();
    let a = sequence(16, 3);
    let mut b = a.clone();
    b[9] = (b[9] + 1) % 97;
    let la = to_vec(model.forward(tokens(&a, 1, &device)));
    let lb = to_vec(model.forward(tokens(&b, 1, &device)));
    let vocab = 97;
    let before = max_abs_diff(&la[..9 * vocab], &lb[..9 * vocab]);
    let at = max_abs_diff(&la[9 * vocab..10 * vocab], &lb[9 * vocab..10 * vocab]);
    assert!(before < 1e-6, "earlier positions changed by {before}");
    assert!(
        at > 1e-3,
        "the changed position itself must change (diff {at})"
    );
}

#[test]
fn context_overflow_is_an_error() {
    let device = Device::flex();
    let model = tiny_config().init(&device).unwrap();
    let mut cache = model.new_cache();
    let ids = sequence(30, 1);
    model
        .forward_cached(tokens(&ids, 1, &device), &mut cache)
        .unwrap();
    let err = model
        .forward_cached(tokens(&sequence(3, 2), 1, &device), &mut cache)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextOverflow {
                needed: 33,
                max: 32
            }
        ),
        "{err}"
    );
}

#[test]
fn parameter_count_matches_config() {
    let device = Device::flex();
    let cfg = ModelConfig::default();
    let model = cfg.init(&device).unwrap();
    assert_eq!(model.num_params(), 15_191_712);
    assert_eq!(model.num_params(), cfg.num_params());

    let untied = ModelConfig {
        tied: false,
        ..tiny_config()
    };
    assert_eq!(
        untied.init(&device).unwrap().num_params(),
        untied.num_params()
    );
    assert_eq!(untied.num_params(), tiny_config().num_params() + 97 * 64);
}

fn logits_of(model: &Transformer, device: &Device) -> Vec<f32> {
    to_vec(model.forward(tokens(&sequence(12, 5), 1, device)))
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let device = Device::flex();
    device.seed(3);
    for tied in [true, false] {
        let model = ModelConfig {
            tied,
            ..tiny_config()
        }
        .init(&device)
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        save_model_dir(&model, dir.path(), FileDtype::F32).unwrap();
        let loaded = load_model_dir(dir.path(), &device).unwrap();
        assert_eq!(loaded.config(), model.config());
        assert_eq!(
            logits_of(&model, &device),
            logits_of(&loaded, &device),
            "tied={tied}"
        );

        // Half precision storage: loading is exact w.r.t. the rounded weights, so saving the
        // loaded model again reproduces the same bytes; outputs stay close to f32.
        for dtype in [FileDtype::F16, FileDtype::Bf16] {
            save_model_dir(&model, dir.path(), dtype).unwrap();
            let half = load_model_dir(dir.path(), &device).unwrap();
            let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
            assert_eq!(slm_model::to_safetensors(&half, dtype), bytes);
            let diff = max_abs_diff(&logits_of(&model, &device), &logits_of(&half, &device));
            assert!(diff < 0.05, "{dtype:?} logits drifted by {diff}");
        }
    }
}

#[test]
fn same_weights_same_logits_on_flex_and_ndarray() {
    let flex = Device::flex();
    flex.seed(5);
    let model = tiny_config().init(&flex).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_model_dir(&model, dir.path(), FileDtype::F32).unwrap();
    // ndarray is deprecated upstream but is the second pure-CPU backend we can compile here.
    #[allow(deprecated)]
    let nd = Device::ndarray();
    let on_nd = load_model_dir(dir.path(), &nd).unwrap();
    let diff = max_abs_diff(&logits_of(&model, &flex), &logits_of(&on_nd, &nd));
    assert!(diff < 1e-4, "backends disagree by {diff}");
}

#[test]
fn bad_model_directories_are_refused_clearly() {
    let device = Device::flex();
    let model = tiny_config().init(&device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();

    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(
        err.contains("config.json") && err.contains("No such file"),
        "{err}"
    );

    save_model_dir(&model, p, FileDtype::F32).unwrap();
    let weights = p.join("model.safetensors");
    let good = std::fs::read(&weights).unwrap();

    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(err.contains("not a valid safetensors file"), "{err}");

    std::fs::write(&weights, &good).unwrap();
    let wider = ModelConfig {
        hidden_dim: 256,
        ..tiny_config()
    };
    std::fs::write(p.join("config.json"), wider.to_json()).unwrap();
    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(
        err.contains("mlp.gate_proj.weight") && err.contains("shape"),
        "{err}"
    );

    let deeper = ModelConfig {
        n_layers: 3,
        ..tiny_config()
    };
    std::fs::write(p.join("config.json"), deeper.to_json()).unwrap();
    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(err.contains("missing tensor `model.layers.2"), "{err}");

    let untied = ModelConfig {
        tied: false,
        ..tiny_config()
    };
    std::fs::write(p.join("config.json"), untied.to_json()).unwrap();
    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(err.contains("lm_head.weight"), "{err}");

    std::fs::write(p.join("config.json"), "{ not json").unwrap();
    let err = load_model_dir(p, &device).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn forward_rows_is_the_leading_columns_of_forward() {
    let device = Device::flex();
    for tied in [true, false] {
        device.seed(11);
        let model = ModelConfig {
            tied,
            ..tiny_config()
        }
        .init(&device)
        .unwrap();
        let ids = tokens(&[sequence(10, 3), sequence(10, 4)].concat(), 2, &device);
        let full = model.forward(ids.clone());
        let rows = 40;
        let part = model.forward_rows(ids, rows);
        assert_eq!(part.dims(), [2, 10, rows]);
        let expected = to_vec(full.narrow(2, 0, rows));
        let diff = max_abs_diff(&to_vec(part), &expected);
        assert!(diff < 1e-5, "tied={tied}: {diff}");
    }
}
