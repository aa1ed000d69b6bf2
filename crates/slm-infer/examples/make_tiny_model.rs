//! Writes the tiny random-weight test model (`models/tiny-random`): a
//! ~512-token BPE tokenizer trained on the TinyStories fixtures in `../shared` (or on
//! the story text below when none are found) and a 2-layer GQA Transformer
//! with random f16 weights.
//!
//! `cargo run -p slm-infer --example make_tiny_model -- --out models/tiny-random`

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use slm_infer::{FileDtype, ModelConfig};
use slm_testdata::random_model;
use slm_tokenizer::{Tokenizer, TrainOptions};

#[derive(Parser)]
struct Args {
    /// Output model directory.
    #[arg(long, default_value = "models/tiny-random")]
    out: PathBuf,
    /// Directory of .txt fixtures to train the tokenizer on.
    #[arg(long, default_value = "../shared/datasets/fixtures")]
    fixtures: PathBuf,
    #[arg(long, default_value_t = 512)]
    vocab_size: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

const EMBEDDED: &str = "Once upon a time, there was a little girl named Lily. She liked to play \
outside in the sun. One day, she saw a big red ball in the park. \"Can I play with you?\" she \
asked the boy. The boy smiled and said, \"Yes! Let's play together.\" They played all day and \
had lots of fun. When the sun went down, Lily went home. She told her mom about her new friend. \
Her mom was happy. The end.
<|endoftext|>
Tom had a small dog called Max. Max loved to run and jump. One morning, Max found a shiny \
stone under a tree. Tom said, \"Wow, Max! That is a pretty stone.\" They put the stone in a box \
and kept it safe. Every night, Tom looked at the stone and smiled. He was glad to have a friend \
like Max.
<|endoftext|>
There once was a kind bird who lived in a tall tree. The bird sang songs to all the animals in \
the forest. A sad bunny heard the song and felt better. \"Thank you, bird,\" said the bunny. The \
bird was happy to help. From that day on, the bird and the bunny were best friends.";

fn training_text(fixtures: &Path) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    if fixtures.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures)
            .with_context(|| format!("reading {}", fixtures.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        for p in paths {
            texts.push(
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
            );
        }
    }
    if texts.is_empty() {
        eprintln!(
            "no .txt fixtures under {}; training on embedded text",
            fixtures.display()
        );
        texts.push(EMBEDDED.to_string());
    }
    Ok(texts)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let texts = training_text(&args.fixtures)?;
    let lines: Vec<String> = texts
        .iter()
        .flat_map(|t| t.lines().map(str::to_string))
        .collect();
    let tokenizer = Tokenizer::train_from_iter(
        lines.iter(),
        &TrainOptions {
            vocab_size: args.vocab_size,
            min_frequency: 1,
            ..Default::default()
        },
    )
    .context("training the tokenizer")?;
    let cfg = ModelConfig {
        dim: 64,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        hidden_dim: 128,
        vocab_size: tokenizer.vocab_size(),
        max_seq_len: 128,
        rope_theta: 10000.0,
        norm_eps: 1e-5,
        tied: true,
        dropout: 0.0,
    };
    random_model::write_random_model(&args.out, &cfg, FileDtype::F16, args.seed, &tokenizer)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} (vocab {}, {} params)",
        args.out.display(),
        cfg.vocab_size,
        cfg.num_params()
    );
    Ok(())
}
