//! `--device` → Burn `Device`. The only place a backend is chosen.

use anyhow::bail;
use slm_model::burn::prelude::Device;

/// Backends selectable from the command line. `flex` is the default: in release builds it
/// ran a 15M training step 1.25–1.3× faster than `ndarray` on our 2-core CPU (see
/// bench/results/train.json); `ndarray` is kept for comparison (upstream deprecates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// Burn's pure-Rust CPU backend (SIMD + rayon).
    Flex,
    /// The ndarray CPU backend (deprecated upstream; slower than flex here).
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
            #[allow(deprecated)] // kept to compare backends, see bench/results/train.json
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
