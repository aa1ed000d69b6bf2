//! Reading a model directory (`config.json`, `tokenizer.json`, `model.safetensors`'s size,
//! `generation.json`) for the engine, with errors in this crate's terms; the weights
//! themselves are read by the model that runs them (`NativeModel`, `BurnDecoder`). The
//! directory's layout is `slm_model`'s contract (docs/architecture.md).

use std::path::Path;

use slm_model::generation::{GenerationDefaults, read_generation_defaults};
use slm_model::{CONFIG_FILE, ModelError, WEIGHTS_FILE};
use slm_tokenizer::Tokenizer;

use crate::config::{ModelConfig, read_config};
use crate::engine::{Engine, EngineOptions, ModelInfo};
use crate::error::InferError;
use crate::kernels::matrix::WeightDtype;
use crate::model::DecodeModel;

/// The tokenizer's file in a model directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Everything of a model directory but the weights: what [`Engine::load`]
/// and [`Engine::load_burn`] share.
pub(crate) struct ModelDirParts {
    pub(crate) tokenizer: Tokenizer,
    dir_name: String,
    pub(crate) cfg: ModelConfig,
    weights_bytes: u64,
    generation: GenerationDefaults,
}

impl ModelDirParts {
    pub(crate) fn read(dir: &Path, opts: &EngineOptions) -> Result<ModelDirParts, InferError> {
        opts.validate()?;
        let cfg = read_config(&dir.join(CONFIG_FILE))?;
        let tok_path = dir.join(TOKENIZER_FILE);
        let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| InferError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
        check_vocab(&tokenizer, &cfg)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights_bytes = std::fs::metadata(&weights_path)
            .map_err(|source| InferError::Io {
                path: weights_path.clone(),
                source,
            })?
            .len();
        let generation = read_generation_defaults(dir).map_err(|e| match e {
            ModelError::Io { path, source } => InferError::Io { path, source },
            ModelError::InvalidFile { path, message } => InferError::Config { path, message },
            other => InferError::Config {
                path: dir.to_path_buf(),
                message: other.to_string(),
            },
        })?;
        let dir_name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(ModelDirParts {
            dir_name,
            cfg,
            tokenizer,
            weights_bytes,
            generation,
        })
    }

    /// Starts the engine over `model`, loaded from this directory with
    /// weights held as `dtype` (but for the named exceptions).
    pub(crate) fn start(
        self,
        model: Box<dyn DecodeModel>,
        (dtype, dtype_exceptions): (WeightDtype, Vec<(String, WeightDtype)>),
        opts: EngineOptions,
    ) -> Result<Engine, InferError> {
        let info = ModelInfo {
            name: self.dir_name,
            n_params: self.cfg.num_params(),
            weights_bytes: self.weights_bytes,
            dtype,
            dtype_exceptions,
            max_seq_len: self.cfg.max_seq_len,
            vocab_size: self.cfg.vocab_size,
            // Set by `with_model` from the model's logit width.
            active_vocab: 0,
            config: self.cfg,
            generation: self.generation,
        };
        Engine::with_model(model, self.tokenizer, info, opts)
    }
}

/// The tokenizer must fit the model's vocabulary.
pub(crate) fn check_vocab(tokenizer: &Tokenizer, cfg: &ModelConfig) -> Result<(), InferError> {
    // A model may pad its vocabulary beyond the tokenizer's, never the reverse.
    if tokenizer.vocab_size() > cfg.vocab_size || tokenizer.eot_id() as usize >= cfg.vocab_size {
        return Err(InferError::VocabMismatch {
            tokenizer_vocab: tokenizer.vocab_size(),
            model_vocab: cfg.vocab_size,
        });
    }
    Ok(())
}
