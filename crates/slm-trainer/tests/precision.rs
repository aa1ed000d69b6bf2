//! Reduced-precision training: where the backend supports the dtype, a bf16/f16 run must
//! track the f32 loss curve; where it does not, the trainer must refuse it by name.

mod common;

use common::{pattern_tokens, tiny_config};
use slm_model::burn::prelude::*;
use slm_trainer::{Precision, TokenWindows, Trainer};

/// `(updates applied before the step, loss)` for 8 steps. f16 may skip early steps while its
/// loss scale calibrates, so its losses are paired by how many updates the weights have seen.
fn losses(precision: Precision, device: &Device) -> Result<Vec<(usize, f64)>, String> {
    let mut cfg = tiny_config(0.0);
    cfg.precision = precision;
    let w = TokenWindows::new(pattern_tokens(5000, 3), cfg.batch.seq_len + 1, cfg.seed).unwrap();
    let mut t = Trainer::new(cfg, device.clone(), Box::new(w)).map_err(|e| e.to_string())?;
    let mut applied = 0;
    let mut out = Vec::new();
    for _ in 0..8 {
        let o = t.step().unwrap();
        out.push((applied, o.loss));
        applied += usize::from(!o.skipped);
    }
    Ok(out)
}

#[test]
fn reduced_precision_tracks_f32_or_is_refused() {
    let device = Device::flex().autodiff();
    let reference = losses(Precision::F32, &device).unwrap();
    for p in [Precision::Bf16, Precision::F16] {
        match losses(p, &device) {
            Ok(curve) => {
                // bf16 keeps ~3 significant digits; 5% of the loss over 8 steps is generous
                // enough for rounding and tight enough to catch a broken cast or scale.
                for &(updates, b) in &curve {
                    let a = reference[updates].1;
                    assert!(
                        (a - b).abs() < 0.05 * a,
                        "{p:?} after {updates} updates: {a} vs {b}"
                    );
                }
                assert!(
                    curve.last().unwrap().0 >= 4,
                    "{p:?} skipped most steps: {curve:?}"
                );
                assert!(p.supported_on(&device));
            }
            Err(e) => {
                assert!(!p.supported_on(&device));
                assert!(e.contains("not supported"), "{e}");
            }
        }
    }
}
