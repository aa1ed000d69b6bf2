//! `slm-train export`: a training checkpoint → a model directory for slm-infer.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use slm_model::WeightDtype;
use slm_model::burn::prelude::Device;
use slm_trainer::{
    CHECKPOINTS_DIR, Checkpoint, RESOLVED_CONFIG_FILE, TrainConfig, latest_checkpoint,
};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A checkpoint directory (RUN/checkpoints/step-XXXXXXXX).
    #[arg(long, conflicts_with = "run", required_unless_present = "run")]
    pub checkpoint: Option<PathBuf>,
    /// A run directory: its newest complete checkpoint is exported.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Output model directory, e.g. models/NAME.
    #[arg(long)]
    pub out: PathBuf,
    /// Weight storage precision.
    #[arg(long, default_value = "f16")]
    pub dtype: WeightDtype,
    /// tokenizer.json to bundle (default: the one recorded in the run's config).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

/// Default sampling settings written to generation.json.
pub fn generation_defaults() -> serde_json::Value {
    serde_json::json!({
        "temperature": 0.8,
        "top_k": 40,
        "top_p": 0.95,
        "max_tokens": 256
    })
}

fn run_dir_of(checkpoint: &Path) -> Option<PathBuf> {
    let parent = checkpoint.parent()?;
    (parent.file_name()? == CHECKPOINTS_DIR).then(|| parent.parent().map(Path::to_path_buf))?
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let ckpt_dir = match (&args.checkpoint, &args.run) {
        (Some(c), _) => c.clone(),
        (None, Some(run)) => latest_checkpoint(run)?
            .with_context(|| format!("no complete checkpoint in {}", run.display()))?,
        (None, None) => bail!("pass --checkpoint DIR or --run RUN"),
    };
    let ckpt = Checkpoint::open(&ckpt_dir)?;
    let model = ckpt.load_model(&Device::flex())?;

    let tokenizer = match &args.tokenizer {
        Some(t) => t.clone(),
        None => {
            let run = run_dir_of(&ckpt_dir).with_context(|| {
                format!(
                    "{} is not inside RUN/checkpoints/; pass --tokenizer",
                    ckpt_dir.display()
                )
            })?;
            let cfg_path = run.join(RESOLVED_CONFIG_FILE);
            let text = std::fs::read_to_string(&cfg_path)
                .with_context(|| format!("reading {}", cfg_path.display()))?;
            let cfg = TrainConfig::from_toml(&text)
                .with_context(|| format!("parsing {}", cfg_path.display()))?;
            cfg.data.tokenizer.with_context(|| {
                format!(
                    "{} records no tokenizer; pass --tokenizer",
                    cfg_path.display()
                )
            })?
        }
    };
    let tok = slm_tokenizer::Tokenizer::from_file(&tokenizer)
        .with_context(|| format!("loading tokenizer {}", tokenizer.display()))?;
    if tok.vocab_size() > model.config().vocab_size {
        bail!(
            "tokenizer has {} tokens but the model's vocab_size is {}",
            tok.vocab_size(),
            model.config().vocab_size
        );
    }

    slm_model::save_model_dir(&model, &args.out, args.dtype)
        .with_context(|| format!("writing {}", args.out.display()))?;
    std::fs::copy(&tokenizer, args.out.join("tokenizer.json"))
        .with_context(|| format!("copying {}", tokenizer.display()))?;
    std::fs::write(
        args.out.join("generation.json"),
        serde_json::to_string_pretty(&generation_defaults())? + "\n",
    )?;
    tracing::info!(
        step = ckpt.state.step,
        tokens = ckpt.state.tokens_seen,
        "exported {} → {}",
        ckpt_dir.display(),
        args.out.display()
    );
    Ok(())
}
