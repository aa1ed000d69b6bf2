//! Training checkpoints: `RUN/checkpoints/step-XXXXXXXX/` holding the model (burnpack, which
//! keeps parameter ids so the optimizer state lines up), the optimizer state, and
//! `trainer_state.json`. Written to `step-XXXXXXXX.tmp/` and renamed, so an interrupted
//! write never looks like a checkpoint; file hashes in the state catch later corruption.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slm_model::burn::module::Module;
use slm_model::burn::optim::ModuleOptimizer;
use slm_model::burn::prelude::*;
use slm_model::{ModelConfig, Transformer};

use crate::{LossScaler, TrainError};

pub const CHECKPOINTS_DIR: &str = "checkpoints";
const MODEL_FILE: &str = "model.bpk";
const OPTIM_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "trainer_state.json";
const FORMAT_VERSION: u32 = 1;

/// Everything besides tensors needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub format_version: u32,
    /// Optimizer steps completed.
    pub step: u64,
    pub tokens_seen: u64,
    /// Learning rate of the last step taken (the schedule is a function of `step`).
    pub lr: f64,
    pub seed: u64,
    /// Training window sampler position.
    pub sampler_cursor: serde_json::Value,
    pub loss_scaler: LossScaler,
    pub model_config: ModelConfig,
    /// `TrainConfig::recipe_hash` of the run that wrote it.
    pub recipe_hash: String,
    /// sha256 of model.bpk and optimizer.bpk.
    #[serde(default)]
    pub file_sha256: std::collections::BTreeMap<String, String>,
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    pub dir: PathBuf,
    pub state: TrainerState,
}

fn sha256_file(path: &Path) -> Result<String, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Complete checkpoints under `run_dir/checkpoints`, oldest first.
pub fn list_checkpoints(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>, TrainError> {
    let dir = run_dir.join(CHECKPOINTS_DIR);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| TrainError::io(&dir, e))? {
        let entry = entry.map_err(|e| TrainError::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `.tmp` directories are interrupted writes: never candidates.
        if let Some(step) = name
            .strip_prefix("step-")
            .filter(|s| !s.contains('.'))
            .and_then(|s| s.parse::<u64>().ok())
            && entry.path().is_dir()
        {
            out.push((step, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest checkpoint that passes [`Checkpoint::open`]'s checks, and why each newer one
/// failed them: a crash or a damaged disk can leave the newest unusable, and the previous
/// good one is the way on.
pub fn latest_good_checkpoint(
    run_dir: &Path,
) -> Result<(Option<PathBuf>, Vec<TrainError>), TrainError> {
    let mut bad = Vec::new();
    for (_, dir) in list_checkpoints(run_dir)?.into_iter().rev() {
        match Checkpoint::open(&dir) {
            Ok(_) => return Ok((Some(dir), bad)),
            Err(e) => bad.push(e),
        }
    }
    Ok((None, bad))
}

/// Flushes a file or directory to disk, so a rename never publishes data still in flight.
fn sync(path: &Path) -> Result<(), TrainError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::io(path, e))
}

/// The newest complete checkpoint of a run, if any.
pub fn latest_checkpoint(run_dir: &Path) -> Result<Option<PathBuf>, TrainError> {
    Ok(list_checkpoints(run_dir)?.pop().map(|(_, p)| p))
}

/// Writes a checkpoint atomically and prunes all but the newest `keep`.
pub fn save(
    run_dir: &Path,
    model: &Transformer,
    optim: &ModuleOptimizer,
    state: &TrainerState,
    keep: usize,
) -> Result<PathBuf, TrainError> {
    let root = run_dir.join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(&root).map_err(|e| TrainError::io(&root, e))?;
    let name = step_dir_name(state.step);
    let tmp = root.join(format!("{name}.tmp"));
    let fin = root.join(&name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;

    let model_path = tmp.join(MODEL_FILE);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::checkpoint(&model_path, e.to_string()))?;
    let optim_path = tmp.join(OPTIM_FILE);
    optim
        .save(&optim_path)
        .map_err(|e| TrainError::checkpoint(&optim_path, e.to_string()))?;
    let mut state = state.clone();
    state.file_sha256 = [
        (MODEL_FILE.to_string(), sha256_file(&model_path)?),
        (OPTIM_FILE.to_string(), sha256_file(&optim_path)?),
    ]
    .into();
    let state_path = tmp.join(STATE_FILE);
    let json = serde_json::to_string_pretty(&state).expect("trainer state serializes");
    std::fs::write(&state_path, json).map_err(|e| TrainError::io(&state_path, e))?;

    for path in [&model_path, &optim_path, &state_path, &tmp] {
        sync(path)?;
    }
    if fin.exists() {
        std::fs::remove_dir_all(&fin).map_err(|e| TrainError::io(&fin, e))?;
    }
    std::fs::rename(&tmp, &fin).map_err(|e| TrainError::io(&fin, e))?;
    sync(&root)?;

    let all = list_checkpoints(run_dir)?;
    if all.len() > keep {
        for (_, old) in &all[..all.len() - keep] {
            std::fs::remove_dir_all(old).map_err(|e| TrainError::io(old, e))?;
        }
    }
    Ok(fin)
}

impl Checkpoint {
    /// Reads and verifies `dir`'s trainer state and file hashes.
    pub fn open(dir: &Path) -> Result<Self, TrainError> {
        let state_path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&state_path)
            .map_err(|e| TrainError::checkpoint(dir, format!("cannot read {STATE_FILE}: {e}")))?;
        let state: TrainerState = serde_json::from_str(&text)
            .map_err(|e| TrainError::checkpoint(&state_path, format!("corrupt: {e}")))?;
        if state.format_version != FORMAT_VERSION {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "format version {} (this build reads {FORMAT_VERSION})",
                    state.format_version
                ),
            ));
        }
        for file in [MODEL_FILE, OPTIM_FILE] {
            let path = dir.join(file);
            let expected = state.file_sha256.get(file).ok_or_else(|| {
                TrainError::checkpoint(dir, format!("{STATE_FILE} has no hash for {file}"))
            })?;
            let actual = sha256_file(&path)?;
            if &actual != expected {
                return Err(TrainError::checkpoint(
                    &path,
                    "content hash differs from the one recorded at save time (corrupt or modified file)",
                ));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            state,
        })
    }

    /// Refuses a checkpoint written for a different model shape.
    pub fn check_model(&self, config: &ModelConfig) -> Result<(), TrainError> {
        if &self.state.model_config != config {
            return Err(TrainError::checkpoint(
                &self.dir,
                format!(
                    "model config differs from this run's: checkpoint has {}, run has {}",
                    serde_json::to_string(&self.state.model_config).unwrap_or_default(),
                    serde_json::to_string(config).unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// The model weights on `device` (with the parameter ids they were saved with).
    pub fn load_model(&self, device: &Device) -> Result<Transformer, TrainError> {
        let path = self.dir.join(MODEL_FILE);
        self.state
            .model_config
            .init(device)?
            .try_load_file(&path)
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))
    }

    /// Loads the optimizer state into `optim` (built for the loaded model).
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer, TrainError> {
        let path = self.dir.join(OPTIM_FILE);
        optim
            .load(&path)
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))
    }
}

pub(crate) fn new_state(
    model_config: ModelConfig,
    seed: u64,
    recipe_hash: String,
    loss_scaler: LossScaler,
    sampler_cursor: serde_json::Value,
) -> TrainerState {
    TrainerState {
        format_version: FORMAT_VERSION,
        step: 0,
        tokens_seen: 0,
        lr: 0.0,
        seed,
        sampler_cursor,
        loss_scaler,
        model_config,
        recipe_hash,
        file_sha256: Default::default(),
    }
}
