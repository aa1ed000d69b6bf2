//! The CPU a program (a benchmark, the load generator and, in `scripts/soak.sh`, the
//! server beside it) ran on: model name, core count and the SIMD extensions the inference
//! kernels pick from, read from `/proc/cpuinfo`, for the JSON of every measurement.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Isa {
    pub avx512f: bool,
    /// Byte and word operations, which the int8 kernels need on AVX-512.
    pub avx512bw: bool,
    /// `vpdpbusd`: int8 dot products in one instruction.
    pub avx512_vnni: bool,
    pub avx2: bool,
    pub neon: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CpuInfo {
    /// `model name` (x86) or `Hardware`/`CPU part` where that is all there is.
    pub model: Option<String>,
    /// `processor` entries in /proc/cpuinfo (logical CPUs of the machine).
    pub logical_cores: usize,
    /// CPUs this process may use (affinity, cgroup quota).
    pub available_parallelism: usize,
    pub isa: Isa,
}

/// Parses a `/proc/cpuinfo` text; `available` is the process's usable CPUs.
pub fn parse_cpuinfo(text: &str, available: usize) -> CpuInfo {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let logical_cores = text
        .lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim() == "processor")
        })
        .count();
    // x86 lists `flags`, arm64 `Features` (where NEON is called `asimd`).
    let flags = field("flags")
        .or_else(|| field("Features"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    CpuInfo {
        model: field("model name")
            .or_else(|| field("Hardware"))
            .or_else(|| field("CPU part").map(|p| format!("CPU part {p}"))),
        logical_cores,
        available_parallelism: available,
        isa: Isa {
            avx512f: has("avx512f"),
            avx512bw: has("avx512bw"),
            avx512_vnni: has("avx512_vnni"),
            avx2: has("avx2"),
            neon: has("asimd") || has("neon"),
        },
    }
}

/// This machine's CPU (empty fields where `/proc/cpuinfo` is unavailable).
pub fn detect() -> CpuInfo {
    let available = std::thread::available_parallelism().map_or(0, |n| n.get());
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    parse_cpuinfo(&text, available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_flags_and_cores() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512bw\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512bw\n";
        let c = parse_cpuinfo(text, 2);
        assert_eq!(c.model.as_deref(), Some("AMD EPYC"));
        assert_eq!(c.logical_cores, 2);
        assert_eq!(c.available_parallelism, 2);
        assert_eq!(
            c.isa,
            Isa {
                avx512f: true,
                avx512bw: true,
                avx512_vnni: false,
                avx2: true,
                neon: false
            }
        );
    }

    #[test]
    fn avx512_subsets_are_not_avx512f() {
        let c = parse_cpuinfo("processor : 0\nflags : avx2 avx512_vnni\n", 1);
        assert!(!c.isa.avx512f && c.isa.avx2 && c.isa.avx512_vnni);
    }

    #[test]
    fn arm64_asimd_is_neon() {
        let text = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes\nCPU part\t: 0xd0c\n";
        let c = parse_cpuinfo(text, 1);
        assert!(c.isa.neon && !c.isa.avx2);
        assert_eq!(c.model.as_deref(), Some("CPU part 0xd0c"));
        assert_eq!(parse_cpuinfo("", 4).logical_cores, 0);
    }
}
