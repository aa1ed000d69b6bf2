//! Mixed precision: f32 master weights, compute in a reduced dtype, dynamic loss scaling.
//!
//! Burn has no automatic mixed precision, so the trainer casts the f32 parameters to the
//! compute dtype inside the autodiff graph before each forward. Gradients flow back through
//! the casts and arrive in f32 on the master parameters, where AdamW updates them.

use serde::{Deserialize, Serialize};
use slm_model::Transformer;
use slm_model::burn::module::{Module, ModuleMapper, Param};
use slm_model::burn::prelude::*;
use slm_model::burn::tensor::DType;

/// Compute precision of the forward/backward pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    F16,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            "f16" => Ok(Self::F16),
            other => Err(format!(
                "unknown precision `{other}` (use f32, bf16 or f16)"
            )),
        }
    }
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::Bf16 => DType::BF16,
            Self::F16 => DType::F16,
        }
    }

    /// f16's narrow exponent range underflows small gradients; bf16 shares f32's range.
    pub fn needs_loss_scaling(self) -> bool {
        self == Self::F16
    }

    /// Whether `device` can compute in this precision (storage, conversion and arithmetic).
    pub fn supported_on(self, device: &Device) -> bool {
        self == Self::F32 || device.supports_dtype(self.dtype())
    }
}

struct CastParams(DType);

impl ModuleMapper for CastParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| t.cast(dtype))
    }
}

/// The model with every parameter cast to `precision`, still connected to the f32 master
/// parameters in the autodiff graph (so gradients are taken w.r.t. `master`).
pub fn compute_copy(master: &Transformer, precision: Precision) -> Transformer {
    if precision == Precision::F32 {
        return master.clone();
    }
    master.clone().map(&mut CastParams(precision.dtype()))
}

/// Dynamic loss scale for f16: halve on overflow (the step is skipped), double after
/// `growth_interval` consecutive good steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScaler {
    pub scale: f64,
    pub good_steps: u64,
    pub growth_interval: u64,
}

impl LossScaler {
    pub fn new(enabled: bool) -> Self {
        Self {
            scale: if enabled { 65_536.0 } else { 1.0 },
            good_steps: 0,
            growth_interval: if enabled { 1000 } else { u64::MAX },
        }
    }

    /// Records whether the last step's gradients were finite; returns whether to apply it.
    pub fn update(&mut self, grads_finite: bool) -> bool {
        if grads_finite {
            self.good_steps += 1;
            if self.good_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
            true
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_scale_halves_on_overflow_and_grows_after_good_steps() {
        let mut s = LossScaler::new(true);
        s.growth_interval = 3;
        assert!(!s.update(false));
        assert_eq!(s.scale, 32_768.0);
        assert!(s.update(true) && s.update(true));
        assert_eq!(s.scale, 32_768.0);
        assert!(s.update(true));
        assert_eq!(s.scale, 65_536.0);
        let mut off = LossScaler::new(false);
        for _ in 0..10 {
            off.update(true);
        }
        assert_eq!(off.scale, 1.0);
    }

    #[test]
    fn precision_parses_and_names_bad_values() {
        assert_eq!("BF16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert!("f8".parse::<Precision>().unwrap_err().contains("f8"));
    }
}
