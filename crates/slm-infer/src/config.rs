//! `config.json` of a model directory: the shared `slm_model::ModelConfig` (the
//! model-directory contract), read here with errors in this crate's terms.

use std::path::Path;

pub use slm_model::ModelConfig;

use crate::error::InferError;

/// Reads and validates `config.json`.
pub(crate) fn read_config(path: &Path) -> Result<ModelConfig, InferError> {
    let text = std::fs::read_to_string(path).map_err(|source| InferError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ModelConfig::from_json(&text).map_err(|e| InferError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
