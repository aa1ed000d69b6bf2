//! Which instruction set the kernels run on: detected once at load,
//! overridable by `EngineOptions::isa` / `NativeOptions::isa` or the
//! `SLM_ISA` environment variable so every path can be run on one machine.

use serde::{Deserialize, Serialize};

use crate::error::InferError;

/// An instruction set the kernels are compiled for (see [`super`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
    /// x86-64 AVX-512F: 16 f32 lanes, 32 vector registers.
    Avx512,
    /// x86-64 AVX2 + FMA + F16C (x86-64-v3): 8 f32 lanes.
    Avx2,
    /// aarch64 Advanced SIMD: 2 × 4 f32 lanes.
    Neon,
    /// wasm32 SIMD128 (chosen at compile time: wasm cannot detect at run time).
    Simd128,
    /// Plain Rust the compiler vectorises for the build's baseline; runs anywhere.
    Portable,
}

/// Environment variable naming the ISA to use when the options name none.
pub const ISA_ENV: &str = "SLM_ISA";

impl Isa {
    /// Every ISA, fastest first.
    pub const ALL: [Isa; 5] = [
        Isa::Avx512,
        Isa::Avx2,
        Isa::Neon,
        Isa::Simd128,
        Isa::Portable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
            Isa::Simd128 => "simd128",
            Isa::Portable => "portable",
        }
    }

    /// Whether this build and this CPU can run the ISA's kernels.
    pub fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f") && Isa::Avx2.supported(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every ISA this machine can run, fastest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.supported()).collect()
    }

    /// The fastest ISA this machine supports.
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|i| i.supported())
            .unwrap_or(Isa::Portable)
    }

    /// `requested` if given, else `SLM_ISA` if set, else [`Isa::detect`].
    /// Asking for an ISA this machine cannot run is an error, not a silent
    /// fallback: a benchmark or test would otherwise measure the wrong path.
    pub fn resolve(requested: Option<Isa>) -> Result<Isa, InferError> {
        let isa = match requested {
            Some(isa) => isa,
            None => match std::env::var(ISA_ENV) {
                Ok(s) if !s.trim().is_empty() => s
                    .parse()
                    .map_err(|e: String| InferError::InvalidRequest(format!("{ISA_ENV}: {e}")))?,
                _ => return Ok(Isa::detect()),
            },
        };
        if isa.supported() {
            Ok(isa)
        } else {
            let have: Vec<&str> = Isa::available().into_iter().map(Isa::name).collect();
            Err(InferError::InvalidRequest(format!(
                "ISA {} is not supported on this machine (available: {})",
                isa.name(),
                have.join(", ")
            )))
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isa {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| format!("unknown ISA {s:?} (avx512, avx2, neon, simd128, portable)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_portable_is_always_there() {
        for isa in Isa::ALL {
            assert_eq!(isa.name().parse::<Isa>().unwrap(), isa);
            assert_eq!(
                serde_json::to_string(&isa).unwrap(),
                format!("\"{}\"", isa.name())
            );
        }
        assert!("sse9".parse::<Isa>().is_err());
        assert!(Isa::available().contains(&Isa::Portable));
        assert_eq!(Isa::available()[0], Isa::detect());
        assert_eq!(Isa::resolve(Some(Isa::Portable)).unwrap(), Isa::Portable);
    }

    #[test]
    fn asking_for_a_missing_isa_is_an_error() {
        // Never more than one architecture's SIMD ISAs exist in one build.
        let missing = if cfg!(target_arch = "x86_64") {
            Isa::Neon
        } else {
            Isa::Avx2
        };
        let e = Isa::resolve(Some(missing)).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
    }

    /// Every aarch64 CPU has NEON, so the cross-ISA run (scripts/cross-isa.sh)
    /// really exercises the NEON kernels against the portable ones.
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn aarch64_runs_neon() {
        assert_eq!(Isa::detect(), Isa::Neon);
        assert_eq!(Isa::available(), vec![Isa::Neon, Isa::Portable]);
    }
}
