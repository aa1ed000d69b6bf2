use std::path::PathBuf;

/// Everything that can go wrong while configuring, running or resuming training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training config: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] slm_model::ModelError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("data: {0}")]
    Data(String),
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
    #[error("non-finite loss ({loss}) at step {step}: training diverged")]
    Diverged { step: u64, loss: f64 },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}
