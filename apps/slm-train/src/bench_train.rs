//! `slm-train bench-train`: training throughput of the 15M config on synthetic tokens
//! (batch 8×256, f32 unless told otherwise), printed as JSON.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use slm_model::ModelConfig;
use slm_trainer::{
    BatchConfig, CheckpointConfig, DataConfig, EvalConfig, OptimConfig, Precision, TokenWindows,
    TrainConfig, Trainer,
};

use crate::device::DeviceKind;

#[derive(clap::Args, Debug)]
pub struct BenchTrainArgs {
    #[arg(long, value_enum, default_value = "flex")]
    pub device: DeviceKind,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// Untimed steps first (allocator and kernel warm-up).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed optimizer steps.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// Softmax over only the first N vocabulary rows (data.loss_vocab), as a real run does
    /// when its tokenizer is smaller than the model's 32,000 rows (10,884 for the bundled
    /// TinyStories tokenizer). Default: all rows.
    #[arg(long)]
    pub loss_vocab: Option<usize>,
}

pub fn run(args: BenchTrainArgs) -> anyhow::Result<()> {
    let model = ModelConfig::default();
    let cfg = TrainConfig {
        seed: 0,
        precision: args.precision,
        log_every: 1,
        model: model.clone(),
        data: DataConfig {
            train: "synthetic".into(),
            valid: "synthetic".into(),
            tokenizer: None,
            loss_vocab: args.loss_vocab,
        },
        optim: OptimConfig {
            warmup_steps: 1,
            max_steps: (args.warmup + args.steps) as u64,
            ..OptimConfig::default()
        },
        batch: BatchConfig {
            micro_batch: args.batch,
            accum_steps: 1,
            seq_len: args.seq_len,
        },
        checkpoint: CheckpointConfig::default(),
        eval: EvalConfig::default(),
        instruct: None,
    };
    let vocab = cfg.logit_rows() as u32;
    // Synthetic ids: throughput does not depend on token values.
    let tokens: Arc<[u16]> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) % vocab) as u16)
        .collect();
    let windows = TokenWindows::new(tokens, args.seq_len + 1, 0)?;
    let device = args.device.device()?.autodiff();
    let mut trainer = Trainer::new(cfg, device, Box::new(windows)).context("building trainer")?;
    for _ in 0..args.warmup {
        trainer.step()?;
    }
    let t0 = Instant::now();
    let mut last_loss = 0.0;
    for _ in 0..args.steps {
        last_loss = trainer.step()?.loss;
    }
    let secs = t0.elapsed().as_secs_f64();
    let tokens = (args.steps * args.batch * args.seq_len) as f64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{}",
        serde_json::json!({
            "bench": "train_step",
            "device": args.device.name(),
            "precision": format!("{:?}", args.precision).to_lowercase(),
            "params": model.num_params(),
            "batch": args.batch,
            "seq_len": args.seq_len,
            "loss_vocab": vocab,
            "timed_steps": args.steps,
            "step_ms": secs * 1000.0 / args.steps as f64,
            "tokens_per_sec": tokens / secs,
            "available_threads": threads,
            "rayon_threads": std::env::var("RAYON_NUM_THREADS").ok(),
            "profile": if cfg!(debug_assertions) { "dev" } else { "release" },
            "last_loss": last_loss,
        })
    );
    Ok(())
}
