//! `slm-train export`: a training checkpoint → a model directory (slm-infer and Hugging
//! Face transformers read it), or a model directory → a GGUF file (llama.cpp).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use slm_model::burn::prelude::Device;
use slm_model::generation::{GENERATION_FILE, HF_GENERATION_FILE};
use slm_model::{FileDtype, GenerationDefaults, SamplingParams, Transformer, view_to_f32};
use slm_trainer::{
    CHECKPOINTS_DIR, Checkpoint, RESOLVED_CONFIG_FILE, TrainConfig, latest_checkpoint,
    list_checkpoints,
};

use crate::gguf::{self, GgufType};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A checkpoint directory (RUN/checkpoints/step-XXXXXXXX).
    #[arg(long, conflicts_with_all = ["run", "model"])]
    pub checkpoint: Option<PathBuf>,
    /// A run directory: its newest complete checkpoint is exported.
    #[arg(long, conflicts_with = "model")]
    pub run: Option<PathBuf>,
    /// A model directory (for --format gguf, e.g. models/tinystories-15m).
    #[arg(long, required_unless_present_any = ["checkpoint", "run"])]
    pub model: Option<PathBuf>,
    /// `dir`: a model directory (Hugging Face layout: config.json, model.safetensors,
    /// tokenizer.json, tokenizer_config.json, generation_config.json, plus our
    /// generation.json). `gguf`: one GGUF file for llama.cpp (from --model).
    #[arg(long, value_enum, default_value = "dir")]
    pub format: Format,
    /// Output: a model directory, or the .gguf file.
    #[arg(long)]
    pub out: PathBuf,
    /// Weight precision: f32, f16 or bf16 for a directory; f32, f16 or q8_0 for GGUF.
    #[arg(long, value_enum, default_value = "f16")]
    pub dtype: ExportDtype,
    /// tokenizer.json to bundle (default: the one recorded in the run's config).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Checkpoint averaging: export the mean weights of the run's newest N complete
    /// checkpoints (with --run; they must share one model shape).
    #[arg(long, requires = "run", default_value_t = 1)]
    pub average: usize,
    /// Weight-space interpolation (WiSE-FT): export `--mix` × the checkpoint's weights plus
    /// (1 − `--mix`) × those of this model directory (of the same shape), e.g. a fine-tuned
    /// model pulled back toward the model it was tuned from.
    #[arg(long, requires = "mix")]
    pub mix_with: Option<PathBuf>,
    /// The checkpoint's share in `--mix-with`'s interpolation, in (0, 1].
    #[arg(long, requires = "mix_with")]
    pub mix: Option<f64>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dir,
    Gguf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportDtype {
    F32,
    F16,
    Bf16,
    #[value(name = "q8_0")]
    Q8_0,
}

fn gguf_export(args: &ExportArgs) -> anyhow::Result<()> {
    let Some(dir) = &args.model else {
        bail!(
            "--format gguf converts a model directory: pass --model DIR (export a checkpoint to a directory first)"
        );
    };
    let ty = match args.dtype {
        ExportDtype::F32 => GgufType::F32,
        ExportDtype::F16 => GgufType::F16,
        ExportDtype::Q8_0 => GgufType::Q8_0,
        ExportDtype::Bf16 => bail!("GGUF export writes f32, f16 or q8_0"),
    };
    let bytes = gguf::export_dir(dir, ty)
        .with_context(|| format!("converting {} to GGUF", dir.display()))?;
    // Read back what was written: a file llama.cpp would reject must not look exported.
    let parsed = gguf::parse(&bytes).context("reading back the GGUF just encoded")?;
    gguf::write_file(&args.out, &bytes)?;
    tracing::info!(
        bytes = bytes.len(),
        tensors = parsed.tensors.len(),
        metadata = parsed.metadata.len(),
        "wrote {}",
        args.out.display()
    );
    Ok(())
}

/// Plan-guided decoding bias that `export` writes into a chat model's generation.json
/// (`slm_infer::guide`; models/tinystories-15m-chat/MODEL_CARD.md has the measurements).
pub const CHAT_PLAN_BIAS: f32 = 5.0;

/// Default sampling settings written to generation.json: the defaults with top-k 40 and
/// the DRY repetition penalty (bench/results/sample-quality.json: loops 51 → 15 of 400 samples); a
/// chat model (`chat`) also gets plan-guided decoding.
pub fn generation_defaults(chat: bool) -> GenerationDefaults {
    GenerationDefaults {
        sampling: SamplingParams {
            top_k: Some(40),
            dry_multiplier: 0.8,
            ..Default::default()
        },
        plan_bias: if chat { CHAT_PLAN_BIAS } else { 0.0 },
        ..Default::default()
    }
}

/// The element-wise weighted mean `Σ wᵢ·modelᵢ` of the models' weights (all of one shape;
/// the weights sum to 1).
fn weighted_mean(
    models: &[Transformer],
    weights: &[f64],
    device: &Device,
) -> anyhow::Result<Transformer> {
    let files: Vec<Vec<u8>> = models
        .iter()
        .map(|m| slm_model::to_safetensors(m, FileDtype::F32))
        .collect();
    let parsed = files
        .iter()
        .map(|b| SafeTensors::deserialize(b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, first) in parsed[0].tensors() {
        let mut sum: Vec<f64> = vec![0.0; first.data().len() / 4];
        for (st, w) in parsed.iter().zip(weights) {
            let values = view_to_f32(&st.tensor(&name)?).context("f32 tensor")?;
            for (acc, v) in sum.iter_mut().zip(values) {
                *acc += w * f64::from(v);
            }
        }
        let bytes = sum.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
        tensors.push((name, first.shape().to_vec(), bytes));
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, None)?;
    Ok(slm_model::from_safetensors(
        models[0].config(),
        &bytes,
        Path::new("<weighted mean of models>"),
        device,
    )?)
}

/// What Hugging Face `transformers` needs beside `config.json` and `tokenizer.json` to
/// load the directory unmodified and stop generating at the end of a story: the token ids
/// in `config.json`, `tokenizer_config.json` (special tokens and their roles) and
/// `generation_config.json` (our sampling defaults). `<|endoftext|>` is both the start
/// (an empty prompt begins with it) and the end of a story (or of a chat reply). A
/// tokenizer with the chat markers gets the chat format as `chat_template`.
pub fn write_hf_metadata(
    dir: &Path,
    tok: &slm_tokenizer::Tokenizer,
    max_len: usize,
    dtype: FileDtype,
) -> anyhow::Result<()> {
    let eot = tok.eot_id();
    let write = |name: &str, value: &serde_json::Value| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {}", path.display()))
    };
    let cfg_path = dir.join(slm_model::CONFIG_FILE);
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg_path)?)?;
    config["bos_token_id"] = eot.into();
    config["eos_token_id"] = eot.into();
    config["torch_dtype"] = match dtype {
        FileDtype::F32 => "float32",
        FileDtype::F16 => "float16",
        FileDtype::Bf16 => "bfloat16",
    }
    .into();
    write(slm_model::CONFIG_FILE, &config)?;
    let eot_text = slm_tokenizer::EOT;
    let mut tokenizer_config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": eot_text,
        "eos_token": eot_text,
        "pad_token": eot_text,
        "unk_token": null,
        "add_bos_token": false,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": max_len,
        "model_input_names": ["input_ids", "attention_mask"],
    });
    if slm_tokenizer::ChatTemplate::of(tok).is_some() {
        use slm_tokenizer::chat;
        tokenizer_config["chat_template"] = chat::JINJA.into();
        tokenizer_config["additional_special_tokens"] =
            serde_json::json!([chat::USER, chat::ASSISTANT]);
    }
    write("tokenizer_config.json", &tokenizer_config)?;
    let g = generation_defaults(false);
    write(
        HF_GENERATION_FILE,
        &serde_json::json!({
            "bos_token_id": eot,
            "eos_token_id": eot,
            "pad_token_id": eot,
            "do_sample": true,
            "temperature": shortest_decimal(g.sampling.temperature),
            "top_k": g.sampling.top_k,
            "top_p": shortest_decimal(g.sampling.top_p),
            "max_new_tokens": g.max_tokens,
        }),
    )
}

/// `x` as the f64 with its shortest decimal form (0.8, not the f32's 0.800000011920929).
fn shortest_decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

fn run_dir_of(checkpoint: &Path) -> Option<PathBuf> {
    let parent = checkpoint.parent()?;
    (parent.file_name()? == CHECKPOINTS_DIR).then(|| parent.parent().map(Path::to_path_buf))?
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    if args.format == Format::Gguf {
        return gguf_export(&args);
    }
    let dtype = match args.dtype {
        ExportDtype::F32 => FileDtype::F32,
        ExportDtype::F16 => FileDtype::F16,
        ExportDtype::Bf16 => FileDtype::Bf16,
        ExportDtype::Q8_0 => {
            bail!("q8_0 is a GGUF type; a model directory stores f32, f16 or bf16")
        }
    };
    let ckpt_dir = match (&args.checkpoint, &args.run) {
        (Some(c), _) => c.clone(),
        (None, Some(run)) => latest_checkpoint(run)?
            .with_context(|| format!("no complete checkpoint in {}", run.display()))?,
        (None, None) => bail!("a model directory is exported from --checkpoint DIR or --run RUN"),
    };
    let ckpt = Checkpoint::open(&ckpt_dir)?;
    let device = Device::flex();
    let model = match (&args.run, args.average) {
        (_, 0) => bail!("--average must be at least 1"),
        (Some(run), n) if n > 1 => {
            let all = list_checkpoints(run)?;
            if all.len() < n {
                bail!(
                    "--average {n}: {} has only {} complete checkpoints",
                    run.display(),
                    all.len()
                );
            }
            // The newest of these is `ckpt`; every one is loaded once.
            let mut models = Vec::new();
            for (step, dir) in &all[all.len() - n..] {
                let c = Checkpoint::open(dir)?;
                c.check_model(&ckpt.state.model_config)?;
                tracing::info!(step, "averaging {}", dir.display());
                models.push(c.load_model(&device)?);
            }
            let n = models.len();
            weighted_mean(&models, &vec![1.0 / n as f64; n], &device)?
        }
        _ => ckpt.load_model(&device)?,
    };
    let model = match (&args.mix_with, args.mix) {
        (Some(dir), Some(mix)) => {
            if !(mix > 0.0 && mix <= 1.0) {
                bail!("--mix must be in (0, 1], got {mix}");
            }
            let other = slm_model::load_model_dir(dir, &device)
                .with_context(|| format!("loading --mix-with {}", dir.display()))?;
            if !other.config().same_shape(model.config()) {
                bail!(
                    "--mix-with {} has a different model shape than the checkpoint:\n  {}\nvs\n  {}",
                    dir.display(),
                    other.config().to_json(),
                    model.config().to_json()
                );
            }
            tracing::info!(mix, "interpolating toward {}", dir.display());
            weighted_mean(&[model, other], &[mix, 1.0 - mix], &device)?
        }
        _ => model,
    };

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

    slm_model::save_model_dir(&model, &args.out, dtype)
        .with_context(|| format!("writing {}", args.out.display()))?;
    std::fs::copy(&tokenizer, args.out.join("tokenizer.json"))
        .with_context(|| format!("copying {}", tokenizer.display()))?;
    std::fs::write(
        args.out.join(GENERATION_FILE),
        serde_json::to_string_pretty(&generation_defaults(
            slm_tokenizer::ChatTemplate::of(&tok).is_some(),
        ))? + "\n",
    )?;
    write_hf_metadata(&args.out, &tok, model.config().max_seq_len, dtype)?;
    tracing::info!(
        step = ckpt.state.step,
        tokens = ckpt.state.tokens_seen,
        "exported {} → {}",
        ckpt_dir.display(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sampling_numbers_keep_their_decimal_form() {
        assert_eq!(super::shortest_decimal(0.8), 0.8);
        assert_eq!(super::shortest_decimal(0.95), 0.95);
        assert_ne!(f64::from(0.8f32), 0.8);
    }
}
