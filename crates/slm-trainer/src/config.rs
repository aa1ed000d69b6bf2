//! The run configuration: TOML files loaded through the `config` crate, overridden by
//! `SLM_TRAIN__SECTION__KEY` environment variables, then by explicit `key=value` overrides
//! (the app's CLI flags). The resolved result is what a run records beside its checkpoints.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slm_model::ModelConfig;

use crate::{Precision, TrainError};

/// File name of the resolved config written into the run directory.
pub const RESOLVED_CONFIG_FILE: &str = "config.resolved.toml";

/// Environment prefix: `SLM_TRAIN__OPTIM__LR=3e-4` sets `optim.lr`.
pub const ENV_PREFIX: &str = "SLM_TRAIN";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds model init, data sampling and dropout.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub precision: Precision,
    /// Log train loss to metrics.jsonl every this many optimizer steps.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    pub model: ModelConfig,
    pub data: DataConfig,
    pub optim: OptimConfig,
    pub batch: BatchConfig,
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    #[serde(default)]
    pub eval: EvalConfig,
    /// Instruction tuning: mix chat conversations made from stories into the windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruct: Option<InstructConfig>,
}

/// Conversations ("Tell me a story about…" → the story) made from story files and trained
/// with the loss on the replies only, mixed with plain windows from `data.train` so the
/// model keeps writing stories as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstructConfig {
    /// Story files (`.txt` with `<|endoftext|>` separators, `.jsonl`, optionally `.zst`).
    pub stories: Vec<PathBuf>,
    /// Share of training windows drawn from the conversations (the rest: `data.train`).
    #[serde(default = "default_instruct_share")]
    pub share: f64,
    /// Share of conversations that are off-topic questions answered in character.
    #[serde(default = "default_off_topic_share")]
    pub off_topic_share: f64,
    /// Share of conversations with two exchanges.
    #[serde(default = "default_two_turn_share")]
    pub two_turn_share: f64,
    /// Share of conversations that are a story then a follow-up about it (rename, add a
    /// word, the same character, go on); see `slm_data::instruct::InstructOptions`.
    #[serde(default)]
    pub follow_up_share: f64,
    /// Conversations made per story (each from a different seed).
    #[serde(default = "default_variants")]
    pub variants: usize,
    /// Ask only for words the story uses in its first this-many sentences (unset: anywhere),
    /// so that the model learns to bring requested words in; see
    /// `slm_data::instruct::InstructOptions::word_sentences`.
    #[serde(default)]
    pub word_sentences: Option<usize>,
    /// Loss weight of the reply tokens where the story first uses a requested word or name
    /// (unset: 1, like every other reply token). The request changes few of a reply's
    /// tokens, so following it weighs little in the mean loss; this makes those few count.
    #[serde(default)]
    pub word_weight: Option<f64>,
    /// Give `word_weight` to the plan line's copies of the requested words and names too.
    /// Without it the plan line (weight 1) counts for less as `word_weight` grows, and it
    /// repeats fewer of the requested words; a word left out of the plan is seldom used.
    #[serde(default)]
    pub emphasize_plan: bool,
}

fn default_instruct_share() -> f64 {
    0.75
}
fn default_off_topic_share() -> f64 {
    0.05
}
fn default_two_turn_share() -> f64 {
    0.1
}
fn default_variants() -> usize {
    2
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Prepared training shards (an `slm-data` directory).
    pub train: PathBuf,
    /// Prepared validation shards.
    pub valid: PathBuf,
    /// tokenizer.json used to prepare the shards; copied by `export`. When absent the app
    /// looks for `tokenizer.json` in the train directory and its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// Vocabulary rows the softmax covers. Absent (the default): all `model.vocab_size`
    /// rows, so rows the tokenizer never produces are trained down to ~zero probability and
    /// transformers, llama.cpp and our engine see the same distribution. Setting it to the
    /// tokenizer's size skips the padding rows' logits; the first 6-layer models were
    /// trained that way and leaked probability onto those rows (docs/training.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_vocab: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate (reached at the end of warmup).
    pub lr: f64,
    /// Floor the cosine decays to at `max_steps`.
    pub min_lr: f64,
    pub warmup_steps: u64,
    /// Total optimizer steps of the run.
    pub max_steps: u64,
    /// Decoupled weight decay, applied to matrices only (not to norm gains).
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Global gradient-norm clip; 0 disables clipping.
    pub grad_clip: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 100,
            max_steps: 1000,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            grad_clip: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Sequences per forward/backward pass.
    pub micro_batch: usize,
    /// Micro-batches whose gradients are averaged into one optimizer step.
    #[serde(default = "one")]
    pub accum_steps: usize,
    /// Tokens per training sequence (windows of `seq_len + 1` give inputs and targets).
    pub seq_len: usize,
}

impl BatchConfig {
    /// Tokens consumed by one optimizer step.
    pub fn tokens_per_step(&self) -> usize {
        self.micro_batch * self.accum_steps * self.seq_len
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Save every this many optimizer steps (0: only at the end and on Ctrl-C).
    pub every: u64,
    /// Complete checkpoints kept; older ones are deleted.
    pub keep: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every: 500,
            keep: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Evaluate every this many optimizer steps (0: only at the end).
    pub every: u64,
    /// Evaluate on at most this many validation windows (the first ones, a fixed subset);
    /// absent: the whole validation set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_windows: Option<usize>,
    /// Windows per evaluation forward pass.
    pub batch_size: usize,
    /// Stories sampled and logged at each evaluation.
    pub samples: usize,
    /// Tokens generated per sampled story.
    pub sample_tokens: usize,
    pub temperature: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            every: 250,
            max_windows: None,
            batch_size: 8,
            samples: 2,
            sample_tokens: 64,
            temperature: f64::from(slm_model::SamplingParams::default().temperature),
        }
    }
}

fn default_seed() -> u64 {
    1337
}
fn default_log_every() -> u64 {
    1
}
fn one() -> usize {
    1
}

impl TrainConfig {
    /// Loads `path` (TOML), applies `SLM_TRAIN__…` environment variables, then `overrides`
    /// (`("optim.lr", "3e-4")` pairs, e.g. from CLI flags), and validates the result.
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Self, TrainError> {
        let env = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true);
        Self::load_with_env(path, overrides, env)
    }

    fn load_with_env(
        path: &Path,
        overrides: &[(String, String)],
        env: config::Environment,
    ) -> Result<Self, TrainError> {
        if !path.is_file() {
            return Err(TrainError::Config(format!(
                "config file {} does not exist",
                path.display()
            )));
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(env);
        for (key, value) in overrides {
            builder = builder
                .set_override(key.as_str(), parse_scalar(value))
                .map_err(|e| TrainError::Config(format!("override {key}={value}: {e}")))?;
        }
        let cfg: TrainConfig = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text directly (no environment), validating it.
    pub fn from_toml(text: &str) -> Result<Self, TrainError> {
        let cfg: TrainConfig =
            toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("TrainConfig always serializes to TOML")
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        let fail = |m: String| Err(TrainError::Config(m));
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return fail(format!("optim.lr must be positive, got {}", o.lr));
        }
        if !(o.min_lr.is_finite() && o.min_lr >= 0.0 && o.min_lr <= o.lr) {
            return fail(format!("optim.min_lr must be in [0, lr], got {}", o.min_lr));
        }
        if o.max_steps == 0 {
            return fail("optim.max_steps must be positive".into());
        }
        for (name, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return fail(format!("optim.{name} must be in [0, 1), got {b}"));
            }
        }
        if !(o.eps > 0.0 && o.weight_decay >= 0.0 && o.grad_clip >= 0.0) {
            return fail(
                "optim.eps must be positive; weight_decay and grad_clip non-negative".into(),
            );
        }
        if let Some(n) = self.data.loss_vocab
            && !(1..=self.model.vocab_size).contains(&n)
        {
            return fail(format!(
                "data.loss_vocab must be in 1..={} (model.vocab_size), got {n}",
                self.model.vocab_size
            ));
        }
        if let Some(i) = &self.instruct {
            let share = |x: f64| (0.0..=1.0).contains(&x);
            if i.stories.is_empty()
                || i.variants == 0
                || !share(i.share)
                || !share(i.off_topic_share)
                || !share(i.two_turn_share)
                || !share(i.follow_up_share)
                || i.word_sentences == Some(0)
                || i.word_weight.is_some_and(|w| !(w.is_finite() && w > 0.0))
            {
                return fail(
                    "instruct needs stories, variants ≥ 1, word_sentences ≥ 1 and word_weight > 0 \
                     when set, and share, off_topic_share, two_turn_share, follow_up_share in [0, 1]"
                        .into(),
                );
            }
        }
        let b = &self.batch;
        if b.micro_batch == 0 || b.accum_steps == 0 || b.seq_len == 0 {
            return fail(
                "batch.micro_batch, batch.accum_steps and batch.seq_len must be positive".into(),
            );
        }
        if b.seq_len > self.model.max_seq_len {
            return fail(format!(
                "batch.seq_len ({}) exceeds model.max_seq_len ({})",
                b.seq_len, self.model.max_seq_len
            ));
        }
        if self.checkpoint.keep == 0 {
            return fail("checkpoint.keep must be at least 1".into());
        }
        if self.eval.batch_size == 0 {
            return fail("eval.batch_size must be positive".into());
        }
        if !(self.eval.temperature.is_finite() && self.eval.temperature >= 0.0) {
            return fail("eval.temperature must be non-negative".into());
        }
        if self.log_every == 0 {
            return fail("log_every must be positive".into());
        }
        Ok(())
    }

    /// Hash of everything that shapes the loss curve (model, optimizer, batch, seed,
    /// precision). Recorded in checkpoints so a resume under a different recipe is noticed.
    /// Logit rows the loss, evaluation and samples use (see [`DataConfig::loss_vocab`]).
    pub fn logit_rows(&self) -> usize {
        self.data.loss_vocab.unwrap_or(self.model.vocab_size)
    }

    pub fn recipe_hash(&self) -> String {
        let recipe = serde_json::json!({
            "model": self.model,
            "optim": self.optim,
            "batch": self.batch,
            "seed": self.seed,
            "precision": self.precision,
            "loss_vocab": self.logit_rows(),
            "instruct": self.instruct,
        });
        let digest = Sha256::digest(recipe.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// CLI/override values arrive as text: give numbers and booleans their natural type so
/// they deserialize into numeric fields.
fn parse_scalar(value: &str) -> config::Value {
    if let Ok(i) = value.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = value.parse::<f64>() {
        return f.into();
    }
    match value {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
seed = 7
[model]
dim = 32
n_layers = 1
n_heads = 2
n_kv_heads = 2
hidden_dim = 64
vocab_size = 100
max_seq_len = 32
rope_theta = 10000.0
norm_eps = 1e-5
tied = true
[data]
train = "t"
valid = "v"
[optim]
lr = 0.01
max_steps = 10
warmup_steps = 2
[batch]
micro_batch = 2
seq_len = 16
"#;

    #[test]
    fn env_and_overrides_take_precedence_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, TOML).unwrap();

        let base = TrainConfig::load(&path, &[]).unwrap();
        assert_eq!(base.optim.lr, 0.01);
        assert_eq!(base.batch.accum_steps, 1);

        // A custom source stands in for the process environment (tests run in parallel).
        let env = |pairs: &[(&str, &str)]| {
            let map = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::HashMap<_, _>>();
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(map))
        };
        let cfg = TrainConfig::load_with_env(
            &path,
            &[],
            env(&[
                ("SLM_TRAIN__OPTIM__LR", "0.5"),
                ("SLM_TRAIN__BATCH__ACCUM_STEPS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.optim.lr, 0.5);
        assert_eq!(cfg.batch.accum_steps, 4);

        let cfg = TrainConfig::load_with_env(
            &path,
            &[("optim.lr".into(), "0.25".into())],
            env(&[("SLM_TRAIN__OPTIM__LR", "0.5")]),
        )
        .unwrap();
        assert_eq!(
            cfg.optim.lr, 0.25,
            "explicit overrides beat the environment"
        );

        // The resolved TOML round-trips.
        assert_eq!(TrainConfig::from_toml(&cfg.to_toml()).unwrap(), cfg);
    }

    #[test]
    fn bad_configs_are_refused_with_the_field_named() {
        let err = TrainConfig::from_toml(&TOML.replace("seq_len = 16", "seq_len = 64"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_seq_len"), "{err}");
        let err = TrainConfig::from_toml(&TOML.replace("lr = 0.01", "lrr = 0.01"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lrr"), "{err}");
        let err = TrainConfig::load(Path::new("/nonexistent/x.toml"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        for bad in ["0", "101"] {
            let err = TrainConfig::from_toml(&TOML.replace(
                "valid = \"v\"",
                &format!("valid = \"v\"\nloss_vocab = {bad}"),
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains("data.loss_vocab"), "{err}");
        }
        let cfg = TrainConfig::from_toml(
            &TOML.replace("valid = \"v\"", "valid = \"v\"\nloss_vocab = 60"),
        )
        .unwrap();
        assert_eq!(cfg.logit_rows(), 60);
        assert_eq!(TrainConfig::from_toml(TOML).unwrap().logit_rows(), 100);
        let instruct = |extra: &str| {
            TrainConfig::from_toml(&format!(
                "{TOML}\n[instruct]\nstories = [\"s.txt\"]\n{extra}"
            ))
        };
        let cfg = instruct("word_sentences = 3").unwrap();
        assert_eq!(cfg.instruct.unwrap().word_sentences, Some(3));
        assert_eq!(instruct("").unwrap().instruct.unwrap().word_sentences, None);
        assert_eq!(
            instruct("word_weight = 4.0")
                .unwrap()
                .instruct
                .unwrap()
                .word_weight,
            Some(4.0)
        );
        for bad in [
            "word_sentences = 0",
            "variants = 0",
            "share = 1.5",
            "word_weight = 0.0",
            "word_weight = -2.0",
            "word_weight = nan",
        ] {
            let err = instruct(bad).unwrap_err().to_string();
            assert!(err.contains("instruct needs"), "{bad}: {err}");
        }
    }

    #[test]
    fn recipe_hash_tracks_the_recipe_only() {
        let a = TrainConfig::from_toml(TOML).unwrap();
        let mut b = a.clone();
        b.eval.every = 99;
        assert_eq!(a.recipe_hash(), b.recipe_hash());
        b.optim.lr = 0.02;
        assert_ne!(a.recipe_hash(), b.recipe_hash());
    }
}
