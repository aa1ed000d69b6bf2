//! `slm-train eval`: loss, perplexity and bits per byte of a model directory on prepared
//! shards, as one JSON line on stdout.

use std::path::PathBuf;

use anyhow::{Context, bail};
use slm_trainer::evaluate_vocabs;

use crate::device::DeviceKind;
use crate::shards::load_valid;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model directory (config.json + model.safetensors [+ tokenizer.json]). The softmax
    /// covers every vocabulary row, as transformers or llama.cpp compute it; when the
    /// tokenizer has fewer tokens the report adds `tokenizer_rows`, the same metrics over
    /// only the tokenizer's rows (what the inference engine samples from).
    #[arg(long)]
    pub model: PathBuf,
    /// Prepared shards to evaluate on (e.g. the valid split).
    #[arg(long)]
    pub data: PathBuf,
    /// Predictions per window; defaults to the model's max_seq_len.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Evaluate only the first N windows (bytes are counted pro rata).
    #[arg(long)]
    pub max_windows: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    pub device: DeviceKind,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let device = args.device.device()?;
    let model = slm_model::load_model_dir(&args.model, &device)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let (data, vocab) = load_valid(&args.data)?;
    if vocab > model.config().vocab_size {
        bail!(
            "{} uses a {vocab}-token vocabulary, the model only {}",
            args.data.display(),
            model.config().vocab_size
        );
    }
    let tok_path = args.model.join("tokenizer.json");
    let tokenizer_rows = if tok_path.is_file() {
        let tok = slm_tokenizer::Tokenizer::from_file(&tok_path)
            .with_context(|| format!("loading {}", tok_path.display()))?;
        if tok.vocab_size() < vocab {
            bail!(
                "{} has {} tokens but {} uses {vocab}: not the tokenizer these shards came from",
                tok_path.display(),
                tok.vocab_size(),
                args.data.display()
            );
        }
        Some(tok.vocab_size())
    } else {
        None
    };
    let seq_len = args.seq_len.unwrap_or(model.config().max_seq_len);
    if seq_len == 0 || seq_len > model.config().max_seq_len || args.batch_size == 0 {
        bail!(
            "--seq-len must be in 1..={} and --batch-size positive",
            model.config().max_seq_len
        );
    }
    let model_rows = model.config().vocab_size;
    let mut vocabs = vec![model_rows];
    vocabs.extend(tokenizer_rows.filter(|&n| n < model_rows));
    let reports = evaluate_vocabs(
        &model,
        &data,
        seq_len,
        args.batch_size,
        args.max_windows,
        &vocabs,
        &device,
    )?;
    let mut out = serde_json::to_value(&reports[0])?;
    out["vocab_rows"] = model_rows.into();
    if let Some(narrow) = reports.get(1) {
        out["tokenizer_rows"] = serde_json::json!({
            "rows": vocabs[1],
            "loss": narrow.loss,
            "perplexity": narrow.perplexity,
            "bits_per_byte": narrow.bits_per_byte,
        });
    }
    println!("{out}");
    Ok(())
}
