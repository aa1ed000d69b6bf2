//! `slm-train train`: runs the trainer on prepared shards with a progress bar, Ctrl-C
//! checkpointing and resume.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use slm_tokenizer::{ChatTemplate, Role};
use slm_trainer::{
    MixedWindows, Precision, RunHooks, TrainConfig, TrainEvent, Trainer, WindowSource,
    latest_checkpoint, latest_good_checkpoint,
};

use crate::device::DeviceKind;
use crate::instruct;
use crate::shards::{ShardWindows, find_tokenizer, load_valid};

static STOP: AtomicBool = AtomicBool::new(false);

/// The request instruction runs answer in their logged samples.
const SAMPLE_REQUEST: &str = "Tell me a story about a brave little cat.";

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Run config (TOML). Values can be overridden by `SLM_TRAIN__SECTION__KEY`
    /// environment variables (e.g. `SLM_TRAIN__OPTIM__LR=3e-4`) and then by the flags below.
    #[arg(long)]
    pub config: PathBuf,
    /// Run directory: checkpoints/, metrics.jsonl, loss.png, config.resolved.toml.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the newest complete checkpoint in `--out`.
    #[arg(long)]
    pub resume: bool,
    /// Start a new run from the weights of this model directory (config.json +
    /// model.safetensors, same shape as `[model]`) instead of a random init; the optimizer,
    /// schedule and data order start fresh. For continuing a finished run with a new
    /// schedule (a resumed run keeps its old one).
    #[arg(long, value_name = "MODEL_DIR", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Backend to train on.
    #[arg(long, value_enum, default_value = "flex")]
    pub device: DeviceKind,
    /// Compute precision (f32 master weights are kept in every case).
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Prepared training shards (overrides data.train).
    #[arg(long)]
    pub train_data: Option<PathBuf>,
    /// Prepared validation shards (overrides data.valid).
    #[arg(long)]
    pub valid_data: Option<PathBuf>,
    /// tokenizer.json the shards were prepared with (overrides data.tokenizer).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Total optimizer steps (optim.max_steps).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Peak learning rate (optim.lr).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Sequences per micro-batch (batch.micro_batch).
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// Micro-batches per optimizer step (batch.accum_steps).
    #[arg(long)]
    pub accum_steps: Option<usize>,
    /// Random seed (seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate every N steps (eval.every).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps (checkpoint.every).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Any other config key, e.g. `--set optim.warmup_steps=50` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Hide the progress bar (log lines only).
    #[arg(long)]
    pub no_progress: bool,
}

impl TrainArgs {
    fn overrides(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut o = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                o.push((k.to_string(), v));
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        put("data.train", path(&self.train_data));
        put("data.valid", path(&self.valid_data));
        put("data.tokenizer", path(&self.tokenizer));
        put(
            "precision",
            self.precision.map(|p| format!("{p:?}").to_lowercase()),
        );
        put("optim.max_steps", self.max_steps.map(|v| v.to_string()));
        put("optim.lr", self.lr.map(|v| v.to_string()));
        put("batch.micro_batch", self.micro_batch.map(|v| v.to_string()));
        put("batch.accum_steps", self.accum_steps.map(|v| v.to_string()));
        put("seed", self.seed.map(|v| v.to_string()));
        put("eval.every", self.eval_every.map(|v| v.to_string()));
        put(
            "checkpoint.every",
            self.checkpoint_every.map(|v| v.to_string()),
        );
        for kv in &self.set {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set expects KEY=VALUE, got `{kv}`"))?;
            o.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(o)
    }
}

/// The weights of model directory `dir` in a model built from the run's `[model]` section
/// (whose dropout applies); the shapes must match.
fn load_init(
    dir: &std::path::Path,
    cfg: &TrainConfig,
    device: &slm_model::burn::prelude::Device,
) -> anyhow::Result<slm_model::Transformer> {
    let found = slm_model::read_config(dir)
        .with_context(|| format!("reading --init-from {}", dir.display()))?;
    if !found.same_shape(&cfg.model) {
        bail!(
            "--init-from {} has a different model shape than the config's [model]:\n  {}\nvs\n  {}",
            dir.display(),
            found.to_json(),
            cfg.model.to_json()
        );
    }
    let path = dir.join(slm_model::WEIGHTS_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(slm_model::from_safetensors(
        &cfg.model, &bytes, &path, device,
    )?)
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let mut cfg = TrainConfig::load(&args.config, &args.overrides()?)
        .with_context(|| format!("loading {}", args.config.display()))?;
    let (tokenizer, template) = run_tokenizer(&mut cfg, &args.out)?;
    let train = training_windows(&cfg, &tokenizer, template.as_ref())?;
    let (valid, _) = load_valid(&cfg.data.valid)?;
    let device = args.device.device()?.autodiff();
    if !cfg.precision.supported_on(&device) {
        bail!(
            "--precision {:?} is not supported on the {} backend (use f32)",
            cfg.precision,
            args.device.name()
        );
    }
    let mut trainer = start_trainer(&args, &cfg, device, train)?;

    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: the user does not want to wait for the checkpoint.
            std::process::exit(130);
        }
        eprintln!("\nstopping: checkpoint at the end of this step (Ctrl-C again to abort)");
    })
    .context("installing the Ctrl-C handler")?;

    tracing::info!(
        params = cfg.model.num_params(),
        tokens_per_step = cfg.batch.tokens_per_step(),
        device = args.device.name(),
        precision = ?cfg.precision,
        eval_windows = ?cfg.eval.max_windows,
        "training {} → {}",
        args.config.display(),
        args.out.display()
    );
    let mut progress = Progress::new(args.no_progress, cfg.optim.max_steps, trainer.state().step);
    let hooks = sample_hooks(&tokenizer, template.as_ref())?;
    trainer.run(&args.out, Some(&valid), hooks, &STOP, |event| {
        progress.report(event)
    })?;
    progress.bar.finish();
    Ok(())
}

/// The run's tokenizer: the configured one, or for instruction tuning that one with the
/// chat markers added, saved into the run (`out`) for `export`. Recorded in the resolved
/// config either way.
fn run_tokenizer(
    cfg: &mut TrainConfig,
    out: &std::path::Path,
) -> anyhow::Result<(slm_tokenizer::Tokenizer, Option<ChatTemplate>)> {
    let mut tokenizer_path = find_tokenizer(cfg.data.tokenizer.as_deref(), &cfg.data.train)?;
    let mut tokenizer = slm_tokenizer::Tokenizer::from_file(&tokenizer_path)
        .with_context(|| format!("loading tokenizer {}", tokenizer_path.display()))?;
    let template = if cfg.instruct.is_some() {
        let (chat, template) = ChatTemplate::add_to(&tokenizer)?;
        if chat.vocab_size() > cfg.model.vocab_size {
            bail!(
                "the tokenizer with chat tokens has {} ids but model.vocab_size is {}",
                chat.vocab_size(),
                cfg.model.vocab_size
            );
        }
        std::fs::create_dir_all(out)?;
        tokenizer_path = out.join(slm_data::TOKENIZER_FILE);
        chat.save(&tokenizer_path)?;
        tokenizer = chat;
        Some(template)
    } else {
        None
    };
    cfg.data.tokenizer = Some(std::fs::canonicalize(&tokenizer_path)?);
    Ok((tokenizer, template))
}

/// The training windows: the shards, checked against the model's vocabulary, mixed with
/// the instruction examples when the run tunes a chat model.
fn training_windows(
    cfg: &TrainConfig,
    tokenizer: &slm_tokenizer::Tokenizer,
    template: Option<&ChatTemplate>,
) -> anyhow::Result<Box<dyn WindowSource>> {
    let window_len = cfg.batch.seq_len + 1;
    let train = ShardWindows::open(&cfg.data.train, window_len, cfg.seed)?;
    if train.vocab_size() > cfg.model.vocab_size {
        bail!(
            "shards use a {}-token vocabulary but model.vocab_size is {}",
            train.vocab_size(),
            cfg.model.vocab_size
        );
    }
    // The softmax covers every row by default, so the padding rows past the tokenizer are
    // trained towards zero probability and any tool reading the model sees the distribution
    // we report. `data.loss_vocab` narrows it (the first 6-layer models, trained on a
    // 32,000-row vocabulary, used that).
    if let Some(n) = cfg.data.loss_vocab
        && n < train.vocab_size()
    {
        bail!(
            "data.loss_vocab is {n} but the shards use a {}-token vocabulary",
            train.vocab_size()
        );
    }
    if cfg.model.vocab_size > train.vocab_size().next_multiple_of(64) {
        tracing::warn!(
            "model.vocab_size {} is far above the tokenizer's {} tokens: the extra rows cost \
             parameters and compute and only learn to be improbable (round the tokenizer's \
             size up to a multiple of 64 instead)",
            cfg.model.vocab_size,
            train.vocab_size()
        );
    }
    Ok(match (&cfg.instruct, template) {
        (Some(ic), Some(t)) => {
            let examples = instruct::example_windows(ic, tokenizer, t, window_len, cfg.seed)?;
            Box::new(MixedWindows::new(
                Box::new(train),
                Box::new(examples),
                ic.share,
                cfg.seed ^ 0x5eed_c4a7,
            )?)
        }
        _ => Box::new(train),
    })
}

/// The trainer: resumed from the newest usable checkpoint (`--resume`), initialised from
/// a model directory (`--init-from`), or fresh. A run directory that already holds
/// checkpoints is only continued when asked.
fn start_trainer(
    args: &TrainArgs,
    cfg: &TrainConfig,
    device: slm_model::burn::prelude::Device,
    train: Box<dyn WindowSource>,
) -> anyhow::Result<Trainer> {
    Ok(match (args.resume, latest_checkpoint(&args.out)?) {
        (true, Some(_)) => {
            let (good, bad) = latest_good_checkpoint(&args.out)?;
            for e in &bad {
                tracing::warn!("skipping an unusable checkpoint: {e}");
            }
            let dir = good.with_context(|| {
                let why: Vec<String> = bad.iter().map(|e| e.to_string()).collect();
                format!(
                    "--resume: no usable checkpoint under {}:\n  {}",
                    args.out.display(),
                    why.join("\n  ")
                )
            })?;
            tracing::info!("resuming from {}", dir.display());
            Trainer::resume(cfg.clone(), device, train, &dir)?
        }
        (true, None) => bail!(
            "--resume: no complete checkpoint under {}",
            args.out.join(slm_trainer::CHECKPOINTS_DIR).display()
        ),
        (false, Some(dir)) => bail!(
            "{} already holds checkpoint {}; pass --resume to continue it or choose another --out",
            args.out.display(),
            dir.display()
        ),
        (false, None) => match &args.init_from {
            None => Trainer::new(cfg.clone(), device, train)?,
            Some(dir) => {
                let model = load_init(dir, cfg, &device)?;
                tracing::info!("initialised from {}", dir.display());
                Trainer::with_model(cfg.clone(), device, train, model)?
            }
        },
    })
}

/// What the samples logged at each evaluation start from: a fixed request for an
/// instruction run, a fresh story otherwise.
fn sample_hooks(
    tokenizer: &slm_tokenizer::Tokenizer,
    template: Option<&ChatTemplate>,
) -> anyhow::Result<RunHooks> {
    let prompt = match template {
        Some(t) => t.encode(tokenizer, &[(Role::User, SAMPLE_REQUEST)], true)?,
        None => vec![tokenizer.eot_id()],
    };
    let decode_tok = tokenizer.clone();
    Ok(RunHooks {
        prompt,
        stop_token: Some(tokenizer.eot_id()),
        decode: Some(Box::new(move |ids: &[u32]| {
            decode_tok
                .decode(ids)
                .unwrap_or_else(|e| format!("<undecodable: {e}>"))
        })),
    })
}

/// The progress bar and the log lines of a run.
struct Progress {
    bar: ProgressBar,
    /// Smoothed training speed shown on the bar.
    tok_s_avg: f64,
}

impl Progress {
    fn new(hidden: bool, max_steps: u64, start_step: u64) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(max_steps)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps {msg} [{elapsed_precise} eta {eta_precise}]",
            )
            .expect("valid template"),
        );
        bar.set_position(start_step);
        bar.enable_steady_tick(Duration::from_millis(500));
        Progress {
            bar,
            tok_s_avg: 0.0,
        }
    }

    fn report(&mut self, event: &TrainEvent) {
        let bar = &self.bar;
        match event {
            TrainEvent::Step {
                outcome,
                tokens_per_sec,
            } => {
                self.tok_s_avg = if self.tok_s_avg == 0.0 {
                    *tokens_per_sec
                } else {
                    0.9 * self.tok_s_avg + 0.1 * tokens_per_sec
                };
                bar.set_position(outcome.step);
                bar.set_message(format!(
                    "loss {:.4} lr {:.2e} {:.0} tok/s",
                    outcome.loss, outcome.lr, self.tok_s_avg
                ));
                if outcome.skipped {
                    tracing::warn!(
                        step = outcome.step,
                        scale = outcome.loss_scale,
                        "f16 overflow: step skipped"
                    );
                }
            }
            TrainEvent::Eval {
                step,
                report,
                samples,
            } => {
                bar.suspend(|| {
                    tracing::info!(
                        step,
                        loss = report.loss,
                        perplexity = report.perplexity,
                        bits_per_byte = report.bits_per_byte,
                        tokens = report.tokens,
                        "validation"
                    );
                    for s in samples {
                        tracing::info!("sample: {}", s.trim());
                    }
                });
            }
            TrainEvent::Checkpoint { step, dir } => {
                bar.suspend(|| tracing::info!(step, "checkpoint {}", dir.display()));
            }
            TrainEvent::Stopped { step } => {
                bar.suspend(|| tracing::info!(step, "stopped early; resume with --resume"));
            }
        }
    }
}
