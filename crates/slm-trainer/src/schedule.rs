//! Learning-rate schedule: linear warmup, then cosine decay to a floor.

use crate::OptimConfig;

/// Learning rate for optimizer step `step` (0-based). Warmup ramps linearly from
/// `lr / warmup_steps` to `lr` over the first `warmup_steps` steps; afterwards the rate
/// follows half a cosine from `lr` down to `min_lr` at `max_steps`, and stays there.
pub fn lr_at(cfg: &OptimConfig, step: u64) -> f64 {
    if step < cfg.warmup_steps {
        return cfg.lr * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    let decay_steps = cfg.max_steps.saturating_sub(cfg.warmup_steps).max(1);
    let progress = ((step - cfg.warmup_steps) as f64 / decay_steps as f64).min(1.0);
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    cfg.min_lr + (cfg.lr - cfg.min_lr) * cosine
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(warmup: u64, max: u64) -> OptimConfig {
        OptimConfig {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: warmup,
            max_steps: max,
            ..OptimConfig::default()
        }
    }

    #[test]
    fn warmup_then_cosine_to_floor() {
        let c = cfg(10, 110);
        assert!((lr_at(&c, 0) - 1e-4).abs() < 1e-12);
        assert!((lr_at(&c, 9) - 1e-3).abs() < 1e-12);
        assert!((lr_at(&c, 10) - 1e-3).abs() < 1e-12);
        // Half-way through the decay the cosine is at its midpoint.
        assert!((lr_at(&c, 60) - 5.5e-4).abs() < 1e-12);
        assert!((lr_at(&c, 110) - 1e-4).abs() < 1e-12);
        assert!((lr_at(&c, 10_000) - 1e-4).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn lr_stays_within_bounds_and_decays_monotonically(
            warmup in 0u64..50, extra in 1u64..500, step in 0u64..1000
        ) {
            let c = cfg(warmup, warmup + extra);
            let lr = lr_at(&c, step);
            prop_assert!(lr > 0.0 && lr <= c.lr + 1e-15);
            if step >= warmup {
                prop_assert!(lr >= c.min_lr - 1e-15);
                prop_assert!(lr_at(&c, step + 1) <= lr + 1e-15);
            }
        }
    }
}
