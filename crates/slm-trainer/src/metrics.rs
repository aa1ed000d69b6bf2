//! `metrics.jsonl`: one JSON object per logged train step or evaluation, appended as the
//! run goes so a crash loses at most the line being written. JSON has no NaN or infinity:
//! a non-finite value (the gradient norm of a step skipped by f16 loss scaling, say) is
//! written as `null` and read back as NaN.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TrainError;

pub const METRICS_FILE: &str = "metrics.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricRecord {
    Train {
        step: u64,
        tokens: u64,
        #[serde(deserialize_with = "nan_if_null")]
        loss: f64,
        lr: f64,
        #[serde(deserialize_with = "nan_if_null")]
        grad_norm: f64,
        tokens_per_sec: f64,
        #[serde(default)]
        skipped: bool,
        #[serde(default = "one")]
        loss_scale: f64,
    },
    Eval {
        step: u64,
        tokens: u64,
        #[serde(deserialize_with = "nan_if_null")]
        loss: f64,
        #[serde(deserialize_with = "nan_if_null")]
        perplexity: f64,
        #[serde(deserialize_with = "nan_if_null")]
        bits_per_byte: f64,
        eval_tokens: u64,
        eval_bytes: u64,
        #[serde(default)]
        samples: Vec<String>,
    },
}

fn one() -> f64 {
    1.0
}

/// Reads a number that serde_json wrote as `null` because it was not finite.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `run_dir/metrics.jsonl` for appending. When resuming at `resume_step`, lines
    /// past that step (written after the checkpoint by the interrupted run) are dropped so
    /// the file holds one continuous curve.
    pub fn open(run_dir: &Path, resume_step: Option<u64>) -> Result<Self, TrainError> {
        let path = run_dir.join(METRICS_FILE);
        if let Some(step) = resume_step
            && path.exists()
        {
            let kept: Vec<MetricRecord> = read_metrics(&path)?
                .into_iter()
                .filter(|r| match r {
                    MetricRecord::Train { step: s, .. } | MetricRecord::Eval { step: s, .. } => {
                        *s <= step
                    }
                })
                .collect();
            let mut text = String::new();
            for r in &kept {
                text.push_str(&serde_json::to_string(r).expect("metric serializes"));
                text.push('\n');
            }
            std::fs::write(&path, text).map_err(|e| TrainError::io(&path, e))?;
        } else if resume_step.is_none() && path.exists() {
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path, file })
    }

    pub fn append(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).expect("metric serializes");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| TrainError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of a metrics file.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| TrainError::Data(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step skipped by f16 loss scaling has an infinite gradient norm and may have a NaN
    /// loss; the log must still read back (it feeds the plot and `--resume`).
    #[test]
    fn non_finite_values_round_trip_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::open(dir.path(), None).unwrap();
        let train = |step, loss, grad_norm| MetricRecord::Train {
            step,
            tokens: step * 10,
            loss,
            lr: 1e-3,
            grad_norm,
            tokens_per_sec: 5.0,
            skipped: !f64::is_finite(grad_norm),
            loss_scale: 65_536.0,
        };
        log.append(&train(1, f64::NAN, f64::INFINITY)).unwrap();
        log.append(&train(2, 2.5, 0.75)).unwrap();
        let read = read_metrics(log.path()).unwrap();
        assert_eq!(read.len(), 2);
        let MetricRecord::Train {
            loss, grad_norm, ..
        } = read[0]
        else {
            panic!("train record expected: {:?}", read[0])
        };
        assert!(loss.is_nan() && grad_norm.is_nan());
        assert_eq!(read[1], train(2, 2.5, 0.75));
        // A missing field is still an error, not a silent NaN.
        std::fs::write(log.path(), "{\"kind\":\"train\",\"step\":1}\n").unwrap();
        assert!(read_metrics(log.path()).is_err());
    }
}
