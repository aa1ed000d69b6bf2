//! Trains the slm Transformer: the AdamW loop with warmup + cosine schedule, global-norm
//! clipping, gradient accumulation, optional reduced-precision compute with f32 master
//! weights, atomic checkpoints with exact resume, evaluation (loss, perplexity, bits per
//! byte), sampled stories, metrics.jsonl and a loss-curve PNG.
//!
//! It does not read token shards from disk or pick a backend: callers hand it a `Device`
//! and `WindowSource`s (see `windows`), and the `slm-train` app wires those to `slm-data`
//! and the `--device` flag. It does not serve or batch inference requests (`slm-infer`).

mod checkpoint;
mod clip;
mod config;
mod error;
mod evaluate;
mod loss;
mod metrics;
mod optim;
mod plot;
mod precision;
mod sampling;
mod schedule;
mod trainer;
mod windows;

pub use checkpoint::{
    CHECKPOINTS_DIR, Checkpoint, TrainerState, latest_checkpoint, latest_good_checkpoint,
    list_checkpoints,
};
pub use clip::{clip_global_norm, global_grad_norm};
pub use config::{
    BatchConfig, CheckpointConfig, DataConfig, EvalConfig, InstructConfig, OptimConfig,
    RESOLVED_CONFIG_FILE, TrainConfig,
};
pub use error::TrainError;
pub use evaluate::{EvalReport, evaluate, evaluate_vocabs};
pub use loss::{
    IGNORE_TARGET, head_cross_entropy, head_cross_entropy_sum, head_cross_entropy_weighted,
};
pub use metrics::{MetricRecord, MetricsLog, read_metrics};
pub use optim::build_optimizer;
pub use plot::plot_losses;
pub use precision::{LossScaler, Precision};
pub use sampling::{SampleOptions, sample_tokens};
pub use schedule::lr_at;
pub use trainer::{Decoder, RunHooks, StepOutcome, TrainEvent, Trainer};
pub use windows::{
    CONTEXT_ONLY, EMPHASIS, ExampleWindows, MixedWindows, SequentialTokens, TokenWindows,
    WindowSource, token_id,
};
