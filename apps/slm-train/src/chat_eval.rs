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
//!   occurs 3 or more times (as `sample-quality` counts loops).
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
use slm_infer::{Engine, EngineOptions, GenerateRequest, WeightDtype};
use slm_tokenizer::{ChatTemplate, Role};

use crate::instruct::read_stories;
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
        off_topic_questions: off,
        in_character: share(in_char, off),
    }
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
    let mut streams = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let prompt = match template {
            Some(_) => ChatTemplate::render(&[(Role::User, &r.prompt)], true),
            None => r.prompt.clone(),
        };
        let req = GenerateRequest {
            prompt,
            max_tokens: args.max_tokens,
            sampling: g.sampling(Some(args.seed.wrapping_add(i as u64))),
            plan_bias,
            ..Default::default()
        };
        streams.push(engine.submit(req).context("submitting a request")?);
    }
    let mut replies = Vec::new();
    for stream in streams {
        replies.push(stream.wait().context("generating")?.text);
    }
    let scores = score(&requests, &replies);
    let examples: Vec<_> = requests
        .iter()
        .zip(&replies)
        .step_by(requests.len().div_ceil(args.examples.max(1)).max(1))
        .take(args.examples)
        .map(|(r, reply)| serde_json::json!({"request": r.prompt, "words": r.words, "names": r.names, "reply": reply}))
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
        "examples": examples,
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
