//! What a story offers to ask for (its named characters, animals, words, dialogue, moral
//! and ending) and the story request made from a few of those facts.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::lexicon::{ADJECTIVES, ANIMALS, GENERIC_PROMPTS, NOT_NAMES, NOUNS, PEOPLE, VERBS};
use super::requests::{Request, RequestKind};
use super::text::{Vocab, pick, pick_rare, with_plan, words};
use super::wording::{Ask, render};

/// Share of story requests (continuations aside) that ask for "a story" with no constraint.
const GENERIC_SHARE: f64 = 0.05;
/// At most this many character names are offered as constraints.
const MAX_NAMES: usize = 3;

/// How a story ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Ending {
    Happy,
    Sad,
}

/// A named character, maybe introduced as "a brave bunny named Max".
pub(super) struct Character {
    pub(super) name: String,
    pub(super) kind: Option<&'static str>,
    pub(super) adjective: Option<&'static str>,
}

/// One thing a request can ask for.
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
pub(super) struct Facts {
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
    pub(super) fn of(
        story: &str,
        ends: &[usize],
        beginning: Option<&str>,
        rng: &mut ChaCha8Rng,
    ) -> Self {
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
    pub(super) fn request(&self, story: &str, rng: &mut ChaCha8Rng) -> Request {
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
            let mut ask = Ask::default();
            for atom in atoms {
                match atom {
                    Atom::Character(i) => ask.characters.push(&self.characters[i]),
                    Atom::Animal(a) => ask.animals.push(a),
                    Atom::Word(w) if !ask.animals.contains(&w) => ask.words.push(w),
                    Atom::Word(_) => {}
                    Atom::Dialogue => ask.dialogue = true,
                    Atom::Moral => ask.moral = true,
                    Atom::Ending(e) => ask.ending = Some(e),
                }
            }
            render(&ask, rng)
        };
        Request {
            reply: with_plan(&names, &words, &prompt, story),
            prompt,
            words,
            names,
            kind: RequestKind::Story,
        }
    }
}

/// `name` with how the story introduces it ("a little bird named Billy"),
/// when it does.
pub(super) fn character(name: String, tokens: &[String]) -> Character {
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
pub(super) fn names(text: &str) -> Vec<String> {
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
pub(super) fn sentence_ends(text: &str) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::instruct::fixture::fixture;
    use crate::instruct::story_request;

    #[test]
    fn story_prompts_vary() {
        let stories = fixture(300);
        let frames: HashSet<&str> = stories
            .iter()
            .filter_map(|s| story_request(s, 3))
            .filter(|r| r.kind == RequestKind::Story)
            .filter_map(|r| {
                crate::instruct::lexicon::FRAMES
                    .iter()
                    .find(|(before, _)| r.prompt.starts_with(before))
            })
            .map(|(before, _)| *before)
            .collect();
        assert!(frames.len() >= 12, "{frames:?}");
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
}
