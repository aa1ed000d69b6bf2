//! The requests and conversations made from stories: what a conversation mixes
//! (story requests, continuations, off-topic questions, a second turn) and the seeds that
//! make each one deterministic in the story text and a seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::facts::{Facts, sentence_ends};
use super::follow_ups::follow_up;
use super::lexicon::{
    CONTINUE_PHRASES, HELD_OUT_QUESTIONS, HELD_OUT_WRAPPERS, OPENERS, TRAIN_QUESTIONS,
    TRAIN_WRAPPERS,
};
use super::text::pick;

/// Share of story requests that ask to continue the story's beginning.
const CONTINUE_SHARE: f64 = 0.15;
/// RNG streams, so that requests made from the same story and seed differ.
const STORY_STREAM: u64 = 0;
const OFF_TOPIC_STREAM: u64 = 1;
const SECOND_TURN_STREAM: u64 = 2;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Story,
    /// Continue a story: its beginning given in the request, or the story of the previous
    /// reply.
    Continue,
    OffTopic,
    /// The previous reply's story with a character renamed.
    Rename,
    /// The previous reply's story with a requested word added.
    AddWord,
    /// Another story about the previous reply's character.
    SameCharacter,
}

/// One user request and its target reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// The user's message.
    pub prompt: String,
    /// The target reply: the story (Story), the rest of the story (Continue),
    /// or an in-character line + "\n\n" + the story (OffTopic).
    pub reply: String,
    /// Words the reply must use (lower-case base forms: nouns, verbs,
    /// adjectives, animals), possibly empty.
    pub words: Vec<String>,
    /// Character names the reply must use (as capitalised in the story),
    /// possibly empty.
    pub names: Vec<String>,
    pub kind: RequestKind,
}

/// A conversation: one or two (user, assistant) exchanges: the second about a different
/// story, or a follow-up about the first reply.
pub type Conversation = Vec<Request>;

/// How [`conversations`] mixes requests.
#[derive(Debug, Clone)]
pub struct InstructOptions {
    pub seed: u64,
    /// Share of conversations that are an off-topic question answered in
    /// character (default 0.05).
    pub off_topic_share: f64,
    /// Share of conversations with two exchanges (default 0.1); the second
    /// exchange uses the next story.
    pub two_turn_share: f64,
    /// Share of conversations that are a story then a follow-up about it (rename a
    /// character, add a word, another story about the same character, go on; default 0).
    pub follow_up_share: f64,
    /// Use the held-out question list and phrasings for off-topic questions
    /// (evaluation) instead of the training list.
    pub held_out_questions: bool,
    /// Ask only for words (and animals) used in the story's first this-many sentences; None:
    /// anywhere in the story (evaluation). For training: a word the story first uses near its
    /// end teaches little (the link between the request and the word is a long way back, and
    /// a 256-token window may cut it off), while one used early teaches the model to bring
    /// the requested words in.
    pub word_sentences: Option<usize>,
}

impl Default for InstructOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            off_topic_share: 0.05,
            two_turn_share: 0.1,
            follow_up_share: 0.0,
            held_out_questions: false,
            word_sentences: None,
        }
    }
}

/// One request for `story`, deterministic in (story text, seed). None when
/// the story is unusable (fewer than 3 sentences).
pub fn story_request(story: &str, seed: u64) -> Option<Request> {
    request_for(story, seed, None)
}

/// [`story_request`], asking only for words from the first `word_sentences` sentences
/// (see [`InstructOptions::word_sentences`]).
fn request_for(story: &str, seed: u64, word_sentences: Option<usize>) -> Option<Request> {
    let story = story.trim();
    let ends = sentence_ends(story);
    if ends.len() < 3 {
        return None;
    }
    let mut rng = story_rng(story, seed, STORY_STREAM);
    Some(if rng.random_bool(CONTINUE_SHARE) {
        continue_request(story, &ends, &mut rng)
    } else {
        let beginning = word_sentences.map(|n| &story[..ends[n.clamp(1, ends.len()) - 1]]);
        Facts::of(story, &ends, beginning, &mut rng).request(story, &mut rng)
    })
}

/// An off-topic question (from the training or the held-out list) answered
/// in character, followed by `story`.
pub fn off_topic_request(story: &str, seed: u64, held_out: bool) -> Request {
    let story = story.trim();
    let mut rng = story_rng(story, seed, OFF_TOPIC_STREAM);
    let (questions, wrappers) = if held_out {
        (HELD_OUT_QUESTIONS, HELD_OUT_WRAPPERS)
    } else {
        (TRAIN_QUESTIONS, TRAIN_WRAPPERS)
    };
    let question = pick(questions, &mut rng);
    let prompt = pick(wrappers, &mut rng).replace("{}", question);
    let reply = format!("{}\n\n{story}", pick(OPENERS, &mut rng));
    Request {
        prompt,
        reply,
        words: Vec::new(),
        names: Vec::new(),
        kind: RequestKind::OffTopic,
    }
}

/// Conversations for a list of stories, deterministic in (stories, options):
/// conversation i starts from story i, and a two-turn conversation also uses
/// story i+1. Stories that give no request are skipped. Each conversation
/// draws from its own seed, derived from (options.seed, i), so the work runs
/// in parallel.
pub fn conversations(stories: &[&str], opts: &InstructOptions) -> Vec<Conversation> {
    (0..stories.len())
        .into_par_iter()
        .filter_map(|i| conversation(stories, i, opts))
        .collect()
}

fn conversation(stories: &[&str], i: usize, opts: &InstructOptions) -> Option<Conversation> {
    let seed = mix(opts.seed, i as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let off_topic = rng.random_bool(opts.off_topic_share.clamp(0.0, 1.0));
    let two_turn = rng.random_bool(opts.two_turn_share.clamp(0.0, 1.0));
    let story = stories[i];
    if rng.random_bool(opts.follow_up_share.clamp(0.0, 1.0))
        && let Some(conv) = follow_up(story, stories.get(i + 1).copied(), &mut rng)
    {
        return Some(conv);
    }
    let first = if off_topic {
        let usable = sentence_ends(story.trim()).len() >= 3;
        usable.then(|| off_topic_request(story, seed, opts.held_out_questions))
    } else {
        request_for(story, seed, opts.word_sentences)
    }?;
    let second = stories
        .get(i + 1)
        .filter(|_| two_turn)
        .and_then(|next| request_for(next, mix(seed, SECOND_TURN_STREAM), opts.word_sentences));
    Some(std::iter::once(first).chain(second).collect())
}

fn continue_request(story: &str, ends: &[usize], rng: &mut ChaCha8Rng) -> Request {
    let end = ends[rng.random_range(0..2)];
    Request {
        prompt: format!("{} {}", pick(CONTINUE_PHRASES, rng), &story[..end]),
        reply: story[end..].trim_start().to_string(),
        words: Vec::new(),
        names: Vec::new(),
        kind: RequestKind::Continue,
    }
}

/// The RNG for one request about `story`: FNV-1a of the text mixed with the
/// seed and a stream number.
fn story_rng(story: &str, seed: u64, stream: u64) -> ChaCha8Rng {
    let hash = story.bytes().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ChaCha8Rng::seed_from_u64(mix(mix(seed, stream), hash))
}

/// Mixes two numbers into a well-spread seed (SplitMix64 finaliser).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::instruct::fixture::{fixture, refs};
    use crate::instruct::lexicon::{HELD_OUT_QUESTIONS, TRAIN_QUESTIONS};
    use crate::instruct::{PREFACE_START, is_in_character, story_of, uses_name, uses_word};

    fn kinds(convs: &[Conversation]) -> Vec<RequestKind> {
        convs.iter().flatten().map(|r| r.kind).collect()
    }

    #[test]
    fn deterministic_in_stories_and_seed() {
        let stories = fixture(50);
        let stories = refs(&stories);
        let opts = InstructOptions::default();
        assert_eq!(
            conversations(&stories, &opts),
            conversations(&stories, &opts)
        );
        assert_eq!(story_request(stories[0], 7), story_request(stories[0], 7));
        let other = InstructOptions {
            seed: 1,
            ..opts.clone()
        };
        assert_ne!(
            kinds(&conversations(&stories, &opts)),
            kinds(&conversations(&stories, &other))
        );
    }

    #[test]
    fn requested_words_and_names_are_used() {
        let stories = fixture(400);
        let stories = refs(&stories);
        let (mut words, mut names) = (0, 0);
        for seed in 0..3 {
            let opts = InstructOptions {
                seed,
                ..InstructOptions::default()
            };
            for request in conversations(&stories, &opts).iter().flatten() {
                let story = story_of(&request.reply);
                if !request.words.is_empty() || !request.names.is_empty() {
                    assert!(request.reply.starts_with(PREFACE_START), "{request:?}");
                    assert!(!story.is_empty() && story.len() < request.reply.len());
                }
                for word in &request.words {
                    assert!(uses_word(story, word), "{word}: {request:?}");
                    assert!(uses_word(
                        &request.reply[..request.reply.len() - story.len()],
                        word
                    ));
                    assert!(
                        request.prompt.to_lowercase().contains(word.as_str()),
                        "{word}: {request:?}"
                    );
                }
                for name in &request.names {
                    assert!(uses_name(story, name), "{name}: {request:?}");
                    assert!(
                        request.prompt.to_lowercase().contains(&name.to_lowercase()),
                        "{name}: {request:?}"
                    );
                }
                words += request.words.len();
                names += request.names.len();
            }
        }
        assert!(words > 300 && names > 100, "{words} words, {names} names");
    }

    #[test]
    fn kinds_and_turns_mix_as_asked() {
        let stories = fixture(600);
        let stories = refs(&stories);
        let convs = conversations(&stories, &InstructOptions::default());
        assert!(convs.len() > 550, "{} conversations", convs.len());
        let share = |f: &dyn Fn(&Conversation) -> bool| {
            convs.iter().filter(|c| f(c)).count() as f64 / convs.len() as f64
        };
        let off_topic = share(&|c| c[0].kind == RequestKind::OffTopic);
        let two_turn = share(&|c| c.len() == 2);
        let continued = share(&|c| c[0].kind == RequestKind::Continue);
        assert!((0.02..0.09).contains(&off_topic), "off-topic {off_topic}");
        assert!((0.06..0.15).contains(&two_turn), "two-turn {two_turn}");
        assert!((0.09..0.21).contains(&continued), "continue {continued}");
        assert!(convs.iter().all(|c| (1..=2).contains(&c.len())));
        let generic = convs
            .iter()
            .flatten()
            .filter(|r| r.kind == RequestKind::Story && r.words.is_empty() && r.names.is_empty())
            .count();
        assert!(generic > 0);
        for request in convs.iter().flatten() {
            assert!(!request.prompt.is_empty() && !request.reply.is_empty());
            if request.kind == RequestKind::OffTopic {
                assert!(is_in_character(&request.reply), "{request:?}");
            }
        }
    }

    /// Share of requested words that the story's first three sentences use.
    fn early_share(stories: &[&str], word_sentences: Option<usize>) -> (f64, usize) {
        let opts = InstructOptions {
            word_sentences,
            ..InstructOptions::default()
        };
        let (mut early, mut all) = (0, 0);
        for request in conversations(stories, &opts).iter().flatten() {
            if request.words.is_empty() {
                continue;
            }
            let story = story_of(&request.reply).trim();
            let start = &story[..sentence_ends(story)[2]];
            all += request.words.len();
            early += request.words.iter().filter(|w| uses_word(start, w)).count();
        }
        (early as f64 / all as f64, all)
    }

    #[test]
    fn word_sentences_asks_for_words_from_the_beginning() {
        let stories = fixture(400);
        let stories = refs(&stories);
        let (anywhere, _) = early_share(&stories, None);
        let (early, asked) = early_share(&stories, Some(3));
        // Only a character's description ("a brave bunny named Max") can come from later.
        assert!(early > 0.97, "{early}");
        assert!(anywhere < 0.8, "{anywhere}");
        assert!(asked > 300, "{asked}");
    }

    #[test]
    fn continue_reply_completes_the_beginning() {
        let stories = fixture(300);
        let mut seen = 0;
        for story in &stories {
            let Some(request) = story_request(story, 11) else {
                continue;
            };
            if request.kind != RequestKind::Continue {
                continue;
            }
            let story = story.trim();
            let beginning = story[..story.len() - request.reply.len()].trim_end();
            assert!(story.ends_with(&request.reply) && !request.reply.is_empty());
            assert!(!beginning.is_empty() && request.prompt.ends_with(beginning));
            assert!(beginning.ends_with(['.', '!', '?', '"']), "{beginning}");
            assert!(request.words.is_empty() && request.names.is_empty());
            seen += 1;
        }
        assert!(seen > 20, "{seen}");
    }

    #[test]
    fn unusable_stories_are_skipped() {
        assert_eq!(story_request("", 0), None);
        assert_eq!(story_request("Tim ran. He fell.", 0), None);
        let stories = ["", "One. Two. Three.", "Short."];
        let opts = InstructOptions {
            off_topic_share: 1.0,
            ..InstructOptions::default()
        };
        let convs = conversations(&stories, &opts);
        assert_eq!(convs.len(), 1);
        assert!(convs[0][0].reply.ends_with("One. Two. Three."));
    }

    #[test]
    fn off_topic_questions() {
        assert!(TRAIN_QUESTIONS.len() >= 40 && HELD_OUT_QUESTIONS.len() >= 25);
        let train: HashSet<&str> = TRAIN_QUESTIONS.iter().copied().collect();
        assert!(HELD_OUT_QUESTIONS.iter().all(|q| !train.contains(q)));
        let stories = fixture(100);
        let stories = refs(&stories);
        for held_out in [false, true] {
            let opts = InstructOptions {
                off_topic_share: 1.0,
                held_out_questions: held_out,
                ..InstructOptions::default()
            };
            let (wanted, other) = if held_out {
                (HELD_OUT_QUESTIONS, TRAIN_QUESTIONS)
            } else {
                (TRAIN_QUESTIONS, HELD_OUT_QUESTIONS)
            };
            let convs = conversations(&stories, &opts);
            let asked: HashSet<&str> = convs
                .iter()
                .map(|c| &c[0])
                .map(|r| {
                    assert_eq!(r.kind, RequestKind::OffTopic);
                    assert!(!other.iter().any(|q| r.prompt.contains(q)), "{}", r.prompt);
                    let q = wanted.iter().find(|q| r.prompt.contains(*q));
                    *q.unwrap_or_else(|| panic!("unknown question: {}", r.prompt))
                })
                .collect();
            assert!(asked.len() > 15);
        }
        let request = off_topic_request("  A. B. C.  ", 5, false);
        let (opener, story) = request.reply.split_once("\n\n").unwrap();
        assert!(OPENERS.contains(&opener) && story == "A. B. C.");
    }
}
