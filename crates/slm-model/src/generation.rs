//! How a model generates by default: the sampling settings of one generation
//! ([`SamplingParams`], one default and one validator for every caller: the engine, the
//! HTTP API, the trainer's samples) and the model directory's `generation.json` that
//! stores a model's own defaults ([`GenerationDefaults`], read by
//! [`read_generation_defaults`], which also understands Hugging Face's
//! `generation_config.json`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Our sampling defaults in a model directory.
pub const GENERATION_FILE: &str = "generation.json";
/// Hugging Face's sampling defaults, read when [`GENERATION_FILE`] is absent.
pub const HF_GENERATION_FILE: &str = "generation_config.json";

/// Highest temperature (OpenAI's bound; above it samples are noise).
pub const MAX_TEMPERATURE: f32 = 2.0;
/// OpenAI's bound on the presence and frequency penalties.
pub const MAX_PENALTY: f32 = 2.0;
/// Bounds of the DRY settings (see [`SamplingParams::dry_multiplier`]).
pub const MAX_DRY_MULTIPLIER: f32 = 5.0;
pub const MAX_DRY_BASE: f32 = 4.0;
pub const MAX_DRY_ALLOWED_LENGTH: usize = 64;

/// How to pick the next token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature in [0, [`MAX_TEMPERATURE`]]; 0 picks the most likely token
    /// (greedy).
    pub temperature: f32,
    /// Keep only the k most likely tokens; `Some(0)`, like `None`, keeps every token
    /// (what 0 means in generation_config.json and the HTTP API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability mass
    /// reaches `top_p` (1.0 keeps everything).
    pub top_p: f32,
    /// RNG seed; `None` draws one from the OS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// OpenAI's presence penalty: subtracted once from the logit of every
    /// token this sampler has already returned (in [-2, 2]; 0: off).
    pub presence_penalty: f32,
    /// OpenAI's frequency penalty: subtracted from a token's logit once per
    /// time this sampler has returned it (in [-2, 2]; 0: off).
    pub frequency_penalty: f32,
    /// DRY ("don't repeat yourself", as in llama.cpp): when the tokens
    /// returned so far end with a sequence of `n >= dry_allowed_length`
    /// tokens that already occurred earlier among them, the token that
    /// followed that earlier occurrence loses
    /// `dry_multiplier * dry_base^(n - dry_allowed_length)` from its logit.
    /// Stops loops while leaving single words (names) free to recur.
    /// 0 (the default): off; at most [`MAX_DRY_MULTIPLIER`].
    pub dry_multiplier: f32,
    /// Growth of the DRY penalty per repeated token, in [1, [`MAX_DRY_BASE`]].
    pub dry_base: f32,
    /// Longest repeat DRY leaves unpenalised, in 1..=[`MAX_DRY_ALLOWED_LENGTH`].
    pub dry_allowed_length: usize,
}

impl Default for SamplingParams {
    /// The settings of a model directory without `generation.json`: mildly sharpened,
    /// with the unlikely tail cut, and no penalties.
    fn default() -> Self {
        SamplingParams {
            temperature: 0.8,
            top_k: None,
            top_p: 0.95,
            seed: None,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
        }
    }
}

/// A setting outside its range: which field, and a message that says the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidSetting {
    /// The field's name as the HTTP API and generation.json spell it.
    pub field: &'static str,
    pub message: String,
}

impl InvalidSetting {
    fn new(field: &'static str, message: String) -> Self {
        InvalidSetting { field, message }
    }
}

impl SamplingParams {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        SamplingParams {
            temperature: 0.0,
            ..Default::default()
        }
    }

    /// The first field outside its range, if any.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let t = self.temperature;
        if !(t.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&t)) {
            return Err(InvalidSetting::new(
                "temperature",
                format!("temperature must be between 0 and {MAX_TEMPERATURE}, got {t}"),
            ));
        }
        let p = self.top_p;
        if !(p > 0.0 && p <= 1.0) {
            return Err(InvalidSetting::new(
                "top_p",
                format!("top_p must be greater than 0 and at most 1, got {p}"),
            ));
        }
        check_penalty("presence_penalty", self.presence_penalty)?;
        check_penalty("frequency_penalty", self.frequency_penalty)?;
        let m = self.dry_multiplier;
        if !(0.0..=MAX_DRY_MULTIPLIER).contains(&m) {
            return Err(InvalidSetting::new(
                "dry_multiplier",
                format!("dry_multiplier must be between 0 and {MAX_DRY_MULTIPLIER}, got {m}"),
            ));
        }
        let b = self.dry_base;
        if !(1.0..=MAX_DRY_BASE).contains(&b) {
            return Err(InvalidSetting::new(
                "dry_base",
                format!("dry_base must be between 1 and {MAX_DRY_BASE}, got {b}"),
            ));
        }
        let n = self.dry_allowed_length;
        if !(1..=MAX_DRY_ALLOWED_LENGTH).contains(&n) {
            return Err(InvalidSetting::new(
                "dry_allowed_length",
                format!(
                    "dry_allowed_length must be between 1 and {MAX_DRY_ALLOWED_LENGTH}, got {n}"
                ),
            ));
        }
        Ok(())
    }

    /// Whether any presence, frequency or DRY penalty is on.
    pub fn penalizes(&self) -> bool {
        self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 || self.dry_multiplier != 0.0
    }
}

/// A presence or frequency penalty must be finite and within ±[`MAX_PENALTY`].
fn check_penalty(field: &'static str, v: f32) -> Result<(), InvalidSetting> {
    if v.is_finite() && v.abs() <= MAX_PENALTY {
        Ok(())
    } else {
        Err(InvalidSetting::new(
            field,
            format!("{field} must be between -{MAX_PENALTY} and {MAX_PENALTY}, got {v}"),
        ))
    }
}

/// A request's or generation.json's `plan_bias` (plan-guided decoding of chat replies):
/// finite and ≥ 0.
pub fn check_plan_bias(bias: f32) -> Result<(), InvalidSetting> {
    if bias.is_finite() && bias >= 0.0 {
        Ok(())
    } else {
        Err(InvalidSetting::new(
            "plan_bias",
            format!("plan_bias must be finite and ≥ 0, got {bias}"),
        ))
    }
}

/// A model's default generation settings: `generation.json`, whose keys are
/// [`SamplingParams`]'s (without `seed`) plus `max_tokens` and `plan_bias`; all optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationDefaults {
    #[serde(flatten)]
    pub sampling: SamplingParams,
    /// Completion length when a request gives none.
    pub max_tokens: usize,
    /// Plan-guided decoding for chat replies (`slm_infer::guide`); 0: off.
    pub plan_bias: f32,
}

impl Default for GenerationDefaults {
    fn default() -> Self {
        GenerationDefaults {
            sampling: SamplingParams::default(),
            max_tokens: 256,
            plan_bias: 0.0,
        }
    }
}

impl GenerationDefaults {
    /// These defaults as a request's sampling settings.
    pub fn sampling(&self, seed: Option<u64>) -> SamplingParams {
        SamplingParams {
            seed,
            ..self.sampling.clone()
        }
    }

    /// The first setting outside its range, if any.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.sampling.validate()?;
        check_plan_bias(self.plan_bias)
    }
}

/// A model directory's sampling defaults: [`GENERATION_FILE`]; else
/// [`HF_GENERATION_FILE`] (`temperature`, `top_k`, `top_p`, `max_new_tokens`; missing keys
/// keep ours); else [`GenerationDefaults::default`]. Values out of range are refused
/// naming the file.
pub fn read_generation_defaults(dir: &Path) -> Result<GenerationDefaults, ModelError> {
    let read = |path: &Path| match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ModelError::io(path, source)),
    };
    let bad = |path: &Path, message: String| ModelError::InvalidFile {
        path: path.to_path_buf(),
        message,
    };
    let ours = dir.join(GENERATION_FILE);
    let hf = dir.join(HF_GENERATION_FILE);
    let (path, g) = if let Some(text) = read(&ours)? {
        let mut g: GenerationDefaults =
            serde_json::from_str(&text).map_err(|e| bad(&ours, e.to_string()))?;
        // A default seed would make every request that gives none draw the same text.
        g.sampling.seed = None;
        (ours, g)
    } else if let Some(text) = read(&hf)? {
        #[derive(Deserialize)]
        struct HfGeneration {
            temperature: Option<f32>,
            top_k: Option<usize>,
            top_p: Option<f32>,
            max_new_tokens: Option<usize>,
        }
        let g: HfGeneration = serde_json::from_str(&text).map_err(|e| bad(&hf, e.to_string()))?;
        let d = GenerationDefaults::default();
        let g = GenerationDefaults {
            sampling: SamplingParams {
                temperature: g.temperature.unwrap_or(d.sampling.temperature),
                top_k: g.top_k.or(d.sampling.top_k),
                top_p: g.top_p.unwrap_or(d.sampling.top_p),
                ..d.sampling
            },
            max_tokens: g.max_new_tokens.unwrap_or(d.max_tokens),
            ..d
        };
        (hf, g)
    } else {
        return Ok(GenerationDefaults::default());
    };
    g.validate().map_err(|e| bad(&path, e.message))?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_p: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            top_p,
            ..Default::default()
        }
    }

    fn field(p: &SamplingParams) -> &'static str {
        p.validate().unwrap_err().field
    }

    #[test]
    fn invalid_params_are_named() {
        for t in [-1.0, f32::NAN, f32::INFINITY, 2.01] {
            assert_eq!(field(&params(t, 1.0)), "temperature", "{t}");
        }
        for p in [0.0, -0.1, 1.5, f32::NAN] {
            assert_eq!(field(&params(1.0, p)), "top_p", "{p}");
        }
        let err = params(3.0, 1.0).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "temperature must be between 0 and 2, got 3"
        );
        params(0.0, 1.0).validate().unwrap();
        params(2.0, f32::MIN_POSITIVE).validate().unwrap();
        // top_k 0 is "off", as in generation_config.json and the API.
        SamplingParams {
            top_k: Some(0),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn penalties_out_of_range_are_named() {
        for (presence, frequency, name) in [
            (2.5, 0.0, "presence_penalty"),
            (f32::NAN, 0.0, "presence_penalty"),
            (0.0, -2.01, "frequency_penalty"),
            (0.0, f32::INFINITY, "frequency_penalty"),
        ] {
            let p = SamplingParams {
                presence_penalty: presence,
                frequency_penalty: frequency,
                ..Default::default()
            };
            assert_eq!(field(&p), name);
        }
        let ok = SamplingParams {
            presence_penalty: -2.0,
            frequency_penalty: 2.0,
            dry_multiplier: 5.0,
            dry_base: 4.0,
            dry_allowed_length: 64,
            ..Default::default()
        };
        ok.validate().unwrap();
        for (multiplier, base, allowed, name) in [
            (-0.1, 1.75, 2, "dry_multiplier"),
            (f32::NAN, 1.75, 2, "dry_multiplier"),
            (0.8, 0.9, 2, "dry_base"),
            (0.8, 1.75, 0, "dry_allowed_length"),
            (0.8, 1.75, 65, "dry_allowed_length"),
        ] {
            let p = SamplingParams {
                dry_multiplier: multiplier,
                dry_base: base,
                dry_allowed_length: allowed,
                ..Default::default()
            };
            assert_eq!(field(&p), name);
        }
    }

    #[test]
    fn generation_json_keeps_its_flat_keys() {
        let g = GenerationDefaults {
            sampling: SamplingParams {
                top_k: Some(40),
                dry_multiplier: 0.8,
                ..Default::default()
            },
            plan_bias: 5.0,
            ..Default::default()
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["top_k"], 40);
        assert_eq!(v["plan_bias"], 5.0);
        assert!(
            v.get("seed").is_none() && v.get("sampling").is_none(),
            "{v}"
        );
        let back: GenerationDefaults = serde_json::from_value(v).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn sampling_defaults_come_from_ours_then_hugging_faces_file() {
        let dir = tempfile::tempdir().unwrap();
        let read = || read_generation_defaults(dir.path());
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        assert_eq!(read().unwrap(), GenerationDefaults::default());
        write(
            HF_GENERATION_FILE,
            r#"{"temperature": 0.6, "top_k": 50, "max_new_tokens": 100, "eos_token_id": 2}"#,
        );
        let hf = read().unwrap();
        assert_eq!(
            (hf.sampling.temperature, hf.sampling.top_k, hf.max_tokens),
            (0.6, Some(50), 100)
        );
        assert_eq!(hf.sampling.top_p, SamplingParams::default().top_p);
        write(HF_GENERATION_FILE, r#"{"temperature": 7}"#);
        let err = read().unwrap_err().to_string();
        assert!(
            err.contains(HF_GENERATION_FILE) && err.contains("temperature must be"),
            "{err}"
        );
        write(GENERATION_FILE, r#"{"temperature": 0.3, "seed": 9}"#);
        let g = read().unwrap();
        assert_eq!((g.sampling.temperature, g.sampling.seed), (0.3, None));
        write(GENERATION_FILE, r#"{"top_k": 0}"#);
        assert_eq!(read().unwrap().sampling(Some(1)).validate(), Ok(()));
        for (text, message) in [
            (r#"{"plan_bias": -1}"#, "plan_bias must be"),
            (r#"{"frequency_penalty": 3}"#, "frequency_penalty must be"),
            (r#"{"top_p": 0}"#, "top_p must be"),
            ("{oops", GENERATION_FILE),
        ] {
            write(GENERATION_FILE, text);
            let err = read().unwrap_err().to_string();
            assert!(
                err.contains(message) && err.contains(GENERATION_FILE),
                "{err}"
            );
        }
        write(GENERATION_FILE, r#"{"presence_penalty": 0.5}"#);
        let g = read().unwrap();
        assert_eq!(
            (g.sampling.presence_penalty, g.sampling.frequency_penalty),
            (0.5, 0.0)
        );
    }
}
