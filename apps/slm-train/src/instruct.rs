//! Instruction tuning data: conversations made from story files (`slm_data::instruct`),
//! tokenized in the chat format with the prompts marked context-only, so the loss covers
//! the replies alone.

use std::path::PathBuf;

use anyhow::Context;
use rayon::prelude::*;
use slm_data::instruct::{Conversation, InstructOptions, conversations};
use slm_data::{CleanOptions, Cleaner, StoryStream};
use slm_tokenizer::{ChatTemplate, Tokenizer};
use slm_trainer::{CONTEXT_ONLY, ExampleWindows, InstructConfig};

/// Cleaned stories of `paths`, in order (the cleaning `prepare` applies).
pub fn read_stories(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut stream = StoryStream::new(
        paths,
        Cleaner::new(CleanOptions::default()),
        indicatif::ProgressBar::hidden(),
    );
    let stories: Vec<String> = stream.by_ref().collect();
    if let Some(e) = stream.take_error() {
        return Err(e).context("reading stories");
    }
    Ok(stories)
}

/// The tokens of one conversation in the chat format; everything but the replies and
/// their closing `<|endoftext|>` carries [`CONTEXT_ONLY`].
pub fn conversation_tokens(
    conv: &Conversation,
    tok: &Tokenizer,
    template: &ChatTemplate,
) -> anyhow::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for r in conv {
        ids.push(template.user | CONTEXT_ONLY);
        ids.extend(
            template
                .encode_text(tok, &r.prompt)?
                .into_iter()
                .map(|t| t | CONTEXT_ONLY),
        );
        ids.push(template.assistant | CONTEXT_ONLY);
        ids.extend(template.encode_text(tok, &r.reply)?);
        ids.push(template.end);
    }
    Ok(ids)
}

/// Training windows over `cfg.variants` conversation sets made from `cfg.stories`.
pub fn example_windows(
    cfg: &InstructConfig,
    tok: &Tokenizer,
    template: &ChatTemplate,
    window_len: usize,
    seed: u64,
) -> anyhow::Result<ExampleWindows> {
    let stories = read_stories(&cfg.stories)?;
    let stories: Vec<&str> = stories.iter().map(String::as_str).collect();
    let mut convs = Vec::new();
    for v in 0..cfg.variants as u64 {
        let opts = InstructOptions {
            seed: seed.wrapping_add(v.wrapping_mul(0x9E37_79B9)),
            off_topic_share: cfg.off_topic_share,
            two_turn_share: cfg.two_turn_share,
            held_out_questions: false,
        };
        convs.extend(conversations(&stories, &opts));
    }
    let examples = convs
        .par_iter()
        .map(|c| conversation_tokens(c, tok, template))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tokens: usize = examples.iter().map(Vec::len).sum();
    let trained = examples
        .iter()
        .flatten()
        .filter(|&&t| t & CONTEXT_ONLY == 0)
        .count();
    tracing::info!(
        stories = stories.len(),
        conversations = examples.len(),
        tokens,
        reply_tokens = trained,
        "instruction data"
    );
    Ok(ExampleWindows::new(examples, window_len, seed)?)
}
