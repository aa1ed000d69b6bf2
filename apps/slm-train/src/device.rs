//! `--device` → Burn `Device`. The only place a backend is chosen.

use anyhow::bail;
use slm_model::burn::prelude::Device;

/// Backends selectable from the command line. `ndarray` is the default for now: it measured
/// faster than `flex` for a 15M training step on our 2-core CPU (see bench/train.json),
/// although upstream deprecates it in favour of `flex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// Burn's pure-Rust CPU backend (SIMD + rayon).
    Flex,
    /// The ndarray CPU backend (deprecated upstream, but faster here for training).
    Ndarray,
    /// GPU through wgpu (Vulkan/Metal/DX12); needs the `wgpu` cargo feature.
    Wgpu,
    /// NVIDIA GPU; needs the `cuda` cargo feature.
    Cuda,
}

impl DeviceKind {
    pub fn device(self) -> anyhow::Result<Device> {
        Ok(match self {
            Self::Flex => Device::flex(),
            #[allow(deprecated)] // measured faster for training, see bench/train.json
            Self::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu(slm_model::burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(not(feature = "wgpu"))]
            Self::Wgpu => bail!("this build has no wgpu backend: rebuild with `--features wgpu`"),
            #[cfg(feature = "cuda")]
            Self::Cuda => Device::cuda(0),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda => bail!("this build has no CUDA backend: rebuild with `--features cuda`"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }
}
