//! Shared test fixtures: the committed tiny random model and a scripted
//! stand-in model whose outputs the tests fully control.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use slm_infer::{
    DecodeModel, Engine, EngineOptions, GenerationDefaults, InferError, ModelConfig, ModelInfo,
    SeqWork,
};
use slm_tokenizer::Tokenizer;

pub fn tiny_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-random")
}

pub fn tiny_tokenizer() -> Tokenizer {
    Tokenizer::from_file(tiny_dir().join("tokenizer.json")).expect("tiny tokenizer")
}

/// A temporary model directory: random weights of `cfg` stored as `dtype`, drawn from
/// `seed`, with the tiny 512-token tokenizer.
pub fn random_model_dir(
    cfg: &ModelConfig,
    dtype: slm_infer::FileDtype,
    seed: u64,
) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    slm_testdata::random_model::write_random_model(tmp.path(), cfg, dtype, seed, &tiny_tokenizer())
        .unwrap();
    tmp
}

/// Copies the tiny model into a temp dir so a test can damage it.
pub fn tiny_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation.json",
    ] {
        std::fs::copy(tiny_dir().join(f), tmp.path().join(f)).unwrap();
    }
    tmp
}

/// Emits `script` after each slot's prompt (then repeats its last token),
/// optionally sleeping per step so tests can act between steps.
pub struct ScriptedModel {
    pub script: Vec<u32>,
    pub vocab: usize,
    pub max_seq: usize,
    pub slots: usize,
    pub delay: Duration,
    prompt_end: Vec<Option<usize>>,
}

impl ScriptedModel {
    pub fn new(
        script: Vec<u32>,
        vocab: usize,
        max_seq: usize,
        slots: usize,
        delay: Duration,
    ) -> Self {
        ScriptedModel {
            script,
            vocab,
            max_seq,
            slots,
            delay,
            prompt_end: vec![None; slots],
        }
    }
}

impl DecodeModel for ScriptedModel {
    fn vocab_size(&self) -> usize {
        self.vocab
    }
    fn max_seq_len(&self) -> usize {
        self.max_seq
    }
    fn num_slots(&self) -> usize {
        self.slots
    }
    fn step(&mut self, batch: &[SeqWork<'_>], out: &mut [f32]) -> Result<(), InferError> {
        std::thread::sleep(self.delay);
        for (j, w) in batch.iter().enumerate() {
            assert!(
                w.start_pos + w.tokens.len() <= self.max_seq,
                "ran past the context"
            );
            if w.start_pos == 0 {
                self.prompt_end[w.slot] = None;
            }
            if !w.want_logits {
                continue;
            }
            let end = w.start_pos + w.tokens.len();
            let pe = *self.prompt_end[w.slot].get_or_insert(end);
            let i = (end - pe).min(self.script.len() - 1);
            let row = &mut out[j * self.vocab..(j + 1) * self.vocab];
            row.fill(-10.0);
            row[self.script[i] as usize] = 10.0;
        }
        Ok(())
    }
}

pub fn scripted_engine(
    script: Vec<u32>,
    max_seq: usize,
    slots: usize,
    delay: Duration,
    queue: usize,
) -> Engine {
    let tok = tiny_tokenizer();
    let vocab = tok.vocab_size();
    let config = ModelConfig {
        dim: 8,
        n_layers: 1,
        n_heads: 1,
        n_kv_heads: 1,
        hidden_dim: 8,
        vocab_size: vocab,
        max_seq_len: max_seq,
        rope_theta: 10000.0,
        norm_eps: 1e-5,
        tied: true,
        dropout: 0.0,
    };
    let info = ModelInfo {
        name: "scripted".into(),
        n_params: 0,
        weights_bytes: 0,
        dtype: slm_infer::WeightDtype::F32,
        dtype_exceptions: Vec::new(),
        max_seq_len: max_seq,
        vocab_size: vocab,
        active_vocab: vocab,
        config,
        generation: GenerationDefaults::default(),
    };
    let model = ScriptedModel::new(script, vocab, max_seq, slots, delay);
    Engine::with_model(
        Box::new(model),
        tok,
        info,
        EngineOptions {
            max_batch: slots,
            queue_capacity: queue,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Waits (up to 5 s) until `cond` holds.
pub fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}
