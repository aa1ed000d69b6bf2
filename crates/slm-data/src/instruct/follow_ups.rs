//! Follow-up requests in the same conversation, each made exactly from stories so that the
//! reply is known without a model:
//! - rename: "Call Lily Mia instead." The reply is the same story with the name replaced;
//! - add a word: the first reply is the story without one of its middle sentences, the only
//!   one that uses some word; "Now add the word "kite"." gets the whole story back;
//! - the same character: "Another story about Lily." The reply is the next story with its
//!   main character renamed;
//! - go on: the first reply stops halfway; "What happens next?" gets the rest.
//!
//! The conversation is trained with the loss on its last reply.

use std::sync::LazyLock;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::facts::{Facts, character, names, sentence_ends};
use super::lexicon::{
    ADD_WORD_WORDINGS, ADJECTIVES, ANIMALS, GO_ON_WORDINGS, NAME_ENDINGS, NAME_ONSETS, NAMES,
    NOT_NEW_NAMES, NOUNS, RENAME_KIND_WORDINGS, RENAME_WORDINGS, SAME_CHARACTER_WORDINGS, VERBS,
};
use super::requests::{Conversation, Request, RequestKind};
use super::scoring::{story_of, uses_name};
use super::text::{Vocab, pick, whole_word_at, with_plan, words};

/// A follow-up conversation about `story` (and `next`, for another story about the same
/// character), or None when the story offers none of the kind drawn.
pub(super) fn follow_up(
    story: &str,
    next: Option<&str>,
    rng: &mut ChaCha8Rng,
) -> Option<Conversation> {
    let story = story.trim();
    match rng.random_range(0..10) {
        0..=2 => rename(story, rng),
        3..=5 => add_word(story, rng),
        6 | 7 => same_character(story, next?.trim(), rng),
        _ => go_on(story, rng),
    }
}

/// A story request for `story` with a plan line (asking for something), or None.
fn first_request(story: &str, rng: &mut ChaCha8Rng) -> Option<Request> {
    let ends = sentence_ends(story);
    if ends.len() < 3 {
        return None;
    }
    let request = Facts::of(story, &ends, Some(&story[..ends[2]]), rng).request(story, rng);
    Some(request)
}

fn rename(story: &str, rng: &mut ChaCha8Rng) -> Option<Conversation> {
    let first = first_request(story, rng)?;
    let old = first
        .names
        .first()
        .cloned()
        .or_else(|| names(story).into_iter().next())?;
    let new = new_name(story, rng)?;
    let tokens: Vec<String> = words(story).map(str::to_lowercase).collect();
    let kind = character(old.clone(), &tokens).kind;
    let prompt = match kind {
        Some(kind) if rng.random_bool(0.3) => {
            pick(RENAME_KIND_WORDINGS, rng).replace("{kind}", kind)
        }
        _ => pick(RENAME_WORDINGS, rng).to_string(),
    }
    .replace("{old}", &old)
    .replace("{new}", &new);
    let mut names: Vec<String> = first
        .names
        .iter()
        .map(|n| if *n == old { new.clone() } else { n.clone() })
        .collect();
    if names.is_empty() {
        names.push(new.clone());
    }
    let renamed = replace_name(story_of(&first.reply), &old, &new);
    let second = Request {
        prompt,
        reply: with_plan(&names, &first.words, &first.prompt, &renamed),
        words: first.words.clone(),
        names,
        kind: RequestKind::Rename,
    };
    Some(vec![first, second])
}

fn add_word(story: &str, rng: &mut ChaCha8Rng) -> Option<Conversation> {
    let ends = sentence_ends(story);
    if ends.len() < 5 {
        return None;
    }
    // A middle sentence that alone uses some word of the lists.
    let mut candidates = Vec::new();
    for k in 1..ends.len() - 1 {
        let (start, end) = (ends[k - 1], ends[k]);
        let inside = Vocab::new(&story[start..end]);
        let outside = Vocab::new(&format!("{} {}", &story[..start], &story[end..]));
        for list in [NOUNS, VERBS, ADJECTIVES, ANIMALS] {
            candidates.extend(
                list.iter()
                    .filter(|w| inside.uses(w) && !outside.uses(w))
                    .map(|&w| (k, w)),
            );
        }
    }
    let &(k, word) = candidates.choose(rng)?;
    let shorter = format!("{}{}", &story[..ends[k - 1]], &story[ends[k]..]);
    let first = first_request(&shorter, rng)?;
    let quoted = match rng.random_range(0..3) {
        0 => format!("\"{word}\""),
        _ => word.to_string(),
    };
    let mut words = first.words.clone();
    words.push(word.to_string());
    let prompt = pick(ADD_WORD_WORDINGS, rng).replace("{}", &quoted);
    let second = Request {
        reply: with_plan(
            &first.names,
            &words,
            &format!("{}\n{prompt}", first.prompt),
            story,
        ),
        prompt,
        words,
        names: first.names.clone(),
        kind: RequestKind::AddWord,
    };
    Some(vec![first, second])
}

fn same_character(story: &str, next: &str, rng: &mut ChaCha8Rng) -> Option<Conversation> {
    let first = first_request(story, rng)?;
    let name = first
        .names
        .first()
        .cloned()
        .or_else(|| names(story).into_iter().next())?;
    let other = names(next).into_iter().next()?;
    if uses_name(next, &name) || sentence_ends(next).len() < 3 {
        return None;
    }
    let names = vec![name.clone()];
    let second = Request {
        prompt: pick(SAME_CHARACTER_WORDINGS, rng).replace("{}", &name),
        reply: with_plan(&names, &[], "", &replace_name(next, &other, &name)),
        words: Vec::new(),
        names,
        kind: RequestKind::SameCharacter,
    };
    Some(vec![first, second])
}

fn go_on(story: &str, rng: &mut ChaCha8Rng) -> Option<Conversation> {
    let ends = sentence_ends(story);
    if ends.len() < 5 {
        return None;
    }
    let cut = ends[rng.random_range(ends.len() / 3..ends.len() * 2 / 3)];
    // The beginning's request asks for nothing from the rest, so the first reply is the
    // beginning alone.
    let first = first_request(&story[..cut], rng)?;
    let second = Request {
        prompt: pick(GO_ON_WORDINGS, rng).to_string(),
        reply: story[cut..].trim_start().to_string(),
        words: Vec::new(),
        names: Vec::new(),
        kind: RequestKind::Continue,
    };
    Some(vec![first, second])
}

/// Every name a rename may give: the common names of the stories, then made-up ones.
pub fn rename_names() -> &'static [String] {
    static NAMES_AND_MADE_UP: LazyLock<Vec<String>> = LazyLock::new(|| {
        let made_up = NAME_ONSETS
            .iter()
            .flat_map(|o| NAME_ENDINGS.iter().map(move |e| format!("{o}{e}")))
            .filter(|n| !NOT_NEW_NAMES.contains(&n.as_str()) && !NAMES.contains(&n.as_str()));
        NAMES.iter().map(|n| n.to_string()).chain(made_up).collect()
    });
    &NAMES_AND_MADE_UP
}

/// A name that `story` does not use: half the time a common one ("Mia"), else a made-up
/// one ("Kelo"), so that the model learns to copy the name asked for.
fn new_name(story: &str, rng: &mut ChaCha8Rng) -> Option<String> {
    let made_up = rng.random_bool(0.5);
    let names = rename_names();
    let pool = if made_up {
        &names[NAMES.len()..]
    } else {
        &names[..NAMES.len()]
    };
    let free: Vec<&String> = pool.iter().filter(|n| !uses_name(story, n)).collect();
    free.choose(rng).map(|n| n.to_string())
}

/// `text` with every whole-word use of `old` (also "Lily's") replaced by `new`.
fn replace_name(text: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for at in whole_word_at(text, old) {
        out += &text[done..at];
        out += new;
        done = at + old.len();
    }
    out + &text[done..]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::instruct::fixture::fixture;
    use crate::instruct::{PREFACE_START, uses_word};

    #[test]
    fn names_are_replaced_as_whole_words() {
        assert_eq!(
            replace_name(
                "Lily saw Lilyanne. \"Lily's hat!\" said Lily",
                "Lily",
                "Mia"
            ),
            "Mia saw Lilyanne. \"Mia's hat!\" said Mia"
        );
    }

    #[test]
    fn follow_ups_are_made_exactly() {
        let stories = fixture(300);
        let mut seen = std::collections::HashMap::new();
        for (i, pair) in stories.windows(2).enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
            let Some(conv) = follow_up(&pair[0], Some(&pair[1]), &mut rng) else {
                continue;
            };
            let [first, second] = &conv[..] else {
                panic!("{conv:?}")
            };
            *seen.entry(second.kind).or_insert(0) += 1;
            let before = story_of(&first.reply);
            let after = story_of(&second.reply);
            match second.kind {
                RequestKind::Rename => {
                    let new = second.names.iter().find(|n| !first.names.contains(n));
                    let new = new.unwrap_or(&second.names[0]);
                    let old = first.names.iter().find(|n| !second.names.contains(n));
                    let old = old.cloned().unwrap_or_else(|| names(before)[0].clone());
                    assert!(uses_name(after, new) && !uses_name(before, new), "{conv:?}");
                    assert!(
                        uses_name(before, &old) && !uses_name(after, &old),
                        "{conv:?}"
                    );
                    assert!(second.prompt.contains(new.as_str()));
                }
                RequestKind::AddWord => {
                    let word = second.words.last().unwrap();
                    assert!(
                        uses_word(after, word) && !uses_word(before, word),
                        "{conv:?}"
                    );
                    assert!(second.prompt.contains(word.as_str()));
                    assert!(after.len() > before.len() && after.starts_with(&before[..10]));
                    assert_eq!(after, pair[0].trim());
                }
                RequestKind::SameCharacter => {
                    let name = &second.names[0];
                    let other = names(pair[1].trim())[0].clone();
                    assert!(
                        uses_name(before, name) && uses_name(after, name),
                        "{conv:?}"
                    );
                    assert!(!uses_name(after, &other), "{conv:?}");
                    assert!(second.reply.starts_with(PREFACE_START));
                }
                RequestKind::Continue => {
                    let story = pair[0].trim();
                    assert!(
                        story.starts_with(before) && story.ends_with(after),
                        "{conv:?}"
                    );
                    assert_eq!(story[before.len()..].trim_start(), after);
                }
                kind => panic!("{kind:?}"),
            }
            for word in &second.words {
                assert!(uses_word(after, word), "{word}: {conv:?}");
            }
            for name in &second.names {
                assert!(uses_name(after, name), "{name}: {conv:?}");
            }
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen.values().all(|&n| n > 20), "{seen:?}");
    }
}
