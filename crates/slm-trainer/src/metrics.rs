//! `metrics.jsonl`: one JSON object per logged train step or evaluation, appended as the
//! run goes so a crash loses at most the line being written.

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
        loss: f64,
        lr: f64,
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
        loss: f64,
        perplexity: f64,
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
