//! `slm-train sample-quality`: samples fixed prompts × seeds with the inference engine and
//! prints how repetitive the stories are, as JSON:
//! - `loop_share`: the share of samples in which some word 4-gram occurs 3 or more times
//!   (a story stuck in a loop such as "the sun was shining, and the sun was shining");
//! - `distinct_2` / `distinct_3`: distinct word bigrams / trigrams over all n-grams of all
//!   samples (Li et al., 2016): higher means more varied text.
//!
//! Words are lower-cased and stripped of surrounding punctuation.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, bail};
use slm_infer::{Engine, EngineOptions, GenerateRequest, SamplingParams, WeightDtype};

/// The default prompts: openings in the style of the training stories, each a different
/// situation, so loops cannot come from one unlucky prompt.
const PROMPTS: [&str; 20] = [
    "Once upon a time",
    "Lily wanted to play in the park",
    "Tom had a red ball",
    "One day, a little cat",
    "The sun was shining and",
    "Ben and his mom went to the store",
    "There was a big tree in the garden",
    "Sara found a shiny key",
    "The little bird could not fly",
    "Max was a happy dog",
    "Anna and her brother built a castle",
    "It was raining, so Tim",
    "A small fish lived in the sea",
    "Mia did not want to go to bed",
    "The old man had a boat",
    "Jack saw a strange box",
    "Lucy loved to paint",
    "The bear was hungry",
    "Sam and Zoe were best friends",
    "In a small town, there lived a girl named Kate",
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Prompts file, one prompt per line (default: 20 built-in story openings).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Samples per prompt, with seeds 1..=N.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Tokens per sample.
    #[arg(long, default_value_t = 200)]
    pub max_tokens: usize,
    /// Sampling settings; default: the model's generation.json.
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub presence_penalty: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub frequency_penalty: Option<f32>,
    #[arg(long)]
    pub dry_multiplier: Option<f32>,
    #[arg(long)]
    pub dry_base: Option<f32>,
    #[arg(long)]
    pub dry_allowed_length: Option<usize>,
    /// Also write every sample to this file, one JSON object per line
    /// (`prompt`, `seed`, `text`), for reading or further checks.
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Weight precision in memory (f16 keeps the file's numbers).
    #[arg(long, default_value = "f16")]
    pub dtype: WeightDtype,
}

pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Sampling settings for a report: every field but the seed, which varies per sample.
pub fn settings_json(sampling: &SamplingParams) -> serde_json::Value {
    let mut v = serde_json::to_value(sampling).expect("sampling settings serialize");
    if let Some(o) = v.as_object_mut() {
        o.remove("seed");
    }
    v
}

/// Whether some word `n`-gram occurs at least `times` times in `words`.
pub fn loops(words: &[String], n: usize, times: usize) -> bool {
    let mut counts: HashMap<&[String], usize> = HashMap::new();
    words.windows(n).any(|g| {
        let c = counts.entry(g).or_default();
        *c += 1;
        *c >= times
    })
}

/// Distinct `n`-grams over all n-grams of all samples (0 when there are none).
pub fn distinct(samples: &[Vec<String>], n: usize) -> f64 {
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for s in samples {
        for g in s.windows(n) {
            seen.insert(g);
            total += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        seen.len() as f64 / total as f64
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let prompts: Vec<String> = match &args.prompts {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None => PROMPTS.iter().map(|p| p.to_string()).collect(),
    };
    if prompts.is_empty() || args.seeds == 0 || args.max_tokens == 0 {
        bail!("need at least one prompt, one seed and one token per sample");
    }
    let total = prompts.len() * args.seeds as usize;
    let engine = Engine::load(
        &args.model,
        EngineOptions {
            weight_dtype: args.dtype,
            queue_capacity: total,
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", args.model.display()))?;
    let defaults = engine.info().generation.clone();
    let sampling = |seed| SamplingParams {
        temperature: args.temperature.unwrap_or(defaults.sampling.temperature),
        top_k: args.top_k.or(defaults.sampling.top_k),
        top_p: args.top_p.unwrap_or(defaults.sampling.top_p),
        presence_penalty: args
            .presence_penalty
            .unwrap_or(defaults.sampling.presence_penalty),
        frequency_penalty: args
            .frequency_penalty
            .unwrap_or(defaults.sampling.frequency_penalty),
        dry_multiplier: args
            .dry_multiplier
            .unwrap_or(defaults.sampling.dry_multiplier),
        dry_base: args.dry_base.unwrap_or(defaults.sampling.dry_base),
        dry_allowed_length: args
            .dry_allowed_length
            .unwrap_or(defaults.sampling.dry_allowed_length),
        ..defaults.sampling(Some(seed))
    };
    // Submit everything, then collect: the engine batches the requests.
    let mut streams = Vec::new();
    for prompt in &prompts {
        for seed in 1..=args.seeds {
            let req = GenerateRequest {
                prompt: prompt.clone(),
                max_tokens: args.max_tokens,
                sampling: sampling(seed),
                ..Default::default()
            };
            let stream = engine.submit(req).context("submitting a sample")?;
            streams.push((stream, prompt, seed));
        }
    }
    let mut samples = Vec::new();
    let mut texts = String::new();
    let mut tokens = 0usize;
    for (stream, prompt, seed) in streams {
        let done = stream.wait().context("sampling")?;
        tokens += done.usage.completion_tokens;
        samples.push(words(&done.text));
        let line = serde_json::json!({"prompt": prompt, "seed": seed, "text": done.text});
        texts.push_str(&format!("{line}\n"));
    }
    if let Some(path) = &args.texts {
        std::fs::write(path, texts).with_context(|| format!("writing {}", path.display()))?;
    }
    let looping = samples.iter().filter(|w| loops(w, 4, 3)).count();
    let report = serde_json::json!({
        "model": args.model,
        "prompts": prompts.len(),
        "seeds": args.seeds,
        "samples": samples.len(),
        "max_tokens": args.max_tokens,
        "sampling": settings_json(&sampling(1)),
        "dtype": args.dtype,
        "completion_tokens": tokens,
        "looping_samples": looping,
        "loop_share": looping as f64 / samples.len() as f64,
        "distinct_2": distinct(&samples, 2),
        "distinct_3": distinct(&samples, 3),
        "mean_words": samples.iter().map(Vec::len).sum::<usize>() as f64 / samples.len() as f64,
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn words_are_lowercased_without_punctuation() {
        assert_eq!(
            w("The sun, \"was\" SHINING!"),
            ["the", "sun", "was", "shining"]
        );
    }

    #[test]
    fn a_four_gram_three_times_is_a_loop() {
        let looping = w("The sun was shining. The sun was shining, and the sun was shining.");
        assert!(loops(&looping, 4, 3));
        let twice = w("The sun was shining. Then the sun was shining again.");
        assert!(!loops(&twice, 4, 3));
        assert!(!loops(&w("a b c"), 4, 3));
    }

    #[test]
    fn distinct_counts_over_all_samples() {
        let s = vec![w("a b a b"), w("a b c")];
        // bigrams: ab ba ab | ab bc -> 3 distinct of 5
        assert!((distinct(&s, 2) - 3.0 / 5.0).abs() < 1e-12);
        assert_eq!(distinct(&[w("a")], 2), 0.0);
    }
}
