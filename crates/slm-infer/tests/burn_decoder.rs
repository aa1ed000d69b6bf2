//! The Burn-backed decoder (feature `burn`): its step logits equal the native
//! model's, it keeps per-slot caches apart, rejects bad steps without
//! changing any slot, and the engine generates the same text on it.
//! Everything runs on `Device::flex()`; GPU devices are not available here.
#![cfg(feature = "burn")]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use slm_infer::{
    BurnDecoder, DecodeModel, Engine, EngineOptions, GenerateRequest, InferError, NativeModel,
    NativeOptions, SamplingParams, SeqWork, WeightDtype,
};
use slm_model::burn::prelude::Device;

/// Same tolerance as tests/burn_parity.rs: max |a - b| within 1e-4 of the
/// largest |logit| (f32 both sides, different summation orders).
const PARITY_TOL: f32 = 1e-4;

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    assert!(
        got.iter().all(|v| v.is_finite()),
        "{what}: non-finite logits"
    );
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let diff = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= PARITY_TOL * scale,
        "{what}: Burn differs from native by {diff} (logit scale {scale})"
    );
}

fn native(dir: &Path, vocab_rows: Option<usize>) -> Arc<NativeModel> {
    Arc::new(
        NativeModel::load_with(
            dir,
            &NativeOptions {
                weight_dtype: WeightDtype::F32,
                threads: 2,
                vocab_rows,
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

fn burn(dir: &Path, slots: usize, vocab_rows: Option<usize>) -> BurnDecoder {
    BurnDecoder::load(dir, &Device::flex(), slots, vocab_rows).unwrap()
}

fn tokens(n: usize, salt: u32, vocab: u32) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i * 37 + salt * 11 + 5) % vocab)
        .collect()
}

/// Runs the same steps through both decoders and compares every logit row.
/// Rows of items without `want_logits` must be left untouched.
fn run_both(
    burn: &mut BurnDecoder,
    native: &mut dyn DecodeModel,
    steps: &[Vec<SeqWork<'_>>],
    what: &str,
) {
    let vocab = native.vocab_size();
    assert_eq!(burn.vocab_size(), vocab);
    for (s, batch) in steps.iter().enumerate() {
        let mut want = vec![f32::NAN; batch.len() * vocab];
        let mut got = vec![f32::NAN; batch.len() * vocab];
        native.step(batch, &mut want).unwrap();
        burn.step(batch, &mut got).unwrap();
        for (j, w) in batch.iter().enumerate() {
            let row = j * vocab..(j + 1) * vocab;
            if w.want_logits {
                assert_close(
                    &got[row.clone()],
                    &want[row],
                    &format!("{what} step {s} item {j}"),
                );
            } else {
                assert!(
                    got[row].iter().all(|v| v.is_nan()),
                    "{what} step {s} item {j}: row without want_logits was written"
                );
            }
        }
    }
}

fn work(slot: usize, tokens: &[u32], start_pos: usize, want_logits: bool) -> SeqWork<'_> {
    SeqWork {
        slot,
        tokens,
        start_pos,
        want_logits,
    }
}

/// Two slots interleaved: chunked prefill (one chunk without logits), then
/// decode steps where both slots advance in the same step, each alone, and a
/// third slot stays unused.
fn interleaved_steps<'a>(a: &'a [u32], b: &'a [u32]) -> Vec<Vec<SeqWork<'a>>> {
    let mut steps = vec![
        vec![work(0, &a[..6], 0, false), work(2, &b[..9], 0, true)],
        vec![work(0, &a[6..11], 6, true)],
        vec![work(2, &b[9..10], 9, true), work(0, &a[11..12], 11, true)],
    ];
    for i in 0..8 {
        let (pa, pb) = (12 + i, 10 + i);
        if i % 3 == 2 {
            steps.push(vec![work(2, &b[pb..pb + 1], pb, true)]);
            steps.push(vec![work(0, &a[pa..pa + 1], pa, true)]);
        } else {
            steps.push(vec![
                work(0, &a[pa..pa + 1], pa, true),
                work(2, &b[pb..pb + 1], pb, true),
            ]);
        }
    }
    steps
}

#[test]
fn burn_step_logits_match_native_over_prefill_and_interleaved_decode() {
    let dir = tiny_dir();
    let (a, b) = (tokens(20, 1, 512), tokens(18, 2, 512));
    let mut nat = native(&dir, None).decoder(3);
    let mut bd = burn(&dir, 3, None);
    run_both(&mut bd, &mut nat, &interleaved_steps(&a, &b), "tiny");
    assert_eq!(bd.slot_len(0), Some(20));
    assert_eq!(bd.slot_len(1), Some(0));
    assert_eq!(bd.slot_len(2), Some(18));
    assert_eq!(bd.slot_len(3), None);
}

#[test]
fn a_new_sequence_at_position_zero_resets_a_used_slot() {
    let dir = tiny_dir();
    let (a, b) = (tokens(12, 3, 512), tokens(7, 4, 512));
    let mut nat = native(&dir, None).decoder(2);
    let mut bd = burn(&dir, 2, None);
    let steps = vec![
        vec![work(1, &a[..10], 0, true)],
        vec![work(1, &a[10..11], 10, true)],
        // Slot 1 is reused by another sequence: its old positions must be forgotten.
        vec![work(1, &b[..5], 0, true)],
        vec![work(1, &b[5..6], 5, true)],
    ];
    run_both(&mut bd, &mut nat, &steps, "reuse");
    assert_eq!(bd.slot_len(1), Some(6));
}

#[test]
fn vocab_rows_narrow_the_logits_of_a_padded_vocabulary() {
    for tied in [true, false] {
        let cfg = slm_infer::ModelConfig {
            dim: 32,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            hidden_dim: 64,
            vocab_size: 700,
            max_seq_len: 64,
            tied,
            ..Default::default()
        };
        let tmp = random_model_dir(&cfg, slm_infer::FileDtype::F32, 9);
        let (a, b) = (tokens(20, 5, 512), tokens(18, 6, 512));
        let mut nat = native(tmp.path(), Some(512)).decoder(3);
        let mut bd = burn(tmp.path(), 3, Some(512));
        assert_eq!(bd.vocab_rows(), 512);
        run_both(
            &mut bd,
            &mut nat,
            &interleaved_steps(&a, &b),
            &format!("padded, tied={tied}"),
        );
        // Token ids of the padding rows are not inputs any more.
        let mut out = vec![0f32; 512];
        let e = bd.step(&[work(1, &[600], 0, true)], &mut out).unwrap_err();
        assert!(
            e.to_string()
                .contains("token 600 outside vocabulary of 512"),
            "{e}"
        );
    }
}

#[test]
fn bad_steps_are_errors_and_change_no_slot() {
    let mut bd = burn(&tiny_dir(), 2, None);
    let toks = tokens(10, 7, 512);
    let mut out = vec![0f32; 2 * 512];
    bd.step(&[work(0, &toks[..4], 0, true)], &mut out).unwrap();

    let cases: Vec<(Vec<SeqWork<'_>>, &str)> = vec![
        (
            vec![work(0, &toks[4..5], 3, true)],
            "start_pos 3 but slot 0 holds 4",
        ),
        (
            vec![work(0, &toks[4..5], 5, true)],
            "start_pos 5 but slot 0 holds 4",
        ),
        (
            vec![work(1, &toks[4..5], 2, true)],
            "start_pos 2 but slot 1 holds 0",
        ),
        (
            vec![work(2, &toks[4..5], 0, true)],
            "slot 2 out of range (2 slots)",
        ),
        (
            vec![work(1, &toks[..2], 0, true), work(1, &toks[2..3], 2, true)],
            "slot 1 used twice",
        ),
        (vec![work(1, &[], 0, true)], "no tokens"),
        (
            vec![work(1, &[512], 0, true)],
            "token 512 outside vocabulary of 512",
        ),
        (
            // Valid first item, bad second one: the first must not run either.
            vec![work(1, &toks[..3], 0, true), work(0, &toks[4..5], 7, true)],
            "batch item 1: start_pos 7",
        ),
    ];
    for (batch, expect) in &cases {
        let e = bd.step(batch, &mut out).unwrap_err();
        assert!(matches!(e, InferError::InvalidRequest(_)), "{e:?}");
        assert!(e.to_string().contains(expect), "{e} (expected {expect:?})");
        assert_eq!(bd.slot_len(0), Some(4), "after {expect:?}");
        assert_eq!(bd.slot_len(1), Some(0), "after {expect:?}");
    }

    let long = tokens(129, 8, 512);
    let e = bd.step(&[work(1, &long, 0, true)], &mut out).unwrap_err();
    assert!(e.to_string().contains("exceed the context of 128"), "{e}");
    let e = bd
        .step(&[work(1, &toks[..1], 0, true)], &mut out[..511])
        .unwrap_err();
    assert!(e.to_string().contains("511 values, 512 needed"), "{e}");
    let e = BurnDecoder::load(tiny_dir(), &Device::flex(), 1, Some(513)).unwrap_err();
    assert!(e.to_string().contains("vocab_rows 513"), "{e}");
}

fn greedy(prompt: &str, max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: prompt.into(),
        max_tokens,
        sampling: SamplingParams::greedy(),
        ..Default::default()
    }
}

fn opts() -> EngineOptions {
    EngineOptions {
        max_batch: 2,
        threads: 2,
        prefill_chunk: 8,
        // The reference precision: Burn holds f32 weights too.
        weight_dtype: WeightDtype::F32,
        ..Default::default()
    }
}

/// Greedy generation on both engines, prompts submitted together so they
/// share steps. Random weights give well-separated top logits, so argmax
/// does not flip within the 1e-4 parity tolerance and whole texts agree.
fn same_greedy_text(dir: &Path) {
    let native = Engine::load(dir, opts()).unwrap();
    let burn = Engine::load_burn(dir, Device::flex(), opts()).unwrap();
    let (ni, bi) = (native.info(), burn.info());
    assert_eq!(bi.active_vocab, ni.active_vocab);
    assert_eq!(bi.config, ni.config);
    assert_eq!(bi.n_params, ni.n_params);
    assert_eq!(bi.dtype, WeightDtype::F32);
    assert_eq!(burn.options().max_batch, 2);
    let prompts = ["Once upon a time", "The little dog", ""];
    let run = |e: &Engine| {
        let streams: Vec<_> = prompts
            .iter()
            .map(|p| e.submit(greedy(p, 24)).unwrap())
            .collect();
        streams
            .into_iter()
            .map(|s| {
                let mut done = None;
                for ev in s {
                    match ev {
                        slm_infer::StreamEvent::Done(c) => done = Some(c),
                        slm_infer::StreamEvent::Error(m) => panic!("error event: {m}"),
                        slm_infer::StreamEvent::Delta(_) | slm_infer::StreamEvent::Token(_) => {}
                    }
                }
                done.expect("stream ended without Done")
            })
            .collect::<Vec<_>>()
    };
    let (want, got) = (run(&native), run(&burn));
    for ((p, w), g) in prompts.iter().zip(&want).zip(&got) {
        assert_eq!(g.text, w.text, "prompt {p:?}");
        assert_eq!(g.usage, w.usage, "prompt {p:?}");
        assert_eq!(g.finish_reason, w.finish_reason, "prompt {p:?}");
    }
    // Not a trivial agreement: the prompts generate (random weights rarely pick end-of-text).
    let generated: usize = want.iter().map(|c| c.usage.completion_tokens).sum();
    assert!(generated >= 2 * 24, "only {generated} tokens generated");
}

#[test]
fn burn_engine_generates_the_native_engines_greedy_text() {
    same_greedy_text(&tiny_dir());
}

#[test]
fn burn_engine_matches_native_on_a_padded_vocabulary() {
    let cfg = slm_infer::ModelConfig {
        dim: 32,
        n_layers: 2,
        n_heads: 2,
        n_kv_heads: 1,
        hidden_dim: 64,
        vocab_size: 700,
        max_seq_len: 96,
        tied: false,
        ..Default::default()
    };
    let tmp = random_model_dir(&cfg, slm_infer::FileDtype::F32, 11);
    same_greedy_text(tmp.path());
    let e = Engine::load_burn(tmp.path(), Device::flex(), opts()).unwrap();
    assert_eq!(e.info().active_vocab, 512);
    assert_eq!(e.info().vocab_size, 700);
}

#[test]
fn load_burn_reports_bad_model_directories() {
    let tmp = tiny_copy();
    std::fs::write(tmp.path().join("model.safetensors"), b"not safetensors").unwrap();
    let e = Engine::load_burn(tmp.path(), Device::flex(), opts()).unwrap_err();
    assert!(matches!(e, InferError::Weights { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("model.safetensors"), "{msg}");
    assert_eq!(msg.matches("model.safetensors").count(), 1, "{msg}");

    let tmp = tiny_copy();
    std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    let e = Engine::load_burn(tmp.path(), Device::flex(), opts()).unwrap_err();
    assert!(e.to_string().contains("tokenizer.json"), "{e}");

    let e = Engine::load_burn(
        tiny_dir(),
        Device::flex(),
        EngineOptions {
            max_batch: 0,
            kv_cache_mib: 0,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("kv_cache_mib"), "{e}");
}
