//! Scoring helpers for evaluating replies: whether a reply uses the requested words and
//! names, where it first uses them, and whether it stays in character.

use std::collections::HashSet;
use std::ops::Range;

use super::text::{PREFACE_START, Vocab, inflections, words};

/// The story in a reply: the text after a [`PREFACE_START`] line, or the whole reply.
pub fn story_of(reply: &str) -> &str {
    match reply.strip_prefix(PREFACE_START) {
        Some(rest) => rest.split_once("\n\n").map_or("", |(_, story)| story),
        None => reply,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruct::fixture::{fixture, refs};
    use crate::instruct::lexicon::OPENERS;
    use crate::instruct::{InstructOptions, conversations};

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
    fn in_character_replies() {
        assert!(OPENERS.len() >= 6 && OPENERS.iter().all(|o| is_in_character(o)));
        assert!(is_in_character("Stories are all I know! Paris."));
        assert!(!is_in_character("The capital is Paris. I love stories."));
        assert!(!is_in_character("Let me think about history."));
        assert!(!is_in_character(&format!("{} story", "a".repeat(200))));
    }
}
