//! Text helpers shared by the request generator and the scoring: words and their
//! inflections, picking from word lists, and the phrasing of lists and of a reply's plan line.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::lexicon::IRREGULAR_PLURALS;

/// How a reply to a story request that names words or characters opens: a one-line plan
/// that repeats them ("Here is a story about Tim with the words ask and "old"." when the
/// request quoted "old" only) and a blank line, then the story. Copying the request into
/// the reply's first line is easy for the model, and the story that follows then reads its
/// constraints from its own text, as a story model does (without it, instruction tuning
/// taught the model to start a fresh story that ignored the request).
/// [`story_of`](super::story_of) strips it for scoring.
pub const PREFACE_START: &str = "Here is a story";

/// The lower-case words of a text.
pub(super) struct Vocab(pub(super) HashSet<String>);

impl Vocab {
    pub(super) fn new(text: &str) -> Self {
        Self(words(text).map(str::to_lowercase).collect())
    }

    /// Whether the text uses `word` in one of its [`inflections`].
    pub(super) fn uses(&self, word: &str) -> bool {
        inflections(&word.to_lowercase())
            .iter()
            .any(|form| self.0.contains(form))
    }
}

/// The alphanumeric runs of `text` (so "Lily's" gives "Lily" and "s").
pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `word` and the forms that count as using it: regular plurals, verb forms,
/// comparatives and adverbs, with the usual spelling changes.
pub(super) fn inflections(word: &str) -> Vec<String> {
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
pub(super) fn pick_rare(
    list: &[&'static str],
    vocab: &Vocab,
    rng: &mut ChaCha8Rng,
) -> Option<&'static str> {
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

pub(super) fn pick<T: Copy>(list: &[T], rng: &mut ChaCha8Rng) -> T {
    list.choose(rng).copied().expect("non-empty list")
}

/// Byte offsets of the whole-word uses of `word` in `text` (no letter or digit right
/// before or after).
pub(super) fn whole_word_at<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let is_word = |c: char| c.is_alphanumeric();
    text.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        !text[..i].chars().next_back().is_some_and(is_word)
            && !text[i + word.len()..].chars().next().is_some_and(is_word)
    })
}

/// "a cat", "an owl".
pub fn with_article(phrase: &str) -> String {
    let article = if phrase.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {phrase}")
}

/// The plan line of a reply (see [`PREFACE_START`]); `None` when nothing was asked for.
/// Each word is written as `asked` (the conversation's requests) writes it: quoted where
/// the request quotes it, bare otherwise, so the line copies the request's own tokens
/// (a bare " kite" and a quoted "kite" are different tokens; copying one into the other
/// is a spelling task a small model does not learn for every word).
pub(super) fn preface(names: &[String], words: &[String], asked: &str) -> Option<String> {
    let mut line = PREFACE_START.to_string();
    if !names.is_empty() {
        line += &format!(" about {}", join(names));
    }
    if !words.is_empty() {
        let written: Vec<String> = words.iter().map(|w| as_written(w, asked)).collect();
        let plural = if words.len() > 1 { "s" } else { "" };
        line += &format!(" with the word{plural} {}", join(&written));
    }
    (names.len() + words.len() > 0).then(|| line + ".")
}

/// `word` in the quotes `asked` puts around it, if any.
fn as_written(word: &str, asked: &str) -> String {
    [('"', '"'), ('\u{201c}', '\u{201d}')]
        .iter()
        .map(|(open, close)| format!("{open}{word}{close}"))
        .find(|quoted| asked.contains(quoted.as_str()))
        .unwrap_or_else(|| word.to_string())
}

/// A reply: the plan line (when something was asked for), a blank line, the story.
pub(super) fn with_plan(names: &[String], words: &[String], asked: &str, story: &str) -> String {
    match preface(names, words, asked) {
        Some(line) => format!("{line}\n\n{story}"),
        None => story.to_string(),
    }
}
/// "A", "A and B", "A, B and C".
pub(super) fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruct::story_of;

    #[test]
    fn preface_lists_what_was_asked_and_story_of_strips_it() {
        let names = vec!["Tim".to_string()];
        let words = vec!["ask".to_string(), "old".to_string()];
        let line = preface(&names, &words, "Tell me about Tim, \"ask\" and old.").unwrap();
        assert_eq!(
            line,
            "Here is a story about Tim with the words \"ask\" and old."
        );
        assert_eq!(
            preface(&[], &words[..1], "a story with ask").unwrap(),
            "Here is a story with the word ask."
        );
        assert_eq!(
            preface(&[], &words[..1], "a story with \u{201c}ask\u{201d}").unwrap(),
            "Here is a story with the word \u{201c}ask\u{201d}."
        );
        assert!(preface(&[], &[], "").is_none());
        assert_eq!(
            story_of(&format!("{line}\n\nOnce upon a time.")),
            "Once upon a time."
        );
        assert_eq!(story_of("Once upon a time."), "Once upon a time.");
        assert_eq!(story_of("Here is a story with no story"), "");
    }
}
