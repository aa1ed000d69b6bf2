//! Instruction-tuning requests made from real TinyStories stories, with no
//! external model: each story becomes the reply to a request it satisfies
//! ("Tell me a story about Lily and a dog."), the continuation of its own
//! beginning, or the story told after declining an off-topic question in
//! character. Everything is deterministic in the story text and a seed.

mod lexicon;

use std::collections::HashSet;
use std::ops::Range;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use lexicon::{
    ADJECTIVES, ANIMALS, CONTINUE_PHRASES, DESCRIPTORS, FRAMES, GENERIC_PROMPTS,
    HELD_OUT_QUESTIONS, HELD_OUT_WRAPPERS, IRREGULAR_PLURALS, NOT_NAMES, NOUNS, OPENERS, PEOPLE,
    TRAIN_QUESTIONS, TRAIN_WRAPPERS, VERBS, WORD_SENTENCES,
};

/// How a reply to a story request that names words or characters opens: a one-line plan
/// that repeats them ("Here is a story about Tim with the words "ask" and "old".") and a
/// blank line, then the story. Copying the request into the reply's first line is easy for
/// the model, and the story that follows then reads its constraints from its own text, as
/// a story model does (without it, instruction tuning taught the model to start a fresh
/// story that ignored the request). [`story_of`] strips it for scoring.
pub const PREFACE_START: &str = "Here is a story";

/// The story in a reply: the text after a [`PREFACE_START`] line, or the whole reply.
pub fn story_of(reply: &str) -> &str {
    match reply.strip_prefix(PREFACE_START) {
        Some(rest) => rest.split_once("\n\n").map_or("", |(_, story)| story),
        None => reply,
    }
}

/// Share of story requests that ask to continue the story's beginning.
const CONTINUE_SHARE: f64 = 0.15;
/// Share of the other story requests that ask for "a story" with no constraint.
const GENERIC_SHARE: f64 = 0.05;
/// At most this many character names are offered as constraints.
const MAX_NAMES: usize = 3;
/// RNG streams, so that requests made from the same story and seed differ.
const STORY_STREAM: u64 = 0;
const OFF_TOPIC_STREAM: u64 = 1;
const SECOND_TURN_STREAM: u64 = 2;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Story,
    Continue,
    OffTopic,
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

/// A conversation: one or two (user, assistant) exchanges, the later one
/// about a different story.
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

/// Whether `text` uses `word` in a common inflection ("jump": "jumps",
/// "jumped", "jumping"; "happy": "happier", "happily"; "run": "running";
/// "box": "boxes"), case-insensitive, whole words only.
pub fn uses_word(text: &str, word: &str) -> bool {
    Vocab::new(text).uses(word)
}

/// Whether `text` mentions `name` as a whole word ("Lily's" counts), with the
/// first letter's case as given.
pub fn uses_name(text: &str, name: &str) -> bool {
    words(text).any(|w| is_name(w, name))
}

/// Whether the word `w` is `name`: equal ignoring case except for the first letter.
fn is_name(w: &str, name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|initial| w.starts_with(initial))
        && w.eq_ignore_ascii_case(name)
}

/// Byte ranges in `text` of the first use of each of `words` (in an inflection, as
/// [`uses_word`] counts it) and of each of `names` (as [`uses_name`] counts it), in text
/// order; what the text does not use has no range.
pub fn first_uses(text: &str, words: &[String], names: &[String]) -> Vec<Range<usize>> {
    let spans: Vec<(usize, &str)> = self::words(text)
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
        .collect();
    let first = |is_use: &dyn Fn(&str) -> bool| {
        spans
            .iter()
            .find(|(_, w)| is_use(w))
            .map(|&(at, w)| at..at + w.len())
    };
    let mut out: Vec<Range<usize>> = words
        .iter()
        .filter_map(|word| {
            let forms: HashSet<String> = inflections(&word.to_lowercase()).into_iter().collect();
            first(&|w| forms.contains(&w.to_lowercase()))
        })
        .chain(names.iter().filter_map(|name| first(&|w| is_name(w, name))))
        .collect();
    out.sort_by_key(|r| r.start);
    out.dedup();
    out
}

/// Whether a reply to an off-topic question stays in character: its first
/// sentence (up to the first '.', '!' or '?', within 200 characters)
/// mentions a story.
pub fn is_in_character(reply: &str) -> bool {
    let head: String = reply.chars().take(200).collect();
    let first = head.split(['.', '!', '?']).next().unwrap_or_default();
    let vocab = Vocab::new(first);
    vocab.uses("story") || vocab.uses("storyteller")
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

/// How a story ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Happy,
    Sad,
}

/// A named character, maybe introduced as "a brave bunny named Max".
struct Character {
    name: String,
    kind: Option<&'static str>,
    adjective: Option<&'static str>,
}

impl Character {
    /// "Max" or "a brave bunny named Max"; adds the animal and adjective used
    /// to `words`.
    fn phrase(&self, rng: &mut ChaCha8Rng, words: &mut Vec<String>) -> String {
        let Some(kind) = self.kind.filter(|_| rng.random_bool(0.6)) else {
            return self.name.clone();
        };
        let adjective = self.adjective.filter(|_| rng.random_bool(0.5));
        let described = match adjective {
            Some(adjective) => format!("{adjective} {kind}"),
            None => kind.to_string(),
        };
        words.extend(adjective.map(String::from));
        if ANIMALS.contains(&kind) {
            words.push(kind.to_string());
        }
        format!("{} named {}", with_article(&described), self.name)
    }
}

/// One thing a request can ask for. The order is the order of rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Character(usize),
    Animal(&'static str),
    Word(&'static str),
    Dialogue,
    Moral,
    Ending(Ending),
}

/// What a story offers to ask for.
struct Facts {
    characters: Vec<Character>,
    animals: Vec<&'static str>,
    /// A noun, a verb and an adjective the story uses, where it has them.
    words: Vec<&'static str>,
    dialogue: bool,
    moral: bool,
    ending: Option<Ending>,
}

impl Facts {
    /// The facts of `story`, with the words and animals to ask for taken from `beginning`
    /// when given, else from the whole story.
    fn of(story: &str, ends: &[usize], beginning: Option<&str>, rng: &mut ChaCha8Rng) -> Self {
        let vocab = Vocab::new(story);
        let early = beginning.map(Vocab::new);
        let early = early.as_ref().unwrap_or(&vocab);
        let tokens: Vec<String> = words(story).map(str::to_lowercase).collect();
        // The last two sentences.
        let ending = &story[ends[ends.len() - 3]..];
        let tail = Vocab::new(ending);
        let happy = ["happy", "smiled", "laughed", "hugged", "fun"]
            .iter()
            .any(|w| tail.uses(w))
            || ending.to_lowercase().contains("best friends");
        let sad = ["sad", "cried", "sorry"].iter().any(|w| tail.uses(w));
        Self {
            characters: names(story)
                .into_iter()
                .map(|name| character(name, &tokens))
                .collect(),
            animals: ANIMALS.iter().copied().filter(|a| early.uses(a)).collect(),
            words: [NOUNS, VERBS, ADJECTIVES]
                .iter()
                .filter_map(|list| pick_rare(list, early, rng))
                .collect(),
            dialogue: story.contains(['"', '“', '”']),
            moral: vocab.0.contains("learned") || vocab.uses("lesson"),
            ending: if happy {
                Some(Ending::Happy)
            } else if sad {
                Some(Ending::Sad)
            } else {
                None
            },
        }
    }

    fn atoms(&self) -> Vec<Atom> {
        let mut atoms: Vec<Atom> = (0..self.characters.len()).map(Atom::Character).collect();
        atoms.extend(self.animals.iter().map(|&a| Atom::Animal(a)));
        atoms.extend(self.words.iter().map(|&w| Atom::Word(w)));
        atoms.extend(self.dialogue.then_some(Atom::Dialogue));
        atoms.extend(self.moral.then_some(Atom::Moral));
        atoms.extend(self.ending.map(Atom::Ending));
        atoms
    }

    /// A story request asking for up to three things the story has.
    fn request(&self, story: &str, rng: &mut ChaCha8Rng) -> Request {
        let mut atoms = self.atoms();
        atoms.shuffle(rng);
        let wanted = if rng.random_bool(GENERIC_SHARE) {
            0
        } else {
            rng.random_range(1..=3)
        };
        atoms.truncate(wanted);
        atoms.sort();
        let (prompt, words, names) = if atoms.is_empty() {
            (
                pick(GENERIC_PROMPTS, rng).to_string(),
                Vec::new(),
                Vec::new(),
            )
        } else {
            self.render(&atoms, rng)
        };
        let reply = match preface(&names, &words) {
            Some(line) => format!("{line}\n\n{story}"),
            None => story.to_string(),
        };
        Request {
            prompt,
            reply,
            words,
            names,
            kind: RequestKind::Story,
        }
    }

    /// The prompt for `atoms` (sorted), with the words and names it asks for.
    fn render(&self, atoms: &[Atom], rng: &mut ChaCha8Rng) -> (String, Vec<String>, Vec<String>) {
        let mut words = Vec::new();
        let mut names = Vec::new();
        let mut subjects = Vec::new();
        let mut listed = Vec::new();
        let mut with = Vec::new();
        let mut moral = false;
        let mut descriptor = pick(DESCRIPTORS, rng);
        for &atom in atoms {
            match atom {
                Atom::Character(i) => {
                    let character = &self.characters[i];
                    subjects.push(character.phrase(rng, &mut words));
                    names.push(character.name.clone());
                }
                Atom::Animal(animal) if !words.iter().any(|w| w == animal) => {
                    subjects.push(with_article(animal));
                    words.push(animal.to_string());
                }
                Atom::Word(word) if !words.iter().any(|w| w == word) => {
                    listed.push(format!("\"{word}\""));
                    words.push(word.to_string());
                }
                Atom::Animal(_) | Atom::Word(_) => {}
                Atom::Dialogue => with.push(pick(&["dialogue", "some dialogue"], rng).to_string()),
                Atom::Moral => moral = true,
                Atom::Ending(Ending::Happy) => with.push("a happy ending".to_string()),
                Atom::Ending(Ending::Sad) if rng.random_bool(0.5) => descriptor = "a sad story",
                Atom::Ending(Ending::Sad) => with.push("a sad ending".to_string()),
            }
        }
        let learner = moral && !subjects.is_empty() && rng.random_bool(0.6);
        if moral && !learner {
            with.push(pick(&["a moral", "a lesson at the end"], rng).to_string());
        }
        let plural = if listed.len() > 1 { "s" } else { "" };
        let mut word_sentence = String::new();
        if !listed.is_empty() {
            if with.is_empty() && rng.random_bool(0.5) {
                with.push(format!("the word{plural} {}", join(&listed)));
            } else {
                word_sentence = pick(WORD_SENTENCES, rng)
                    .replace("{s}", plural)
                    .replace("{}", &join(&listed));
            }
        }
        let about = match (subjects.is_empty(), learner) {
            (true, _) => String::new(),
            (false, true) => {
                let verb = if subjects.len() > 1 {
                    "learn"
                } else {
                    "learns"
                };
                format!(" where {} {verb} a lesson", join(&subjects))
            }
            (false, false) => format!(" about {}", join(&subjects)),
        };
        let with = if with.is_empty() {
            String::new()
        } else {
            format!(" with {}", join(&with))
        };
        let body = if learner || rng.random_bool(0.5) {
            format!("{descriptor}{with}{about}")
        } else {
            format!("{descriptor}{about}{with}")
        };
        let (before, after) = *FRAMES.choose(rng).expect("frames");
        (
            format!("{before}{body}{after}{word_sentence}"),
            words,
            names,
        )
    }
}

/// `name` with how the story introduces it ("a little bird named Billy"),
/// when it does.
fn character(name: String, tokens: &[String]) -> Character {
    let lower = name.to_lowercase();
    let introduced = tokens
        .windows(2)
        .position(|pair| (pair[0] == "named" || pair[0] == "called") && pair[1] == lower);
    let before = introduced.map_or(&[][..], |i| &tokens[i.saturating_sub(3)..i]);
    let kind_at = before
        .iter()
        .rposition(|t| ANIMALS.contains(&t.as_str()) || PEOPLE.contains(&t.as_str()));
    let lookup = |list: &[&'static str], t: &String| list.iter().copied().find(|w| w == t);
    Character {
        kind: kind_at
            .and_then(|k| lookup(ANIMALS, &before[k]).or_else(|| lookup(PEOPLE, &before[k]))),
        adjective: kind_at.and_then(|k| before[..k].iter().find_map(|t| lookup(ADJECTIVES, t))),
        name,
    }
}

/// Capitalised words that look like character names, in order of first use:
/// used at least once inside a sentence (not first, not after a quote), not
/// function words, titles, days or months, and never written in lower case.
fn names(text: &str) -> Vec<String> {
    let lower_words: HashSet<&str> = words(text)
        .filter(|w| w.starts_with(|c: char| c.is_lowercase()))
        .collect();
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for word in words(text) {
        let mut chars = word.chars();
        let capitalised = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && !chars.as_str().is_empty()
            && chars.all(|c| c.is_ascii_lowercase());
        let lower = word.to_ascii_lowercase();
        if !capitalised
            || NOT_NAMES.contains(&lower.as_str())
            || lower_words.contains(lower.as_str())
        {
            continue;
        }
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        let inside = text[..start]
            .trim_end()
            .chars()
            .next_back()
            .is_some_and(|c| !matches!(c, '.' | '!' | '?' | ':' | '"' | '“' | '”'));
        match seen.iter_mut().find(|(w, _)| *w == word) {
            Some((_, used_inside)) => *used_inside |= inside,
            None => seen.push((word, inside)),
        }
    }
    seen.into_iter()
        .filter(|&(_, inside)| inside)
        .map(|(word, _)| word.to_string())
        .take(MAX_NAMES)
        .collect()
}

/// Byte offsets just past each sentence: after '.', '!' or '?' (and a closing
/// quote) followed by white space and a capital letter or quote, outside
/// quotes (unless the text's quotes do not pair up), and not after "Mr." and
/// the like. The last sentence ends at the end of the text.
fn sentence_ends(text: &str) -> Vec<usize> {
    let is_quote = |c: char| matches!(c, '"' | '“' | '”');
    let balanced = text.chars().filter(|&c| is_quote(c)).count() % 2 == 0;
    let mut ends = Vec::new();
    let mut inside = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_quote(c) {
            inside = !inside;
            continue;
        }
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut end = i + 1;
        while let Some(&(j, d)) = chars.peek() {
            if is_quote(d) {
                inside = !inside;
            } else if !matches!(d, '.' | '!' | '?') {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
            if is_quote(d) {
                break;
            }
        }
        let rest = &text[end..];
        let next = rest.trim_start();
        let abbreviation = ["Mr", "Mrs", "Ms", "Dr", "St"]
            .iter()
            .any(|a| text[..i].ends_with(a));
        if (!inside || !balanced)
            && rest.starts_with(char::is_whitespace)
            && next.starts_with(|c: char| c.is_uppercase() || is_quote(c))
            && !abbreviation
        {
            ends.push(end);
        }
    }
    let last = ends.last().copied().unwrap_or(0);
    if !text[last..].trim().is_empty() {
        ends.push(text.len());
    }
    ends
}

/// The lower-case words of a text.
struct Vocab(HashSet<String>);

impl Vocab {
    fn new(text: &str) -> Self {
        Self(words(text).map(str::to_lowercase).collect())
    }

    /// Whether the text uses `word` in one of its [`inflections`].
    fn uses(&self, word: &str) -> bool {
        inflections(&word.to_lowercase())
            .iter()
            .any(|form| self.0.contains(form))
    }
}

/// The alphanumeric runs of `text` (so "Lily's" gives "Lily" and "s").
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `word` and the forms that count as using it: regular plurals, verb forms,
/// comparatives and adverbs, with the usual spelling changes.
fn inflections(word: &str) -> Vec<String> {
    fn add(forms: &mut Vec<String>, stem: &str, endings: &[&str]) {
        forms.extend(endings.iter().map(|e| format!("{stem}{e}")));
    }
    let is_vowel = |c: char| "aeiou".contains(c);
    let mut forms = Vec::new();
    add(
        &mut forms,
        word,
        &["", "s", "es", "ed", "ing", "er", "est", "ly"],
    );
    if let Some(stem) = word
        .strip_suffix('y')
        .filter(|s| s.ends_with(|c| !is_vowel(c)))
    {
        add(&mut forms, stem, &["ies", "ied", "ier", "iest", "ily"]);
    }
    if let Some(stem) = word.strip_suffix('e') {
        add(&mut forms, stem, &["ing"]);
        add(&mut forms, word, &["d", "r", "st"]);
    }
    if let Some(stem) = word.strip_suffix("le") {
        add(&mut forms, stem, &["ly"]);
    }
    if let Some(stem) = word.strip_suffix("fe").or_else(|| word.strip_suffix('f')) {
        add(&mut forms, stem, &["ves"]);
    }
    let tail: Vec<char> = word.chars().rev().take(3).collect();
    if let [last, middle, first] = tail[..]
        && !is_vowel(last)
        && !"wxy".contains(last)
        && is_vowel(middle)
        && !is_vowel(first)
    {
        add(
            &mut forms,
            &format!("{word}{last}"),
            &["ing", "ed", "er", "est"],
        );
    }
    forms.extend(
        IRREGULAR_PLURALS
            .iter()
            .filter(|(singular, _)| *singular == word)
            .map(|(_, plural)| plural.to_string()),
    );
    forms
}

/// A word of `list` (most common first) that the story uses, rarer words
/// more likely.
fn pick_rare(list: &[&'static str], vocab: &Vocab, rng: &mut ChaCha8Rng) -> Option<&'static str> {
    let used: Vec<(usize, &'static str)> = list
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, w)| vocab.uses(w))
        .collect();
    used.choose_weighted(rng, |&(rank, _)| rank + 1)
        .ok()
        .map(|&(_, w)| w)
}

fn pick<'a>(list: &[&'a str], rng: &mut ChaCha8Rng) -> &'a str {
    list.choose(rng).copied().expect("non-empty list")
}

/// "a cat", "an owl".
fn with_article(phrase: &str) -> String {
    let article = if phrase.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {phrase}")
}

/// "A", "A and B", "A, B and C".
/// The plan line of a reply (see [`PREFACE_START`]); `None` when nothing was asked for.
fn preface(names: &[String], words: &[String]) -> Option<String> {
    let mut line = PREFACE_START.to_string();
    if !names.is_empty() {
        line += &format!(" about {}", join(names));
    }
    if !words.is_empty() {
        let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        let plural = if words.len() > 1 { "s" } else { "" };
        line += &format!(" with the word{plural} {}", join(&quoted));
    }
    (names.len() + words.len() > 0).then(|| line + ".")
}

fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
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
    use super::*;
    use crate::{CorpusReader, Record};

    /// The first `n` stories of the validation set in `../shared` beside the checkout.
    fn fixture(n: usize) -> Vec<String> {
        CorpusReader::open(slm_testdata::shared_data("tinystories/valid.txt.zst"))
            .expect("open valid.txt.zst")
            .filter_map(|r| match r.expect("read record") {
                Record::Story(s) => Some(s),
                Record::Broken(_) => None,
            })
            .take(n)
            .collect()
    }

    fn refs(stories: &[String]) -> Vec<&str> {
        stories.iter().map(String::as_str).collect()
    }

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
                        request.prompt.contains(word.as_str()),
                        "{word}: {request:?}"
                    );
                }
                for name in &request.names {
                    assert!(uses_name(story, name), "{name}: {request:?}");
                    assert!(
                        request.prompt.contains(name.as_str()),
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
    fn story_prompts_vary() {
        let stories = fixture(300);
        let frames: HashSet<&str> = stories
            .iter()
            .filter_map(|s| story_request(s, 3))
            .filter(|r| r.kind == RequestKind::Story)
            .filter_map(|r| {
                FRAMES
                    .iter()
                    .find(|(before, _)| r.prompt.starts_with(before))
            })
            .map(|(before, _)| *before)
            .collect();
        assert!(frames.len() >= 12, "{frames:?}");
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
    fn word_matching() {
        for (text, word) in [
            ("She jumps.", "jump"),
            ("He jumped high", "jump"),
            ("JUMPING is fun", "jump"),
            ("a happier day", "happy"),
            ("the happiest cat", "happy"),
            ("they lived happily", "happy"),
            ("Tom was running", "run"),
            ("She cried and cried.", "cry"),
            ("The baby cries", "cry"),
            ("Mom baked a cake", "bake"),
            ("They were baking", "bake"),
            ("two balls", "ball"),
            ("many boxes", "box"),
            ("three mice", "mouse"),
            ("the leaves fell", "leaf"),
            ("a bigger tree", "big"),
            ("she smiled gently", "gentle"),
        ] {
            assert!(uses_word(text, word), "{word} in {text}");
        }
        for (text, word) in [
            ("Can you catch it?", "cat"),
            ("a category", "cat"),
            ("The ballet", "ball"),
            ("", "cat"),
            ("Tom ran away", "run"),
        ] {
            assert!(!uses_word(text, word), "{word} in {text}");
        }
    }

    #[test]
    fn first_uses_find_the_first_use_of_each() {
        let text = "Tom saw two mice. The mice were running. Tom's mouse ran to Lily and jumped.";
        let words = ["mouse", "run", "jump", "cat"].map(String::from);
        let names = ["Lily", "Tom", "Sam"].map(String::from);
        let found: Vec<&str> = first_uses(text, &words, &names)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        // In text order; "cat" and "Sam" are not used; each word's first use only.
        assert_eq!(found, ["Tom", "mice", "running", "Lily", "jumped"]);
        // The requests made from real stories (which use every requested word and name):
        // each is found.
        let stories = fixture(200);
        for request in conversations(&refs(&stories), &InstructOptions::default())
            .iter()
            .flatten()
        {
            let story = story_of(&request.reply);
            let used: Vec<&str> = first_uses(story, &request.words, &request.names)
                .into_iter()
                .map(|r| &story[r])
                .collect();
            // Two words can share a first use ("sparkle" and "sparkly").
            assert!(used.len() <= request.words.len() + request.names.len());
            for word in &request.words {
                assert!(
                    used.iter().any(|u| uses_word(u, word)),
                    "{word}: {request:?}"
                );
            }
            for name in &request.names {
                assert!(
                    used.iter().any(|u| uses_name(u, name)),
                    "{name}: {request:?}"
                );
            }
        }
    }

    #[test]
    fn name_matching() {
        assert!(uses_name("Lily's ball was red.", "Lily"));
        assert!(uses_name("Then Tom said hi.", "Tom"));
        assert!(!uses_name("Tommy said hi.", "Tom"));
        assert!(!uses_name("a tom cat", "Tom"));
        assert!(!uses_name("Lily", ""));
    }

    #[test]
    fn character_names_and_descriptions() {
        let story = "Once upon a time, a brave little bird named Billy lived in a tree. \
                     Mom said, \"Billy, come home!\" Then Billy flew to Sue and Tom. \
                     On Monday, Tom played with Billy. The End.";
        assert_eq!(names(story), ["Billy", "Sue", "Tom"]);
        let tokens: Vec<String> = words(story).map(str::to_lowercase).collect();
        let billy = character("Billy".to_string(), &tokens);
        assert_eq!((billy.kind, billy.adjective), (Some("bird"), Some("brave")));
        assert_eq!(character("Tom".to_string(), &tokens).kind, None);
        assert_eq!(names("Lily is sad. Lily cried."), Vec::<String>::new());
    }

    #[test]
    fn sentences_respect_quotes() {
        let text = "Fin said, \"Hi. I am Fin!\" The crab looked. \"Go!\" he said. Mr. Brown came";
        let ends = sentence_ends(text);
        let sentences: Vec<&str> = ends
            .iter()
            .scan(0, |start, &end| {
                let s = text[*start..end].trim();
                *start = end;
                Some(s)
            })
            .collect();
        assert_eq!(
            sentences,
            [
                "Fin said, \"Hi. I am Fin!\"",
                "The crab looked.",
                "\"Go!\" he said.",
                "Mr. Brown came"
            ]
        );
    }

    #[test]
    fn in_character_replies() {
        assert!(OPENERS.len() >= 6 && OPENERS.iter().all(|o| is_in_character(o)));
        assert!(is_in_character("Stories are all I know! Paris."));
        assert!(!is_in_character("The capital is Paris. I love stories."));
        assert!(!is_in_character("Let me think about history."));
        assert!(!is_in_character(&format!("{} story", "a".repeat(200))));
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

    #[test]
    fn preface_lists_what_was_asked_and_story_of_strips_it() {
        let names = vec!["Tim".to_string()];
        let words = vec!["ask".to_string(), "old".to_string()];
        let line = preface(&names, &words).unwrap();
        assert_eq!(
            line,
            "Here is a story about Tim with the words \"ask\" and \"old\"."
        );
        assert_eq!(
            preface(&[], &words[..1]).unwrap(),
            "Here is a story with the word \"ask\"."
        );
        assert!(preface(&[], &[]).is_none());
        assert_eq!(
            story_of(&format!("{line}\n\nOnce upon a time.")),
            "Once upon a time."
        );
        assert_eq!(story_of("Once upon a time."), "Once upon a time.");
        assert_eq!(story_of("Here is a story with no story"), "");
    }
}
