//! The native CPU path must compute the same function as the Burn model in `slm-model`
//! (the reference implementation the trainer uses). Both read the same model directory.
//! Needs the `burn` feature (CI and `scripts/test.sh` enable it).
#![cfg(feature = "burn")]

use slm_infer::{Isa, NativeModel, NativeOptions, WeightDtype};
use slm_model::burn::prelude::*;
use slm_model::{ModelConfig, save_model_dir};

fn burn_logits(model: &slm_model::Transformer, ids: &[u32], device: &Device) -> Vec<f32> {
    let data: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(data, [1, ids.len()]), device);
    model
        .forward(tokens)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Max |native - burn| relative to the largest |logit|: both are f32 with different
/// summation orders (and AVX-512 FMA vs Burn's kernels), so agreement to 1e-4 of the
/// logit range means the same maths.
const PARITY_TOL: f32 = 1e-4;

fn check(config: ModelConfig, seed: u64) {
    let device = Device::flex();
    device.seed(seed);
    let model = config.init(&device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_model_dir(&model, dir.path(), slm_model::FileDtype::F32).unwrap();
    // Tokenizer-free: the native model only needs config.json + model.safetensors.
    let ids: Vec<u32> = (0..40u32)
        .map(|i| (i * 37 + 11) % config.vocab_size as u32)
        .collect();
    let reference = burn_logits(&model, &ids, &device);
    for isa in Isa::available() {
        let native = NativeModel::load_with(
            dir.path(),
            &NativeOptions {
                weight_dtype: WeightDtype::F32,
                threads: 1,
                isa: Some(isa),
                ..Default::default()
            },
        )
        .unwrap();
        let got = native.forward_full(&ids).unwrap();
        assert_eq!(got.len(), reference.len());
        let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = got
            .iter()
            .zip(&reference)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= PARITY_TOL * scale,
            "native ({isa}) differs from Burn by {diff} (logit scale {scale})"
        );
    }
}

#[test]
fn native_forward_matches_burn_model_with_gqa_and_tied_head() {
    check(
        ModelConfig {
            dim: 64,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            hidden_dim: 160,
            vocab_size: 300,
            max_seq_len: 64,
            ..ModelConfig::default()
        },
        1,
    );
}

#[test]
fn native_forward_matches_burn_model_with_untied_head() {
    check(
        ModelConfig {
            dim: 48,
            n_layers: 3,
            n_heads: 3,
            n_kv_heads: 3,
            hidden_dim: 96,
            vocab_size: 257,
            max_seq_len: 64,
            tied: false,
            ..ModelConfig::default()
        },
        2,
    );
}
