//! The native model: incremental KV-cache decoding equals recomputing the
//! full sequence, batching and chunking do not change a row's result, and
//! the kernels and precisions agree within stated tolerances.

mod common;

use std::sync::Arc;

use common::*;
use slm_infer::{DecodeModel, NativeModel, NativeOptions, SeqWork, WeightDtype};

fn model(dtype: WeightDtype, portable: bool) -> Arc<NativeModel> {
    Arc::new(
        NativeModel::load_with(
            tiny_dir(),
            &NativeOptions {
                weight_dtype: dtype,
                threads: 2,
                force_portable: portable,
            },
        )
        .unwrap(),
    )
}

fn tokens(n: usize, salt: u32) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i * 37 + salt * 11 + 5) % 512)
        .collect()
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Tolerance for "same maths, different summation order": 1e-4 of the logit range.
const TOL: f32 = 1e-4;

#[test]
fn incremental_decode_matches_full_recompute() {
    let m = model(WeightDtype::F32, false);
    let vocab = m.config().vocab_size;
    let seq = tokens(40, 1);
    let full = m.forward_full(&seq).unwrap();
    assert_eq!(full.len(), seq.len() * vocab);
    assert!(full.iter().all(|v| v.is_finite()));

    let mut dec = m.clone().decoder(3);
    let mut out = vec![0f32; vocab];
    // Prefill 7 tokens in slot 2, then one token per step.
    dec.step(
        &[SeqWork {
            slot: 2,
            tokens: &seq[..7],
            start_pos: 0,
            want_logits: true,
        }],
        &mut out,
    )
    .unwrap();
    let d = max_rel_diff(&out, &full[6 * vocab..7 * vocab]);
    assert!(d < TOL, "prefill logits differ by {d}");
    for p in 7..seq.len() {
        dec.step(
            &[SeqWork {
                slot: 2,
                tokens: &seq[p..p + 1],
                start_pos: p,
                want_logits: true,
            }],
            &mut out,
        )
        .unwrap();
        let d = max_rel_diff(&out, &full[p * vocab..(p + 1) * vocab]);
        assert!(d < TOL, "position {p}: incremental logits differ by {d}");
    }
}

#[test]
fn batching_and_chunking_do_not_change_results_bitwise() {
    let m = model(WeightDtype::F16, false);
    let vocab = m.config().vocab_size;
    let a = tokens(30, 2);
    let b = tokens(12, 3);

    // Alone: a in one prefill, b in one prefill, each in a fresh decoder.
    let mut alone_a = vec![0f32; vocab];
    let mut alone_b = vec![0f32; vocab];
    m.clone()
        .decoder(1)
        .step(
            &[SeqWork {
                slot: 0,
                tokens: &a,
                start_pos: 0,
                want_logits: true,
            }],
            &mut alone_a,
        )
        .unwrap();
    m.clone()
        .decoder(1)
        .step(
            &[SeqWork {
                slot: 0,
                tokens: &b,
                start_pos: 0,
                want_logits: true,
            }],
            &mut alone_b,
        )
        .unwrap();

    // Together: a in chunks of 8 while b shares the steps.
    let mut dec = m.clone().decoder(4);
    let mut out = vec![0f32; 2 * vocab];
    dec.step(
        &[SeqWork {
            slot: 3,
            tokens: &b[..11],
            start_pos: 0,
            want_logits: false,
        }],
        &mut out,
    )
    .unwrap();
    let mut p = 0;
    while p + 8 < a.len() {
        dec.step(
            &[SeqWork {
                slot: 1,
                tokens: &a[p..p + 8],
                start_pos: p,
                want_logits: false,
            }],
            &mut out,
        )
        .unwrap();
        p += 8;
    }
    dec.step(
        &[
            SeqWork {
                slot: 1,
                tokens: &a[p..],
                start_pos: p,
                want_logits: true,
            },
            SeqWork {
                slot: 3,
                tokens: &b[11..],
                start_pos: 11,
                want_logits: true,
            },
        ],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        &out[..vocab],
        &alone_a[..],
        "sequence a changed by batching"
    );
    assert_eq!(
        &out[vocab..],
        &alone_b[..],
        "sequence b changed by batching"
    );
}

#[test]
fn kernels_and_precisions_agree() {
    let seq = tokens(20, 4);
    let reference = model(WeightDtype::F32, true).forward_full(&seq).unwrap();
    let simd = model(WeightDtype::F32, false).forward_full(&seq).unwrap();
    let d = max_rel_diff(&simd, &reference);
    assert!(d < TOL, "AVX-512 vs portable differ by {d}");
    // The fixture's weights are stored as f16, so f16 in memory is lossless.
    let f16 = model(WeightDtype::F16, false).forward_full(&seq).unwrap();
    let d = max_rel_diff(&f16, &reference);
    assert!(d < TOL, "f16 vs f32 weights differ by {d}");
    // bf16 rounds the weights (8-bit mantissa): a looser, stated tolerance.
    let bf16 = model(WeightDtype::Bf16, false).forward_full(&seq).unwrap();
    let d = max_rel_diff(&bf16, &reference);
    assert!(d < 5e-2, "bf16 vs f32 weights differ by {d}");
}

#[test]
fn invalid_steps_are_errors_not_panics() {
    let m = model(WeightDtype::F16, false);
    let vocab = m.config().vocab_size;
    let mut dec = m.clone().decoder(2);
    let mut out = vec![0f32; 2 * vocab];
    let t = [1u32, 2];
    let cases: Vec<(Vec<SeqWork>, &str)> = vec![
        (
            vec![SeqWork {
                slot: 2,
                tokens: &t,
                start_pos: 0,
                want_logits: true,
            }],
            "slot 2 out of range",
        ),
        (
            vec![SeqWork {
                slot: 0,
                tokens: &[],
                start_pos: 0,
                want_logits: true,
            }],
            "no tokens",
        ),
        (
            vec![SeqWork {
                slot: 0,
                tokens: &t,
                start_pos: 127,
                want_logits: true,
            }],
            "exceed the context",
        ),
        (
            vec![SeqWork {
                slot: 0,
                tokens: &[600],
                start_pos: 0,
                want_logits: true,
            }],
            "outside vocabulary",
        ),
        (
            vec![
                SeqWork {
                    slot: 1,
                    tokens: &t,
                    start_pos: 0,
                    want_logits: true,
                },
                SeqWork {
                    slot: 1,
                    tokens: &t,
                    start_pos: 0,
                    want_logits: true,
                },
            ],
            "used twice",
        ),
    ];
    for (batch, want) in cases {
        let e = dec.step(&batch, &mut out).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
    assert!(m.forward_full(&[]).is_err());
    let too_long = tokens(129, 0);
    assert!(
        m.forward_full(&too_long)
            .unwrap_err()
            .to_string()
            .contains("context")
    );
}
