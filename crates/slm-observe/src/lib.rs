//! What slm's programs report about themselves and the machine they run on, in one place
//! so the server, the trainer, the load generator and the benchmarks agree: how logs are
//! written ([`init_logging`]), a process's resident memory ([`ProcessMemory`]), the CPU
//! ([`cpu`]) and latency percentiles ([`percentile`]). No engine, no model: the load
//! generator depends on this and nothing else of the workspace.

pub mod cpu;

/// Logs on stderr: colour only on a terminal (and not with `NO_COLOR`), so log files hold
/// plain text; `SLM_LOG_FORMAT=json` writes one JSON object per line instead. `RUST_LOG`
/// filters (default `default_filter`).
pub fn init_logging(default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SLM_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        builder.with_ansi(colour).init();
    }
}

/// Nearest-rank percentile (`p` in [0, 100]) of unsorted samples, ignoring non-finite
/// ones; `None` when none are left.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// Current and peak resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// `VmRSS`, in bytes.
    pub rss_bytes: u64,
    /// `VmHWM` (the peak), in bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessMemory {
    /// The memory of process `pid`, or of this process for `None`; `None` where `/proc`
    /// is unavailable (non-Linux) or the process is gone.
    pub fn of(pid: Option<u32>) -> Option<ProcessMemory> {
        let path = match pid {
            Some(pid) => format!("/proc/{pid}/status"),
            None => "/proc/self/status".to_string(),
        };
        ProcessMemory::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Parses `VmRSS` and `VmHWM` (in kB) from a `/proc/<pid>/status` text.
    pub fn parse(status: &str) -> Option<ProcessMemory> {
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        };
        Some(ProcessMemory {
            rss_bytes: field("VmRSS:")?,
            peak_rss_bytes: field("VmHWM:")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[f64::NAN], 50.0), None);
        assert_eq!(percentile(&[7.0, f64::INFINITY], 99.0), Some(7.0));
    }

    #[test]
    fn proc_status_fields() {
        let text = "Name:\tslm\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(
            ProcessMemory::parse(text),
            Some(ProcessMemory {
                rss_bytes: 102400 * 1024,
                peak_rss_bytes: 204800 * 1024,
            })
        );
        assert_eq!(ProcessMemory::parse("Name: x\n"), None);
        assert_eq!(
            ProcessMemory::parse("VmRSS:\tlots kB\nVmHWM:\t1 kB\n"),
            None
        );
        let me = ProcessMemory::of(None).expect("/proc on Linux");
        assert!(me.peak_rss_bytes >= me.rss_bytes && me.rss_bytes > 0);
    }
}
