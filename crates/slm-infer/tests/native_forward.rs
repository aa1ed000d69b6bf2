//! The native model: incremental KV-cache decoding equals recomputing the
//! full sequence, batching and chunking do not change a row's result, and
//! the kernels and precisions agree within stated tolerances.

mod common;

use std::sync::Arc;

use common::*;
use slm_infer::{DecodeModel, Isa, NativeModel, NativeOptions, SeqWork, WeightDtype};

fn model(dtype: WeightDtype, isa: Isa) -> Arc<NativeModel> {
    Arc::new(
        NativeModel::load_with(
            tiny_dir(),
            &NativeOptions {
                weight_dtype: dtype,
                threads: 2,
                isa: Some(isa),
                ..Default::default()
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
    let m = model(WeightDtype::F32, Isa::detect());
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
    // Within each ISA and precision (f16's widening and q8's in-register
    // dequantisation included), batching is bit-exact.
    for isa in Isa::available() {
        for dtype in [WeightDtype::F16, WeightDtype::Q8] {
            check_batching(model(dtype, isa));
        }
    }
}

fn check_batching(m: Arc<NativeModel>) {
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
    let reference = model(WeightDtype::F32, Isa::Portable)
        .forward_full(&seq)
        .unwrap();
    // Every ISA this machine has agrees with the portable path: same maths,
    // other lane counts and FMA rounding.
    for isa in Isa::available() {
        let simd = model(WeightDtype::F32, isa).forward_full(&seq).unwrap();
        let d = max_rel_diff(&simd, &reference);
        assert!(d < TOL, "{isa} vs portable differ by {d}");
    }
    // The fixture's weights are stored as f16, so f16 in memory is lossless.
    let f16 = model(WeightDtype::F16, Isa::detect())
        .forward_full(&seq)
        .unwrap();
    let d = max_rel_diff(&f16, &reference);
    assert!(d < TOL, "f16 vs f32 weights differ by {d}");
    // bf16 rounds the weights (8-bit mantissa): a looser, stated tolerance.
    let bf16 = model(WeightDtype::Bf16, Isa::detect())
        .forward_full(&seq)
        .unwrap();
    let d = max_rel_diff(&bf16, &reference);
    assert!(d < 5e-2, "bf16 vs f32 weights differ by {d}");
    // q8 rounds each weight to 1/254 of its block's range: looser still.
    let q8 = model(WeightDtype::Q8, Isa::detect())
        .forward_full(&seq)
        .unwrap();
    let d = max_rel_diff(&q8, &reference);
    assert!(d < 5e-2, "q8 vs f32 weights differ by {d}");
}

#[test]
fn invalid_steps_are_errors_not_panics() {
    let m = model(WeightDtype::F16, Isa::detect());
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

/// Full and cut models over the same directory, for each ISA.
fn full_and_cut(
    dir: &std::path::Path,
    dtype: WeightDtype,
    isa: Isa,
    rows: usize,
) -> (Arc<NativeModel>, Arc<NativeModel>) {
    let load = |vocab_rows| {
        Arc::new(
            NativeModel::load_with(
                dir,
                &NativeOptions {
                    weight_dtype: dtype,
                    threads: 2,
                    isa: Some(isa),
                    vocab_rows,
                },
            )
            .unwrap(),
        )
    };
    (load(None), load(Some(rows)))
}

/// Checks that `cut` (the first `rows` vocabulary rows of `full`) gives the
/// full model's logits bit for bit, alone and batched, and rejects tokens
/// past its rows.
fn check_cut(full: &Arc<NativeModel>, cut: &Arc<NativeModel>, rows: usize) {
    let vocab = full.config().vocab_size;
    assert_eq!(cut.vocab_rows(), rows);
    assert_eq!(full.vocab_rows(), vocab);
    assert!(cut.weights_bytes() < full.weights_bytes());
    let seq: Vec<u32> = tokens(25, 6).into_iter().map(|t| t % rows as u32).collect();
    let a = full.forward_full(&seq).unwrap();
    let b = cut.forward_full(&seq).unwrap();
    assert_eq!(b.len(), seq.len() * rows);
    for p in 0..seq.len() {
        assert_eq!(
            &b[p * rows..(p + 1) * rows],
            &a[p * vocab..p * vocab + rows],
            "position {p}"
        );
    }

    // Decoder: one sequence alone, then batched with another, prefilled in chunks.
    let other: Vec<u32> = tokens(9, 7).into_iter().map(|t| t % rows as u32).collect();
    let mut dec = cut.clone().decoder(2);
    assert_eq!(dec.vocab_size(), rows);
    let mut alone = vec![0f32; rows];
    dec.step(
        &[SeqWork {
            slot: 0,
            tokens: &seq,
            start_pos: 0,
            want_logits: true,
        }],
        &mut alone,
    )
    .unwrap();
    let last = (seq.len() - 1) * vocab;
    assert_eq!(&alone[..], &a[last..last + rows], "decoder vs forward_full");
    let mut dec = cut.clone().decoder(2);
    let mut out = vec![0f32; 2 * rows];
    dec.step(
        &[SeqWork {
            slot: 1,
            tokens: &seq[..10],
            start_pos: 0,
            want_logits: false,
        }],
        &mut out,
    )
    .unwrap();
    dec.step(
        &[
            SeqWork {
                slot: 0,
                tokens: &other,
                start_pos: 0,
                want_logits: true,
            },
            SeqWork {
                slot: 1,
                tokens: &seq[10..],
                start_pos: 10,
                want_logits: true,
            },
        ],
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[rows..], &alone[..], "batched vs alone");

    // A token the cut model holds no row for is an error, not a panic.
    let e = cut.forward_full(&[1, rows as u32]).unwrap_err().to_string();
    assert!(
        e.contains(&format!("token {rows} outside vocabulary of {rows}")),
        "{e}"
    );
}

#[test]
fn vocab_rows_cut_keeps_logits_bit_identical() {
    // 301 rows leaves a partial 4-row tile at the end of the head.
    for rows in [301, 300] {
        for dtype in [WeightDtype::F32, WeightDtype::F16] {
            for isa in Isa::available() {
                let (full, cut) = full_and_cut(&tiny_dir(), dtype, isa, rows);
                check_cut(&full, &cut, rows);
            }
        }
    }
}

#[test]
fn vocab_rows_cut_applies_to_an_untied_head() {
    let cfg = slm_infer::ModelConfig {
        dim: 32,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 1,
        hidden_dim: 48,
        vocab_size: 700,
        max_seq_len: 64,
        tied: false,
        ..Default::default()
    };
    let tmp = random_model_dir(&cfg, slm_infer::FileDtype::F16, 3);
    let (full, cut) = full_and_cut(tmp.path(), WeightDtype::F16, Isa::detect(), 513);
    check_cut(&full, &cut, 513);
}

#[test]
fn vocab_rows_out_of_range_is_an_error() {
    for rows in [0, 513] {
        let e = NativeModel::load_with(
            tiny_dir(),
            &NativeOptions {
                vocab_rows: Some(rows),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("vocab_rows") && e.contains("512"), "{e}");
    }
}
