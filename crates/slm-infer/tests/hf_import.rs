//! A model directory written by Hugging Face transformers itself (tests/fixtures/
//! hf-tiny-llama, made by make_hf_tiny_llama.py: LlamaConfig as transformers 5 writes it,
//! untied head, grouped-query attention, f16 weights) loads unmodified and computes what
//! transformers computed: last-position logits and the greedy continuation.

use std::path::PathBuf;

use slm_infer::{
    Engine, EngineOptions, GenerateRequest, NativeModel, NativeOptions, SamplingParams, WeightDtype,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf-tiny-llama")
}

fn reference() -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(dir().join("reference.json")).unwrap()).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn transformers_directory_gives_transformers_logits() {
    let model = NativeModel::load_with(
        dir(),
        &NativeOptions {
            weight_dtype: WeightDtype::F32,
            ..Default::default()
        },
    )
    .unwrap();
    let cfg = model.config();
    assert!(
        !cfg.tied && cfg.n_kv_heads == 2 && cfg.norm_eps == 1e-6,
        "{cfg:?}"
    );
    for case in reference() {
        let prompt = ids(&case["ids"]);
        let logits = model.forward_full(&prompt).unwrap();
        let rows = model.vocab_rows();
        let last = &logits[(prompt.len() - 1) * rows..];
        let theirs: Vec<f32> = case["last_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let range = theirs.iter().fold(f32::MIN, |a, &b| a.max(b))
            - theirs.iter().fold(f32::MAX, |a, &b| a.min(b));
        let worst = last
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1e-3 * range,
            "{}: logits differ by {worst} (range {range})",
            case["prompt"]
        );
    }
}

#[test]
fn transformers_directory_generates_transformers_greedy_text() {
    let engine = Engine::load(
        dir(),
        EngineOptions {
            weight_dtype: WeightDtype::F32,
            ..Default::default()
        },
    )
    .unwrap();
    for case in reference() {
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(
            engine.tokenizer().encode(prompt).unwrap(),
            ids(&case["ids"])
        );
        let want = ids(&case["greedy_ids"]);
        // transformers ran without an end token, so stop where it would have if it had one.
        let eot = engine.tokenizer().eot_id();
        let cut = want.iter().position(|&t| t == eot).unwrap_or(want.len());
        let done = engine
            .generate(GenerateRequest {
                prompt: prompt.to_string(),
                max_tokens: cut.max(1),
                sampling: SamplingParams {
                    seed: Some(0),
                    ..SamplingParams::greedy()
                },
                ..Default::default()
            })
            .unwrap();
        let want_text = engine.tokenizer().decode(&want[..cut]).unwrap();
        assert_eq!(done.text, want_text, "{prompt}");
    }
    engine.shutdown();
}
