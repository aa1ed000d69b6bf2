//! The training loop: one `step()` is one optimizer update over `accum_steps` micro-batches;
//! `run()` adds periodic evaluation, checkpoints, metrics, the plot, and a stop flag.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use slm_model::Transformer;
use slm_model::burn::module::{Module, ModuleVisitor, Param};
use slm_model::burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use slm_model::burn::prelude::*;

use crate::checkpoint::{self, Checkpoint, TrainerState};
use crate::clip::{clip_global_norm, scale_grads};
use crate::metrics::{METRICS_FILE, MetricRecord, MetricsLog, read_metrics};
use crate::plot::PLOT_FILE;
use crate::precision::compute_copy;
use crate::{
    CONTEXT_ONLY, EMPHASIS, EvalReport, IGNORE_TARGET, LossScaler, RESOLVED_CONFIG_FILE,
    SampleOptions, SequentialTokens, TrainConfig, TrainError, WindowSource, build_optimizer,
    evaluate, head_cross_entropy_weighted, lr_at, plot_losses, sample_tokens, token_id,
};

/// One micro-batch: `[micro_batch, seq_len]` inputs and targets, and optional per-target
/// loss weights.
struct MicroBatch {
    inputs: Tensor<2, Int>,
    targets: Tensor<2, Int>,
    weights: Option<Vec<f32>>,
}

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// Steps completed after this one.
    pub step: u64,
    /// Mean training loss over the step's tokens (weighted by `[instruct] word_weight` when set).
    pub loss: f64,
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub tokens_seen: u64,
    /// f16 overflow: the update was skipped and the loss scale halved.
    pub skipped: bool,
    pub loss_scale: f64,
}

/// Progress notifications from `run`, for progress bars and logs.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    Step {
        outcome: StepOutcome,
        tokens_per_sec: f64,
    },
    Eval {
        step: u64,
        report: EvalReport,
        samples: Vec<String>,
    },
    Checkpoint {
        step: u64,
        dir: PathBuf,
    },
    Stopped {
        step: u64,
    },
}

/// Turns sampled token ids into text for the logs (the trainer has no tokenizer).
pub type Decoder = Box<dyn Fn(&[u32]) -> String>;

pub struct Trainer {
    cfg: TrainConfig,
    device: Device,
    model: Transformer,
    optim: ModuleOptimizer,
    state: TrainerState,
    train: Box<dyn WindowSource>,
    batch_buf: Vec<u32>,
}

struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Per-(seed, step, micro-batch) RNG seed, so dropout masks do not depend on how the run
/// was split by resumes.
fn step_seed(seed: u64, step: u64, micro: usize) -> u64 {
    let mut x = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((micro as u64) << 48);
    // splitmix64 finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Trainer {
    /// A fresh run: the model is initialised from `cfg.seed` on `device` (an autodiff device).
    pub fn new(
        cfg: TrainConfig,
        device: Device,
        train: Box<dyn WindowSource>,
    ) -> Result<Self, TrainError> {
        Self::check_setup(&cfg, &device, train.as_ref())?;
        device.seed(cfg.seed);
        let model = cfg.model.init(&device)?;
        // Parameters initialise lazily from the device RNG; materialise them now, while the
        // RNG is in its seeded state, so the initial weights depend on the seed alone.
        model.visit(&mut Materialize);
        Self::with_model(cfg, device, train, model)
    }

    /// A fresh run (new optimizer state, schedule and data order) starting from `model`'s
    /// weights, e.g. a finished run's export. Its config must equal `cfg.model`.
    pub fn with_model(
        cfg: TrainConfig,
        device: Device,
        train: Box<dyn WindowSource>,
        model: Transformer,
    ) -> Result<Self, TrainError> {
        Self::check_setup(&cfg, &device, train.as_ref())?;
        if model.config() != &cfg.model {
            return Err(TrainError::Config(
                "the initial model's config differs from the run's [model] section".into(),
            ));
        }
        let optim = build_optimizer(&model, &cfg.optim);
        let state = checkpoint::new_state(
            cfg.model.clone(),
            cfg.seed,
            cfg.recipe_hash(),
            LossScaler::new(cfg.precision.needs_loss_scaling()),
            train.cursor(),
        );
        Ok(Self::assemble(cfg, device, model, optim, state, train))
    }

    fn assemble(
        cfg: TrainConfig,
        device: Device,
        model: Transformer,
        optim: ModuleOptimizer,
        state: TrainerState,
        train: Box<dyn WindowSource>,
    ) -> Self {
        Self {
            cfg,
            device,
            model,
            optim,
            state,
            train,
            batch_buf: Vec::new(),
        }
    }

    /// Continues from checkpoint `dir`. A checkpoint for a different model shape, or one
    /// that fails its integrity checks, is an error (never a silent fresh start).
    pub fn resume(
        cfg: TrainConfig,
        device: Device,
        mut train: Box<dyn WindowSource>,
        dir: &Path,
    ) -> Result<Self, TrainError> {
        Self::check_setup(&cfg, &device, train.as_ref())?;
        let ckpt = Checkpoint::open(dir)?;
        ckpt.check_model(&cfg.model)?;
        if ckpt.state.seed != cfg.seed {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "checkpoint was trained with seed {}, config says {}",
                    ckpt.state.seed, cfg.seed
                ),
            ));
        }
        if ckpt.state.recipe_hash != cfg.recipe_hash() {
            tracing::warn!(
                "resuming {} under a changed recipe (optimizer/batch/precision settings differ \
                 from the checkpoint's); the loss curve will not match an uninterrupted run",
                dir.display()
            );
        }
        let model = ckpt.load_model(&device)?;
        let optim = ckpt.load_optimizer(build_optimizer(&model, &cfg.optim))?;
        train.restore(&ckpt.state.sampler_cursor)?;
        let mut state = ckpt.state;
        state.recipe_hash = cfg.recipe_hash();
        Ok(Self::assemble(cfg, device, model, optim, state, train))
    }

    fn check_setup(
        cfg: &TrainConfig,
        device: &Device,
        train: &dyn WindowSource,
    ) -> Result<(), TrainError> {
        cfg.validate()?;
        if !device.is_autodiff() {
            return Err(TrainError::Config(
                "training needs an autodiff device (Device::autodiff())".into(),
            ));
        }
        if !cfg.precision.supported_on(device) {
            return Err(TrainError::Config(format!(
                "precision {:?} is not supported by this device",
                cfg.precision
            )));
        }
        if train.window_len() != cfg.batch.seq_len + 1 {
            return Err(TrainError::Config(format!(
                "training windows are {} tokens, batch.seq_len + 1 is {}",
                train.window_len(),
                cfg.batch.seq_len + 1
            )));
        }
        Ok(())
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }
    pub fn model(&self) -> &Transformer {
        &self.model
    }
    pub fn state(&self) -> &TrainerState {
        &self.state
    }
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The next micro-batch's inputs and targets, and the targets' loss weights when any
    /// target carries [`EMPHASIS`] and `[instruct] word_weight` is set.
    fn next_micro_batch(&mut self) -> Result<MicroBatch, TrainError> {
        let b = self.cfg.batch.micro_batch;
        let len = self.cfg.batch.seq_len + 1;
        self.batch_buf.clear();
        for _ in 0..b {
            self.train.next_window(&mut self.batch_buf)?;
        }
        let vocab = self.cfg.logit_rows() as u32;
        if let Some(bad) = self
            .batch_buf
            .iter()
            .map(|&t| token_id(t))
            .find(|&t| t >= vocab)
        {
            return Err(TrainError::Data(format!(
                "training token id {bad} is outside the trained vocabulary ({vocab}; \
                 data.loss_vocab / model.vocab_size)"
            )));
        }
        let word_weight = self.cfg.instruct.as_ref().and_then(|i| i.word_weight);
        let (mut inputs, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for window in self.batch_buf.chunks(len) {
            inputs.extend(window[..len - 1].iter().map(|&t| i64::from(token_id(t))));
            for &t in &window[1..] {
                targets.push(if t & CONTEXT_ONLY != 0 {
                    IGNORE_TARGET
                } else {
                    i64::from(token_id(t))
                });
                let emphasis = word_weight.filter(|_| t & EMPHASIS != 0);
                weights.push(emphasis.unwrap_or(1.0) as f32);
            }
        }
        let tensor = |ids: Vec<i64>| {
            Tensor::<2, Int>::from_data(TensorData::new(ids, [b, len - 1]), &self.device)
        };
        let weighted = weights.iter().any(|&w| w != 1.0);
        Ok(MicroBatch {
            inputs: tensor(inputs),
            targets: tensor(targets),
            weights: weighted.then_some(weights),
        })
    }

    /// One optimizer step over `micro_batch × accum_steps` windows.
    pub fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let step = self.state.step;
        let lr = lr_at(&self.cfg.optim, step);
        let accum = self.cfg.batch.accum_steps;
        let scale = self.state.loss_scaler.scale;
        let mut accumulator = GradientsAccumulator::<Transformer>::new();
        let mut loss_total: Option<Tensor<1>> = None;
        for micro in 0..accum {
            let batch = self.next_micro_batch()?;
            self.device.seed(step_seed(self.cfg.seed, step, micro));
            let compute = compute_copy(&self.model, self.cfg.precision);
            let rows = self.cfg.logit_rows();
            let loss = head_cross_entropy_weighted(
                compute.hidden(batch.inputs),
                compute.head_rows(rows),
                batch.targets,
                batch.weights.as_deref(),
            );
            let detached = loss.clone().detach();
            loss_total = Some(match loss_total {
                Some(t) => t + detached,
                None => detached,
            });
            // Mean over micro-batches = mean over all tokens (equal-size micro-batches).
            let grads = loss.mul_scalar(scale / accum as f64).backward();
            accumulator.accumulate(&self.model, GradientsParams::from_grads(grads, &self.model));
        }
        let mut grads = accumulator.grads();
        if scale != 1.0 {
            scale_grads(&self.model, &mut grads, 1.0 / scale);
        }
        let grad_norm = clip_global_norm(&self.model, &mut grads, self.cfg.optim.grad_clip);
        let loss = loss_total.expect("accum_steps >= 1").into_scalar::<f64>() / accum as f64;
        let finite = grad_norm.is_finite() && loss.is_finite();
        if !finite && !self.cfg.precision.needs_loss_scaling() {
            return Err(TrainError::Diverged { step, loss });
        }
        let apply = self.state.loss_scaler.update(finite);
        if apply {
            self.model = self.optim.step(lr, self.model.clone(), grads);
        }
        self.state.step += 1;
        self.state.tokens_seen += self.cfg.batch.tokens_per_step() as u64;
        self.state.lr = lr;
        self.state.sampler_cursor = self.train.cursor();
        Ok(StepOutcome {
            step: self.state.step,
            loss,
            lr,
            grad_norm,
            tokens_seen: self.state.tokens_seen,
            skipped: !apply,
            loss_scale: self.state.loss_scaler.scale,
        })
    }

    /// Writes a checkpoint of the current state under `run_dir`.
    pub fn save_checkpoint(&self, run_dir: &Path) -> Result<PathBuf, TrainError> {
        checkpoint::save(
            run_dir,
            &self.model,
            &self.optim,
            &self.state,
            self.cfg.checkpoint.keep,
        )
    }

    /// Evaluates the current weights (dropout off) on `valid`.
    pub fn evaluate(&self, valid: &SequentialTokens) -> Result<EvalReport, TrainError> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        evaluate(
            &model,
            valid,
            self.cfg.batch.seq_len,
            self.cfg.eval.batch_size,
            self.cfg.eval.max_windows,
            self.cfg.logit_rows(),
            &device,
        )
    }

    /// Samples `eval.samples` short continuations of `prompt` with the current weights.
    pub fn sample(&self, prompt: &[u32], stop: Option<u32>) -> Result<Vec<Vec<u32>>, TrainError> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        (0..self.cfg.eval.samples)
            .map(|i| {
                let opts = SampleOptions {
                    max_tokens: self.cfg.eval.sample_tokens,
                    temperature: self.cfg.eval.temperature,
                    seed: self.cfg.seed.wrapping_add(i as u64),
                    stop_token: stop,
                    vocab: self.cfg.logit_rows(),
                };
                sample_tokens(&model, prompt, &opts, &device)
            })
            .collect()
    }

    /// Trains until `optim.max_steps` or until `stop` is set (checked at step boundaries,
    /// then a checkpoint is written). Writes `run_dir/{config.resolved.toml, metrics.jsonl,
    /// loss.png, checkpoints/}`.
    pub fn run(
        &mut self,
        run_dir: &Path,
        valid: Option<&SequentialTokens>,
        hooks: RunHooks,
        stop: &AtomicBool,
        mut on_event: impl FnMut(&TrainEvent),
    ) -> Result<(), TrainError> {
        std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        let resolved = run_dir.join(RESOLVED_CONFIG_FILE);
        std::fs::write(&resolved, self.cfg.to_toml()).map_err(|e| TrainError::io(&resolved, e))?;
        let resumed_at = (self.state.step > 0).then_some(self.state.step);
        let mut metrics = MetricsLog::open(run_dir, resumed_at)?;
        let max_steps = self.cfg.optim.max_steps;
        let tokens_per_step = self.cfg.batch.tokens_per_step() as f64;
        let mut last_ckpt = self.state.step;
        while self.state.step < max_steps {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let t0 = Instant::now();
            let outcome = self.step()?;
            let tokens_per_sec = tokens_per_step / t0.elapsed().as_secs_f64().max(1e-9);
            let step = outcome.step;
            if step.is_multiple_of(self.cfg.log_every) || step == max_steps {
                metrics.append(&MetricRecord::Train {
                    step,
                    tokens: outcome.tokens_seen,
                    loss: outcome.loss,
                    lr: outcome.lr,
                    grad_norm: outcome.grad_norm,
                    tokens_per_sec,
                    skipped: outcome.skipped,
                    loss_scale: outcome.loss_scale,
                })?;
            }
            on_event(&TrainEvent::Step {
                outcome,
                tokens_per_sec,
            });
            let every = |n: u64| n > 0 && step.is_multiple_of(n);
            if let Some(valid) = valid
                && (every(self.cfg.eval.every) || step == max_steps)
            {
                self.eval_and_log(step, valid, &hooks, &mut metrics, run_dir, &mut on_event)?;
            }
            if every(self.cfg.checkpoint.every) {
                let dir = self.save_checkpoint(run_dir)?;
                last_ckpt = step;
                on_event(&TrainEvent::Checkpoint { step, dir });
            }
        }
        if self.state.step != last_ckpt || latest_missing(run_dir)? {
            let dir = self.save_checkpoint(run_dir)?;
            on_event(&TrainEvent::Checkpoint {
                step: self.state.step,
                dir,
            });
        }
        if self.state.step < max_steps {
            on_event(&TrainEvent::Stopped {
                step: self.state.step,
            });
        }
        plot_losses(&read_metrics(metrics.path())?, &run_dir.join(PLOT_FILE))?;
        Ok(())
    }

    fn eval_and_log(
        &self,
        step: u64,
        valid: &SequentialTokens,
        hooks: &RunHooks,
        metrics: &mut MetricsLog,
        run_dir: &Path,
        on_event: &mut impl FnMut(&TrainEvent),
    ) -> Result<(), TrainError> {
        let report = self.evaluate(valid)?;
        let samples = match (&hooks.decode, hooks.prompt.is_empty()) {
            (Some(decode), false) => self
                .sample(&hooks.prompt, hooks.stop_token)?
                .iter()
                .map(|ids| decode(ids))
                .collect(),
            _ => Vec::new(),
        };
        metrics.append(&MetricRecord::Eval {
            step,
            tokens: self.state.tokens_seen,
            loss: report.loss,
            perplexity: report.perplexity,
            bits_per_byte: report.bits_per_byte,
            eval_tokens: report.tokens,
            eval_bytes: report.bytes,
            samples: samples.clone(),
        })?;
        plot_losses(
            &read_metrics(&run_dir.join(METRICS_FILE))?,
            &run_dir.join(PLOT_FILE),
        )?;
        on_event(&TrainEvent::Eval {
            step,
            report,
            samples,
        });
        Ok(())
    }
}

fn latest_missing(run_dir: &Path) -> Result<bool, TrainError> {
    Ok(checkpoint::latest_checkpoint(run_dir)?.is_none())
}

/// Optional pieces `run` uses for sampled stories.
#[derive(Default)]
pub struct RunHooks {
    /// Token ids every sample starts from (e.g. the end-of-text token).
    pub prompt: Vec<u32>,
    pub stop_token: Option<u32>,
    pub decode: Option<Decoder>,
}
