//! Instruction tuning data: conversations made from story files (`slm_data::instruct`),
//! tokenized in the chat format with the prompts marked context-only, so the loss covers
//! the replies alone.

use std::path::PathBuf;

use anyhow::Context;
use rayon::prelude::*;
use slm_data::instruct::{
    Conversation, InstructOptions, Request, conversations, first_uses, story_of,
};
use slm_data::{CleanOptions, Cleaner, StoryStream};
use slm_tokenizer::{ChatTemplate, Tokenizer};
use slm_trainer::{CONTEXT_ONLY, EMPHASIS, ExampleWindows, InstructConfig};

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

/// The tokens of one conversation in the chat format; everything but the last reply and
/// its closing `<|endoftext|>` carries [`CONTEXT_ONLY`] (earlier exchanges are what a
/// follow-up refers to), and the tokens of each requested word's and name's first use in
/// the last reply's story (and, with `emphasize_plan`, in its plan line) carry
/// [`EMPHASIS`].
pub fn conversation_tokens(
    conv: &Conversation,
    tok: &Tokenizer,
    template: &ChatTemplate,
    emphasize_plan: bool,
) -> anyhow::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for (i, r) in conv.iter().enumerate() {
        let context = if i + 1 < conv.len() { CONTEXT_ONLY } else { 0 };
        ids.push(template.user | CONTEXT_ONLY);
        ids.extend(
            template
                .encode_text(tok, &r.prompt)?
                .into_iter()
                .map(|t| t | CONTEXT_ONLY),
        );
        ids.push(template.assistant | CONTEXT_ONLY);
        let mut reply = template.encode_text(tok, &r.reply)?;
        if context == 0 {
            emphasize_first_uses(&mut reply, r, tok, emphasize_plan)?;
        }
        ids.extend(reply.into_iter().map(|t| t | context));
        ids.push(template.end | context);
    }
    Ok(ids)
}

/// Sets [`EMPHASIS`] on the tokens of `reply` (the tokens of `request.reply`) that overlap
/// the first use of a requested word or name in the reply's story (after the plan line,
/// which only repeats the request) and, with `plan`, their first copies in the plan line.
fn emphasize_first_uses(
    reply: &mut [u32],
    request: &Request,
    tok: &Tokenizer,
    plan: bool,
) -> anyhow::Result<()> {
    let story = story_of(&request.reply);
    let skip = request.reply.len() - story.len();
    let mut ranges: Vec<_> = first_uses(story, &request.words, &request.names)
        .into_iter()
        .map(|r| skip + r.start..skip + r.end)
        .collect();
    if plan {
        ranges.extend(first_uses(
            &request.reply[..skip],
            &request.words,
            &request.names,
        ));
    }
    if ranges.is_empty() {
        return Ok(());
    }
    let mut start = 0;
    for t in reply.iter_mut() {
        let len = tok
            .token_bytes(*t)
            .with_context(|| format!("token {t} has no bytes"))?
            .len();
        let (s, e) = (start, start + len);
        if ranges.iter().any(|r| s < r.end && r.start < e) {
            *t |= EMPHASIS;
        }
        start = e;
    }
    anyhow::ensure!(
        start == request.reply.len(),
        "the reply's tokens spell {start} bytes, the reply has {}",
        request.reply.len()
    );
    Ok(())
}

/// The training conversations: `cfg.variants` sets made from `cfg.stories`, and the number
/// of stories they were made from.
pub fn training_conversations(
    cfg: &InstructConfig,
    seed: u64,
) -> anyhow::Result<(Vec<Conversation>, usize)> {
    let stories = read_stories(&cfg.stories)?;
    let stories: Vec<&str> = stories.iter().map(String::as_str).collect();
    let mut convs = Vec::new();
    for v in 0..cfg.variants as u64 {
        let opts = InstructOptions {
            seed: seed.wrapping_add(v.wrapping_mul(0x9E37_79B9)),
            off_topic_share: cfg.off_topic_share,
            two_turn_share: cfg.two_turn_share,
            follow_up_share: cfg.follow_up_share,
            held_out_questions: false,
            word_sentences: cfg.word_sentences,
        };
        convs.extend(conversations(&stories, &opts));
    }
    Ok((convs, stories.len()))
}

/// Training windows over [`training_conversations`].
pub fn example_windows(
    cfg: &InstructConfig,
    tok: &Tokenizer,
    template: &ChatTemplate,
    window_len: usize,
    seed: u64,
) -> anyhow::Result<ExampleWindows> {
    let (convs, stories) = training_conversations(cfg, seed)?;
    let examples = convs
        .par_iter()
        .map(|c| conversation_tokens(c, tok, template, cfg.emphasize_plan))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tokens: usize = examples.iter().map(Vec::len).sum();
    let count = |flag: u32, set: bool| {
        examples
            .iter()
            .flatten()
            .filter(|&&t| (t & flag != 0) == set)
            .count()
    };
    tracing::info!(
        stories,
        conversations = examples.len(),
        tokens,
        reply_tokens = count(CONTEXT_ONLY, false),
        first_use_tokens = count(EMPHASIS, true),
        word_weight = cfg.word_weight.unwrap_or(1.0),
        emphasize_plan = cfg.emphasize_plan,
        "instruction data"
    );
    Ok(ExampleWindows::new(examples, window_len, seed)?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use slm_data::instruct::RequestKind;
    use slm_tokenizer::Role;
    use slm_trainer::token_id;

    use super::*;

    /// With the chat model's tokenizer: exactly the tokens of each requested word's and
    /// name's first use in the story carry EMPHASIS (not the plan line's copies, not later
    /// uses), and the prompt stays context-only.
    #[test]
    fn first_uses_of_requested_words_are_emphasized() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok =
            Tokenizer::from_file(repo.join("models/tinystories-15m-chat/tokenizer.json")).unwrap();
        let template = ChatTemplate::of(&tok).unwrap();
        let prompt = "Tell me a story about Tom with the word \"jump\".";
        let reply = "Here is a story about Tom with the word \"jump\".\n\n\
                     Once there was a boy named Tom. He liked to jump. Tom jumped again.";
        let request = Request {
            prompt: prompt.into(),
            reply: reply.into(),
            words: vec!["jump".into()],
            names: vec!["Tom".into()],
            kind: RequestKind::Story,
        };
        let conv = vec![request];
        let emphasized = |plan: bool| {
            let ids = conversation_tokens(&conv, &tok, &template, plan).unwrap();
            let marked: Vec<u32> = ids
                .iter()
                .filter(|&&t| t & EMPHASIS != 0)
                .map(|&t| token_id(t))
                .collect();
            (ids, tok.decode(&marked).unwrap())
        };
        assert_eq!(emphasized(true).1, " Tomjump Tom jump");
        let (ids, marked) = emphasized(false);
        assert_eq!(marked, " Tom jump");
        assert!(
            ids.iter()
                .all(|&t| t & EMPHASIS == 0 || t & CONTEXT_ONLY == 0)
        );
        let plain: Vec<u32> = ids.iter().map(|&t| token_id(t)).collect();
        let messages = [(Role::User, prompt), (Role::Assistant, reply)];
        assert_eq!(plain, template.encode(&tok, &messages, false).unwrap());
    }

    /// In a two-exchange conversation only the last reply (and its end token) is trained:
    /// the first exchange is what the follow-up refers to.
    #[test]
    fn only_the_last_reply_is_trained() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok =
            Tokenizer::from_file(repo.join("models/tinystories-15m-chat/tokenizer.json")).unwrap();
        let template = ChatTemplate::of(&tok).unwrap();
        let request = |prompt: &str, reply: &str, name: &str| Request {
            prompt: prompt.into(),
            reply: reply.into(),
            words: Vec::new(),
            names: vec![name.into()],
            kind: RequestKind::Story,
        };
        let first = request("A story about Tom.", "Tom ran home.", "Tom");
        let second = request("Call Tom Max instead.", "Max ran home.", "Max");
        let ids = conversation_tokens(&vec![first, second], &tok, &template, true).unwrap();
        let trained: Vec<u32> = ids
            .iter()
            .filter(|&&t| t & CONTEXT_ONLY == 0)
            .map(|&t| token_id(t))
            .collect();
        assert_eq!(trained.last(), Some(&template.end));
        assert_eq!(
            tok.decode(&trained[..trained.len() - 1]).unwrap(),
            "Max ran home."
        );
        let emphasized: Vec<u32> = ids
            .iter()
            .filter(|&&t| t & EMPHASIS != 0)
            .map(|&t| token_id(t))
            .collect();
        assert_eq!(tok.decode(&emphasized).unwrap(), "Max");
    }

    /// The bundled chat model's data: no validation story (what `chat-eval` and the
    /// validation bits/byte use) is in any training conversation, whole or as the rest of
    /// a story to continue; and the data is the same every time.
    #[test]
    fn chat_training_data_holds_no_validation_story() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(repo.join("configs/tinystories-15m-chat.toml")).unwrap();
        let mut cfg = slm_trainer::TrainConfig::from_toml(&text).unwrap();
        let ic = cfg.instruct.as_mut().unwrap();
        ic.stories = ic.stories.iter().map(|p| repo.join(p)).collect();
        let (convs, _) = training_conversations(ic, cfg.seed).unwrap();
        let (again, _) = training_conversations(ic, cfg.seed).unwrap();
        assert!(convs == again, "the conversations are deterministic");
        let valid =
            read_stories(&[slm_testdata::shared_data("tinystories/valid.txt.zst")]).unwrap();
        assert!(valid.len() >= 900, "{}", valid.len());
        // Validation stories by their last 120 bytes (a Continue reply is a story's tail).
        let tail = |s: &str| s[s.floor_char_boundary(s.len().saturating_sub(120))..].to_string();
        let by_tail: HashMap<String, &str> =
            valid.iter().map(|s| (tail(s.trim()), s.trim())).collect();
        let mut checked = 0;
        for r in convs.iter().flatten() {
            let story = match r.kind {
                RequestKind::OffTopic => r.reply.split_once("\n\n").unwrap().1,
                _ => r.reply.as_str(),
            };
            if let Some(v) = by_tail.get(&tail(story)) {
                assert!(!v.ends_with(story), "validation story in training: {story}");
            }
            checked += 1;
        }
        assert!(checked > 20_000, "{checked}");
    }
}
