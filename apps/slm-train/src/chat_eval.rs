//! `slm-train chat-eval`: does the model tell the story a user asks for? Requests are made
//! from held-out (validation) stories the way the instruction data is made from training
//! stories, answered by the inference engine, and scored as JSON:
//! - `words_used`: the share of requested words (nouns, verbs, adjectives, animals) the story
//!   uses in some inflection ("jump" counts "jumped");
//! - `names_used`: the share of requested character names the story uses;
//!
//! where the story is the reply without its opening plan line ("Here is a story about Tim
//! with the words …", `slm_data::instruct::story_of`): repeating the request does not count.
//! - `in_character`: the share of off-topic questions ("What is the capital of France?",
//!   from a list never trained on) whose reply opens by saying it tells stories;
//! - `mean_reply_words`, and `looping`: the share of stories in which some word 4-gram
//!   occurs 3 or more times (as `sample-quality` counts loops);
//! - artefacts of guidance and tuning: `plan_exact` (the plan line lists exactly what was
//!   asked for, once each), `plan_repeats` (replies whose plan line names an item twice),
//!   `capitalised_function_words` (occurrences of "The", "And", "She"… in the middle of a
//!   sentence) and `glued_words` (a requested word with letters stuck to it, "ssquirrel").
//!
//! - `sense`: the story text's bits per byte under the base model (`--sense-model`), lower
//!   being more fluent, so that guidance and tuning are chosen on sense as well as on words.
//!
//! The same names and words are asked for twice: in the training data's phrasings
//! (`scores`) and in phrasing families the training data never uses
//! (`held_out_phrasings`, see `phrasings`), so a model that only follows familiar wording
//! shows. `follow_ups`: the first `--follow-ups` conversations that named a character go on
//! with "rename that character" (`rename.applied`: the new name used, the old one gone) and
//! "add a word" (`add_word.used`), in follow-up wordings the training data never uses.
//!
//! A chat model is asked in its chat format; `--as-story` (or a model without one) gives the
//! request as story text to continue, which is what a base model makes of a chat message:
//! the baseline.

use std::path::PathBuf;

use anyhow::{Context, bail};
use slm_data::instruct::{
    Request, RequestKind, is_in_character, off_topic_request, story_of, story_request, uses_name,
    uses_word,
};
use slm_infer::{
    Engine, EngineOptions, GenerateRequest, NativeModel, NativeOptions, WeightDtype, guide,
};
use slm_tokenizer::{ChatTemplate, Role, Tokenizer};

use crate::instruct::read_stories;
use crate::phrasings;
use crate::sample_quality::{loops, settings_json, words as sample_words};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Held-out stories the requests are made from (never the training files); the default
    /// is the validation split in `../shared` beside the checkout.
    #[arg(long, default_value = "../shared/datasets/tinystories/valid.txt.zst")]
    pub stories: PathBuf,
    /// Story requests (from the first stories that give one with words or names).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Off-topic questions.
    #[arg(long, default_value_t = 50)]
    pub off_topic: usize,
    /// Give each request as story text to continue, even to a chat model.
    #[arg(long)]
    pub as_story: bool,
    /// Tokens per reply.
    #[arg(long, default_value_t = 400)]
    pub max_tokens: usize,
    /// Seed of the requests and of sampling (request i samples with seed + i).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Weight precision in memory.
    #[arg(long, default_value = "f16")]
    pub dtype: WeightDtype,
    /// Plan-guided decoding bias for chat replies (default: the model's generation.json;
    /// 0 measures the model alone).
    #[arg(long)]
    pub plan_bias: Option<f32>,
    /// Base model that scores each story: its bits per byte of the story text, read after an
    /// end-of-text token as stories start in training (`none`: skip).
    #[arg(long, default_value = "models/tinystories-15m")]
    pub sense_model: String,
    /// Conversations followed up (rename a character, add a word), in the
    /// evaluation-only follow-up wordings; each starts from a training-phrasing request
    /// that names a character and the model's own reply to it.
    #[arg(long, default_value_t = 40)]
    pub follow_ups: usize,
    /// Replies kept in the JSON as examples, spread evenly over the requests.
    #[arg(long, default_value_t = 6)]
    pub examples: usize,
}

/// The held-out requests: `n` story requests that ask for words or names, then `off_topic`
/// questions, each about a different validation story.
pub fn held_out_requests(
    stories: &[String],
    n: usize,
    off_topic: usize,
    seed: u64,
) -> anyhow::Result<Vec<Request>> {
    let mut out: Vec<Request> = stories
        .iter()
        .enumerate()
        .filter_map(|(i, s)| story_request(s, seed.wrapping_add(i as u64)))
        .filter(|r| r.kind == RequestKind::Story && !(r.words.is_empty() && r.names.is_empty()))
        .take(n)
        .collect();
    if out.len() < n {
        bail!(
            "only {} of {n} requests could be made from the stories",
            out.len()
        );
    }
    out.extend(
        stories
            .iter()
            .rev()
            .take(off_topic)
            .enumerate()
            .map(|(i, s)| off_topic_request(s, seed.wrapping_add(i as u64), true)),
    );
    Ok(out)
}

/// Scores for one set of replies.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    pub story_requests: usize,
    pub words_requested: usize,
    pub words_used: f64,
    pub names_requested: usize,
    pub names_used: f64,
    /// Story requests whose reply uses every requested word and name.
    pub all_used: f64,
    /// Requested words and names that the reply's plan line repeats (a diagnostic: the story
    /// can only follow a plan that copied the request).
    pub plan_words: f64,
    pub plan_names: f64,
    /// Words of the story part of story replies.
    pub mean_reply_words: f64,
    /// Story replies whose story loops (`sample_quality::loops`).
    pub looping: f64,
    /// Story replies whose plan line lists every requested word and name and nothing else,
    /// each once.
    pub plan_exact: f64,
    /// Story replies whose plan line lists an item twice (`"frog" and "frog"`).
    pub plan_repeats: usize,
    /// Capitalised function words in the middle of a sentence, over all stories.
    pub capitalised_function_words: usize,
    /// Story words that contain a requested word with letters stuck to it.
    pub glued_words: usize,
    pub off_topic_questions: usize,
    pub in_character: f64,
}

fn share(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

pub fn score(requests: &[Request], replies: &[String]) -> Scores {
    let (mut stories, mut words, mut words_hit, mut names, mut names_hit) = (0, 0, 0, 0, 0);
    let (mut all, mut reply_words, mut off, mut in_char) = (0, 0, 0, 0);
    let (mut plan_words, mut plan_names, mut looping) = (0, 0, 0);
    let (mut plan_exact, mut plan_repeats, mut capitals, mut glued) = (0, 0, 0, 0);
    for (r, reply) in requests.iter().zip(replies) {
        if r.kind == RequestKind::OffTopic {
            off += 1;
            in_char += usize::from(is_in_character(reply));
            continue;
        }
        stories += 1;
        let story = story_of(reply);
        reply_words += story.split_whitespace().count();
        looping += usize::from(loops(&sample_words(story), 4, 3));
        let w = r.words.iter().filter(|w| uses_word(story, w)).count();
        let n = r.names.iter().filter(|n| uses_name(story, n)).count();
        (words, words_hit, names, names_hit) = (
            words + r.words.len(),
            words_hit + w,
            names + r.names.len(),
            names_hit + n,
        );
        all += usize::from(w == r.words.len() && n == r.names.len());
        let plan = &reply[..reply.len() - story.len()];
        plan_words += r.words.iter().filter(|w| uses_word(plan, w)).count();
        plan_names += r.names.iter().filter(|n| uses_name(plan, n)).count();
        let items = plan_items(plan);
        let mut distinct = items.clone();
        distinct.sort();
        distinct.dedup();
        plan_repeats += usize::from(distinct.len() < items.len());
        let mut asked: Vec<String> = r.words.iter().chain(&r.names).cloned().collect();
        asked.sort();
        plan_exact += usize::from(distinct.len() == items.len() && distinct == asked);
        capitals += capitalised_function_words(story);
        glued += glued_words(story, &r.words);
    }
    Scores {
        story_requests: stories,
        words_requested: words,
        words_used: share(words_hit, words),
        names_requested: names,
        names_used: share(names_hit, names),
        all_used: share(all, stories),
        plan_words: share(plan_words, words),
        plan_names: share(plan_names, names),
        mean_reply_words: share(reply_words, stories),
        looping: share(looping, stories),
        plan_exact: share(plan_exact, stories),
        plan_repeats,
        capitalised_function_words: capitals,
        glued_words: glued,
        off_topic_questions: off,
        in_character: share(in_char, off),
    }
}

/// What a plan line asks for, item by item, as the plan guide reads it
/// (`slm_infer::guide`): names as written, words in lower case.
fn plan_items(plan: &str) -> Vec<String> {
    guide::plan_items(plan.trim())
        .iter()
        .filter_map(|item| guide::item_target(item))
        .map(|(item, _)| item)
        .collect()
}

/// Function words written with a capital where the sentence goes on: after a lower-case
/// word or a comma, not after an end of sentence, a quote or a line break.
fn capitalised_function_words(story: &str) -> usize {
    let words: Vec<&str> = story.split(' ').collect();
    words
        .windows(2)
        .filter(|pair| {
            let (prev, word) = (pair[0], pair[1]);
            let bare = word.trim_end_matches(|c: char| !c.is_alphanumeric());
            bare != "I"
                && bare.starts_with(char::is_uppercase)
                && guide::FUNCTION_WORDS.contains(&bare.to_lowercase().as_str())
                && prev
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_lowercase() || c == ',')
        })
        .count()
}

/// Story words that hold a requested word plus letters that make no inflection of it
/// ("ssquirrel", "kitecake").
fn glued_words(story: &str, words: &[String]) -> usize {
    story
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|t| {
            words
                .iter()
                .any(|w| t.len() > w.len() && t.contains(w.as_str()) && !uses_word(t, w))
        })
        .count()
}

/// The base model at `dir`, to score stories with [`story_bits_per_byte`].
fn sense_model(dir: &str) -> anyhow::Result<(NativeModel, Tokenizer)> {
    let dir = std::path::Path::new(dir);
    let tok = Tokenizer::from_file(dir.join("tokenizer.json"))
        .with_context(|| format!("loading the sense model's tokenizer from {}", dir.display()))?;
    let opts = NativeOptions {
        weight_dtype: WeightDtype::F16,
        vocab_rows: Some(tok.vocab_size()),
        ..Default::default()
    };
    let model = NativeModel::load_with(dir, &opts)
        .with_context(|| format!("loading the sense model {}", dir.display()))?;
    Ok((model, tok))
}

/// Bits per byte of the story part of the story replies under `model` (all stories'
/// bits over all their bytes); `None` when there is no story text.
fn story_bits_per_byte(
    (model, tok): &(NativeModel, Tokenizer),
    requests: &[Request],
    replies: &[String],
) -> anyhow::Result<Option<f64>> {
    let (mut nats, mut bytes) = (0.0, 0usize);
    for (r, reply) in requests.iter().zip(replies) {
        if r.kind == RequestKind::OffTopic {
            continue;
        }
        let mut tokens = vec![tok.eot_id()];
        tokens.extend(tok.encode(story_of(reply).trim())?);
        tokens.truncate(model.config().max_seq_len);
        if tokens.len() < 2 {
            continue;
        }
        nats += model.nll_nats(&tokens)?;
        bytes += tok.decode(&tokens[1..])?.len();
    }
    Ok((bytes > 0).then(|| nats / std::f64::consts::LN_2 / bytes as f64))
}

/// Generates a reply to every request (one seed each) and returns them in order.
fn generate_replies(
    engine: &Engine,
    requests: &[Request],
    chat: bool,
    args: &Args,
    plan_bias: f32,
) -> anyhow::Result<Vec<String>> {
    let prompts = requests
        .iter()
        .map(|r| {
            if chat {
                ChatTemplate::render(&[(Role::User, &r.prompt)], true)
            } else {
                r.prompt.clone()
            }
        })
        .collect();
    generate(engine, prompts, args, plan_bias)
}

/// Generates a continuation of every prompt (prompt i samples with seed + i).
fn generate(
    engine: &Engine,
    prompts: Vec<String>,
    args: &Args,
    plan_bias: f32,
) -> anyhow::Result<Vec<String>> {
    let g = engine.info().generation.clone();
    let mut streams = Vec::new();
    for (i, prompt) in prompts.into_iter().enumerate() {
        let req = GenerateRequest {
            prompt,
            max_tokens: args.max_tokens,
            sampling: g.sampling(Some(args.seed.wrapping_add(i as u64))),
            plan_bias,
            ..Default::default()
        };
        streams.push(engine.submit(req).context("submitting a request")?);
    }
    streams
        .into_iter()
        .map(|s| Ok(s.wait().context("generating")?.text))
        .collect()
}

/// At most `n` of `items`, spread evenly: every ⌈len / n⌉-th, from the first.
fn spread<T>(items: impl ExactSizeIterator<Item = T>, n: usize) -> impl Iterator<Item = T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.step_by(step).take(n)
}

/// Follow-ups in the same conversation, worded in the evaluation-only follow-up phrasings
/// (`phrasings::RENAMES`, `phrasings::ADD_WORDS`): for the first `args.follow_ups` story
/// requests whose reply's story uses the first requested name, "rename that character"
/// (applied: the new name used and the old one gone) and "add a word the story lacks"
/// (used: the new story uses it). The earlier exchange is the model's own reply.
fn follow_ups(
    engine: &Engine,
    requests: &[Request],
    replies: &[String],
    args: &Args,
    plan_bias: f32,
) -> anyhow::Result<serde_json::Value> {
    let firsts: Vec<(&Request, &String)> = requests
        .iter()
        .zip(replies)
        .filter(|(r, reply)| {
            r.kind == RequestKind::Story
                && r.names
                    .first()
                    .is_some_and(|n| uses_name(story_of(reply), n))
        })
        .take(args.follow_ups)
        .collect();
    let mut prompts = Vec::new();
    let mut asked = Vec::new();
    for (i, (r, reply)) in firsts.iter().enumerate() {
        let old = &r.names[0];
        let story = story_of(reply);
        let (rename, new) = phrasings::rename(old, story, i);
        let (add, word) = phrasings::add_word(story, i);
        for follow_up in [&rename, &add] {
            prompts.push(ChatTemplate::render(
                &[
                    (Role::User, &r.prompt),
                    (Role::Assistant, reply),
                    (Role::User, follow_up),
                ],
                true,
            ));
        }
        asked.push((old.clone(), new, rename, word, add));
    }
    let answers = generate(engine, prompts, args, plan_bias)?;
    let (mut renamed, mut new_used, mut old_gone, mut added) = (0, 0, 0, 0);
    for ((old, new, _, word, _), pair) in asked.iter().zip(answers.chunks(2)) {
        let (after_rename, after_add) = (story_of(&pair[0]), story_of(&pair[1]));
        let uses_new = uses_name(after_rename, new);
        let lost_old = !uses_name(after_rename, old);
        new_used += usize::from(uses_new);
        old_gone += usize::from(lost_old);
        renamed += usize::from(uses_new && lost_old);
        added += usize::from(uses_word(after_add, word));
    }
    let conversations = firsts.iter().zip(&asked).zip(answers.chunks(2));
    let examples: Vec<_> = spread(conversations, args.examples)
        .map(|(((r, reply), (_, _, rename, _, add)), pair)| {
            serde_json::json!({
                "request": r.prompt, "reply": reply,
                "rename": rename, "after_rename": pair[0], "add_word": add, "after_add": pair[1],
            })
        })
        .collect();
    let n = asked.len();
    Ok(serde_json::json!({
        "conversations": n,
        "rename": {"applied": share(renamed, n), "new_name_used": share(new_used, n), "old_name_gone": share(old_gone, n)},
        "add_word": {"used": share(added, n)},
        "examples": examples,
    }))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let stories = read_stories(std::slice::from_ref(&args.stories)).with_context(|| {
        format!(
            "no held-out stories at {} (pass --stories FILE; datasets/README.md says where data comes from)",
            args.stories.display()
        )
    })?;
    let requests = held_out_requests(&stories, args.requests, args.off_topic, args.seed)?;
    let engine = Engine::load(
        &args.model,
        EngineOptions {
            weight_dtype: args.dtype,
            queue_capacity: requests.len(),
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", args.model.display()))?;
    let template = ChatTemplate::of(engine.tokenizer()).filter(|_| !args.as_story);
    let g = engine.info().generation.clone();
    let plan_bias = match template {
        Some(_) => args.plan_bias.unwrap_or(g.plan_bias),
        None => 0.0,
    };
    let replies = generate_replies(&engine, &requests, template.is_some(), &args, plan_bias)?;
    let scores = score(&requests, &replies);
    // The same asks in the evaluation-only phrasings.
    let rephrased = phrasings::rephrase(&requests, args.seed);
    let held_out: Vec<Request> = rephrased.iter().map(|(_, r)| r.clone()).collect();
    let held_out_replies =
        generate_replies(&engine, &held_out, template.is_some(), &args, plan_bias)?;
    let mut by_family = serde_json::Map::new();
    for (f, (name, _)) in phrasings::FAMILIES.iter().enumerate() {
        let (reqs, reps): (Vec<Request>, Vec<String>) = rephrased
            .iter()
            .zip(&held_out_replies)
            .filter(|((family, _), _)| *family == f)
            .map(|((_, r), reply)| (r.clone(), reply.clone()))
            .unzip();
        let s = score(&reqs, &reps);
        by_family.insert(
            name.to_string(),
            serde_json::json!({"requests": reqs.len(), "words_used": s.words_used, "names_used": s.names_used}),
        );
    }
    let follow_ups = match template {
        Some(_) if args.follow_ups > 0 => {
            follow_ups(&engine, &requests, &replies, &args, plan_bias)?
        }
        _ => serde_json::Value::Null,
    };
    let sense = match args.sense_model.as_str() {
        "none" => serde_json::Value::Null,
        dir => {
            let base = sense_model(dir)?;
            serde_json::json!({
                "model": dir,
                "training_phrasings": story_bits_per_byte(&base, &requests, &replies)?,
                "held_out_phrasings": story_bits_per_byte(&base, &held_out, &held_out_replies)?,
            })
        }
    };
    let example = |(r, reply): (&Request, &String)| serde_json::json!({"request": r.prompt, "words": r.words, "names": r.names, "reply": reply});
    let held_out_examples: Vec<_> = spread(held_out.iter().zip(&held_out_replies), args.examples)
        .map(example)
        .collect();
    let examples: Vec<_> = spread(requests.iter().zip(&replies), args.examples)
        .map(example)
        .collect();
    let mut sampling = settings_json(&g.sampling(None));
    sampling["plan_bias"] = plan_bias.into();
    let report = serde_json::json!({
        "model": args.model,
        "format": if template.is_some() { "chat" } else { "story text" },
        "stories": args.stories,
        "seed": args.seed,
        "max_tokens": args.max_tokens,
        "sampling": sampling,
        "dtype": args.dtype,
        "scores": scores,
        "sense_story_bits_per_byte": sense,
        "examples": examples,
        "held_out_phrasings": {
            "scores": score(&held_out, &held_out_replies),
            "by_family": by_family,
            "examples": held_out_examples,
        },
        "follow_ups": follow_ups,
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: RequestKind, words: &[&str], names: &[&str]) -> Request {
        Request {
            prompt: "p".into(),
            reply: String::new(),
            words: words.iter().map(|w| w.to_string()).collect(),
            names: names.iter().map(|n| n.to_string()).collect(),
            kind,
        }
    }

    #[test]
    fn scores_count_words_names_and_in_character_replies() {
        let requests = [
            req(RequestKind::Story, &["jump", "ball"], &["Lily"]),
            req(RequestKind::Story, &["tree"], &[]),
            req(RequestKind::OffTopic, &[], &[]),
            req(RequestKind::OffTopic, &[], &[]),
        ];
        // The plan line repeats the request; only the story after it counts.
        let replies = [
            "Here is a story about Lily with the words \"jump\" and \"ball\".\n\nLily jumped over the ball.".to_string(),
            "The cat sat.".to_string(),
            "I only tell stories, so here is one.".to_string(),
            "Paris is the capital.".to_string(),
        ];
        let s = score(&requests, &replies);
        assert_eq!(
            (s.story_requests, s.words_requested, s.names_requested),
            (2, 3, 1)
        );
        let preface_only = "Here is a story with the word \"tree\".\n\nThe cat sat.".to_string();
        let preface_only = score(&requests[1..2], &[preface_only]);
        assert_eq!(
            (preface_only.words_used, preface_only.plan_words),
            (0.0, 1.0)
        );
        assert_eq!((s.plan_words, s.plan_names), (2.0 / 3.0, 1.0));
        assert!((s.words_used - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((s.names_used, s.all_used, s.in_character), (1.0, 0.5, 0.5));
        assert_eq!((s.mean_reply_words, s.looping), (4.0, 0.0));
        let stuck = "Tom ran to the park. Tom ran to the park. Tom ran to the park.".to_string();
        assert_eq!(score(&requests[1..2], &[stuck]).looping, 1.0);
    }

    #[test]
    fn sense_is_the_story_text_bits_per_byte() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tiny-random");
        let base = sense_model(dir).unwrap();
        let story = req(RequestKind::Story, &["dog"], &[]);
        let off = req(RequestKind::OffTopic, &[], &[]);
        let reply = "Here is a story with the word \"dog\".\n\nA dog ran to the park.".to_string();
        let bpb = story_bits_per_byte(
            &base,
            std::slice::from_ref(&story),
            std::slice::from_ref(&reply),
        )
        .unwrap()
        .unwrap();
        assert!(bpb.is_finite() && bpb > 0.0, "{bpb}");
        // Only the story counts: the plan line and off-topic replies do not.
        let same = story_bits_per_byte(
            &base,
            &[story, off],
            &[reply, "I only tell stories.".to_string()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(bpb, same);
        let none = story_bits_per_byte(&base, &[], &[]).unwrap();
        assert_eq!(none, None);
        assert!(sense_model("/nonexistent").is_err());
    }

    #[test]
    fn artefacts_are_counted() {
        assert_eq!(
            plan_items("Here is a story about The frog with the words \"frog\" and \"frog\"."),
            ["frog", "frog", "frog"]
        );
        assert_eq!(
            plan_items("Here is a story about Mia and Tom with the word \"kite\"."),
            ["Mia", "Tom", "kite"]
        );
        let story = "The pond was calm and The water was not The water. He said, \"The end.\" \
                     Then she ran, And she fell, and I saw it.";
        assert_eq!(capitalised_function_words(story), 3);
        let words = vec!["squirrel".to_string(), "kite".to_string()];
        assert_eq!(
            glued_words("A ssquirrel saw kites and a kitecake.", &words),
            2
        );
        let r = req(RequestKind::Story, &["frog"], &[]);
        let s = score(
            std::slice::from_ref(&r),
            &["Here is a story with the words \"frog\" and \"frog\". A frog.".to_string()],
        );
        assert_eq!((s.plan_repeats, s.plan_exact), (1, 0.0));
        let s = score(
            &[r],
            &["Here is a story with the word \"frog\". A frog.".to_string()],
        );
        assert_eq!((s.plan_repeats, s.plan_exact), (0, 1.0));
    }

    #[test]
    fn held_out_requests_ask_for_words_or_names() {
        let stories =
            read_stories(&[slm_testdata::shared_data("tinystories/valid.txt.zst")]).unwrap();
        let reqs = held_out_requests(&stories, 30, 5, 1).unwrap();
        assert_eq!(reqs.len(), 35);
        assert!(reqs[..30].iter().all(|r| r.kind == RequestKind::Story));
        assert!(reqs[30..].iter().all(|r| r.kind == RequestKind::OffTopic));
        assert!(held_out_requests(&stories[..3], 30, 0, 1).is_err());
        // The replies they were made from use every requested word and name.
        let targets: Vec<String> = reqs.iter().map(|r| r.reply.clone()).collect();
        let s = score(&reqs, &targets);
        assert_eq!(
            (s.words_used, s.names_used, s.in_character),
            (1.0, 1.0, 1.0)
        );
    }
}
