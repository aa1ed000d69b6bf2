//! How a story request is worded: the same asks (characters, animals, words, features) in
//! many registers, so that the model learns to find what is asked for in any wording
//! rather than in a handful of templates. A request is composed from independent choices:
//! the layout (one sentence, several, a terse fragment), the frame ("Tell me …", "Could
//! you write …?"), how each character is introduced ("a girl named Mia", "Mia the cat",
//! "my friend Mia"), whether words are listed (with or without quotes, "and" or commas)
//! or placed in the sentence ("who finds a red kite", "in the park"), and the noise people
//! type with (lower case, no full stop, a typo in a frame word, a greeting).
//!
//! The evaluation-only phrasings (`slm-train`'s `phrasings`) are kept out of everything
//! written here: a test there checks that no training request shares three words in a row
//! with them.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::facts::{Character, Ending};
use super::lexicon::{
    ADJECTIVES, ANIMALS, CHARACTER_LINKS, DESCRIPTORS, FRAMES, GREETINGS, NOUNS, OBJECT_VERBS,
    PLACES, SIGN_OFFS, SUBJECT_SENTENCES, TYPOS, VERBS, WORD_CLAUSES, WORD_SENTENCES,
};
use super::text::{join, pick, whole_word_at, with_article};

/// What one request asks for, chosen from a story's facts.
#[derive(Default)]
pub(super) struct Ask<'a> {
    pub characters: Vec<&'a Character>,
    pub animals: Vec<&'static str>,
    /// A noun, a verb and/or an adjective.
    pub words: Vec<&'static str>,
    pub dialogue: bool,
    pub moral: bool,
    pub ending: Option<Ending>,
}

/// The request's text, with the words it asks for (in the order the text names them) and
/// the names.
pub(super) fn render(ask: &Ask, rng: &mut ChaCha8Rng) -> (String, Vec<String>, Vec<String>) {
    let mut words: Vec<String> = Vec::new();
    let mut loose: Vec<&'static str> = ask.words.clone();
    loose.shuffle(rng);
    let mut subjects = Vec::new();
    let names: Vec<String> = ask.characters.iter().map(|c| c.name.clone()).collect();
    for c in &ask.characters {
        subjects.push(character_phrase(c, &mut loose, &mut words, rng));
    }
    for &animal in &ask.animals {
        if words.iter().any(|w| w == animal) {
            continue;
        }
        let adjective = take(&mut loose, ADJECTIVES, rng, 0.4);
        words.extend(adjective.map(String::from));
        words.push(animal.to_string());
        subjects.push(with_article(
            &adjective.map_or(animal.to_string(), |a| format!("{a} {animal}")),
        ));
    }
    // Words placed in the sentence: a setting, an object someone finds, what someone
    // likes to do.
    let mut setting = None;
    if let Some((at, phrase)) = loose
        .iter()
        .enumerate()
        .find_map(|(i, w)| {
            PLACES
                .iter()
                .find(|(p, _)| p == w)
                .map(|&(_, phrase)| (i, phrase))
        })
        .filter(|_| rng.random_bool(0.5))
    {
        let place = loose.remove(at);
        setting = Some(if subjects.is_empty() {
            format!(" set {phrase}")
        } else {
            format!(" {phrase}")
        });
        words.push(place.to_string());
    }
    let mut relative = None;
    if let Some(object) = loose
        .iter()
        .position(|w| NOUNS.contains(w))
        .filter(|_| !subjects.is_empty() && rng.random_bool(0.4))
    {
        let noun = loose.remove(object);
        let adjective = take(&mut loose, ADJECTIVES, rng, 0.5);
        words.extend(adjective.map(String::from));
        words.push(noun.to_string());
        let thing = adjective.map_or(noun.to_string(), |a| format!("{a} {noun}"));
        relative = Some(format!(
            " who {} {}",
            pick(OBJECT_VERBS, rng),
            with_article(&thing)
        ));
    } else if let Some(verb) = loose
        .iter()
        .position(|w| VERBS.contains(w))
        .filter(|_| !subjects.is_empty() && rng.random_bool(0.35))
    {
        let verb = loose.remove(verb);
        words.push(verb.to_string());
        let how = pick(&["likes to", "loves to", "wants to", "learns to"], rng);
        relative = Some(format!(" who {how} {verb}"));
    }
    // The rest are listed.
    words.extend(loose.iter().map(|w| w.to_string()));
    let list = (!loose.is_empty()).then(|| word_list(&loose, rng));

    let mut features = Vec::new();
    let mut descriptor = pick(DESCRIPTORS, rng).to_string();
    if ask.dialogue {
        features.push(
            pick(
                &[
                    "dialogue",
                    "some dialogue",
                    "lots of talking",
                    "characters who talk",
                ],
                rng,
            )
            .to_string(),
        );
    }
    match ask.ending {
        Some(Ending::Happy) => {
            features.push(pick(&["a happy ending", "a nice ending"], rng).into())
        }
        Some(Ending::Sad) if rng.random_bool(0.5) => descriptor = "a sad story".to_string(),
        Some(Ending::Sad) => features.push("a sad ending".to_string()),
        None => {}
    }
    let learner = ask.moral && !subjects.is_empty() && relative.is_none() && rng.random_bool(0.5);
    if ask.moral && !learner {
        features.push(pick(&["a moral", "a lesson at the end", "a good lesson"], rng).to_string());
    }

    let who = format!("{}{}", join(&subjects), relative.as_deref().unwrap_or(""));
    let setting = setting.unwrap_or_default();
    let about = if subjects.is_empty() {
        setting.clone()
    } else if learner {
        let verb = if subjects.len() > 1 {
            "learn"
        } else {
            "learns"
        };
        format!(" where {} {verb} a lesson{setting}", join(&subjects))
    } else {
        let prep = pick(&["about", "about", "about", "about", "with"], rng);
        format!(" {prep} {who}{setting}")
    };
    let with = if features.is_empty() {
        String::new()
    } else {
        format!(" with {}", join(&features))
    };
    let plural = if loose.len() > 1 { "s" } else { "" };
    let prompt = match rng.random_range(0..12) {
        // Labelled fields, as in a form.
        10 | 11 if !subjects.is_empty() || list.is_some() => {
            let mut out = pick(
                &[
                    "Story request.",
                    "A story, please.",
                    "Bedtime story!",
                    "New story.",
                ],
                rng,
            )
            .to_string();
            if !subjects.is_empty() {
                let label = pick(&["Characters", "Who", "Hero"], rng);
                out += &format!(" {label}: {who}{setting}.");
            } else if !setting.is_empty() {
                out += &format!(" Place: a story{setting}.");
            }
            if let Some(list) = &list {
                let label = pick(&["Words", "Use", "Keywords", "Include"], rng);
                out += &format!(" {label}: {list}.");
            }
            if let Some(features) = with.strip_prefix(" with ") {
                out += &format!(" Also: {features}.");
            }
            out
        }
        // Terse: no frame.
        0 => {
            let mut out = format!("{descriptor}{about}{with}");
            if let Some(list) = &list {
                out += &format!(", {}", clause(WORD_CLAUSES, list, plural, rng).trim_start());
            }
            capitalise_first(&out) + pick(&["", "", ".", " please.", ", please", "!"], rng)
        }
        // The characters in a sentence of their own.
        1 | 2 if !subjects.is_empty() && !learner => {
            let (before, after) = pick(FRAMES, rng);
            let mut out = format!("{before}{descriptor}{setting}{with}{after}");
            out += &pick(SUBJECT_SENTENCES, rng).replace("{}", &who);
            if let Some(list) = &list {
                out += &clause(WORD_SENTENCES, list, plural, rng);
            }
            out
        }
        // One sentence, the words inside it.
        3..=5 if list.is_some() => {
            let (before, after) = pick(FRAMES, rng);
            let list = clause(WORD_CLAUSES, list.as_ref().expect("list"), plural, rng);
            format!("{before}{descriptor}{about}{with}{list}{after}")
        }
        // A sentence, then the words in a sentence of their own.
        _ => {
            let (before, after) = pick(FRAMES, rng);
            let (first, second) = if rng.random_bool(0.5) {
                (about.as_str(), with.as_str())
            } else {
                (with.as_str(), about.as_str())
            };
            let mut out = format!("{before}{descriptor}{first}{second}{after}");
            if let Some(list) = &list {
                out += &clause(WORD_SENTENCES, list, plural, rng);
            }
            out
        }
    };
    let prompt = noise(prompt, &names, &words, rng);
    // The plan line names the words in the order the request does.
    let lower = prompt.to_lowercase();
    words.sort_by_key(|w| find_word(&lower, w).unwrap_or(usize::MAX));
    (prompt, words, names)
}

/// How a named character is introduced; takes the animal and (sometimes) an adjective
/// into `words`.
fn character_phrase(
    c: &Character,
    loose: &mut Vec<&'static str>,
    words: &mut Vec<String>,
    rng: &mut ChaCha8Rng,
) -> String {
    let name = &c.name;
    let Some(kind) = c.kind.filter(|_| rng.random_bool(0.6)) else {
        return match rng.random_range(0..10) {
            0 => format!("my friend {name}"),
            1 => format!("someone called {name}"),
            2 => format!("a kid named {name}"),
            _ => name.clone(),
        };
    };
    let adjective = c
        .adjective
        .filter(|_| rng.random_bool(0.5))
        .or_else(|| take(loose, ADJECTIVES, rng, 0.3));
    words.extend(adjective.map(String::from));
    if ANIMALS.contains(&kind) {
        words.push(kind.to_string());
    }
    let described = adjective.map_or(kind.to_string(), |a| format!("{a} {kind}"));
    match rng.random_range(0..6) {
        0 => format!("{name} the {described}"),
        1 => format!("{name}, {}", with_article(&described)),
        _ => format!(
            "{} {} {name}",
            with_article(&described),
            pick(CHARACTER_LINKS, rng)
        ),
    }
}

/// Takes a word of `list` out of `loose`, with probability `p` when there is one.
fn take(
    loose: &mut Vec<&'static str>,
    list: &[&str],
    rng: &mut ChaCha8Rng,
    p: f64,
) -> Option<&'static str> {
    let i = loose.iter().position(|w| list.contains(w))?;
    rng.random_bool(p).then(|| loose.remove(i))
}

/// The words as a list: quoted or not, "a, b and c", "a, b, and c", "a, b, c", "a and b".
fn word_list(words: &[&str], rng: &mut ChaCha8Rng) -> String {
    let items: Vec<String> = words
        .iter()
        .map(|w| match rng.random_range(0..10) {
            0..=2 => format!("\"{w}\""),
            3 => format!("\u{201c}{w}\u{201d}"),
            _ => w.to_string(),
        })
        .collect();
    let style = rng.random_range(0..10);
    match (items.as_slice(), style) {
        ([only], _) => only.clone(),
        (_, 0..=5) => join(&items),
        ([init @ .., last], 6 | 7) => format!("{}, and {last}", init.join(", ")),
        (_, 8) => items.join(", "),
        _ => items.join(" and "),
    }
}

/// A clause asking for `list`: `{}` is the list, `{s}` the plural ending.
fn clause(clauses: &[&str], list: &str, plural: &str, rng: &mut ChaCha8Rng) -> String {
    pick(clauses, rng)
        .replace("{s}", plural)
        .replace("{}", list)
}

fn capitalise_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// What people type with: a greeting or thanks, lower case, no final full stop, a typo
/// in a word of the frame (never in a name or a requested word).
fn noise(mut prompt: String, names: &[String], words: &[String], rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.1) {
        prompt = format!("{} {prompt}", pick(GREETINGS, rng));
    }
    if rng.random_bool(0.08) {
        prompt += pick(SIGN_OFFS, rng);
    }
    if rng.random_bool(0.06) {
        let (right, wrong) = pick(TYPOS, rng);
        let protected = |w: &str| {
            names
                .iter()
                .chain(words)
                .any(|item| item.eq_ignore_ascii_case(w))
        };
        if !protected(right)
            && let Some(at) = find_word(&prompt, right)
        {
            prompt.replace_range(at..at + right.len(), wrong);
        }
    }
    if rng.random_bool(0.12) {
        let keep_names = rng.random_bool(0.7);
        let mut lower = prompt.to_lowercase();
        if keep_names {
            for name in names {
                let low = name.to_lowercase();
                while let Some(at) = find_word(&lower, &low) {
                    lower.replace_range(at..at + low.len(), name);
                }
            }
        }
        prompt = lower;
    }
    if rng.random_bool(0.1) && prompt.ends_with(['.', '!']) {
        prompt.pop();
    }
    prompt
}

/// Byte offset of the first whole-word use of `word` in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    whole_word_at(text, word).next()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::instruct::fixture::fixture;
    use crate::instruct::{RequestKind, story_request};

    #[test]
    fn requests_name_what_they_ask_for_in_many_wordings() {
        let stories = fixture(400);
        let mut openings = HashSet::new();
        let mut lower_case = 0;
        let mut requests = 0;
        for (i, story) in stories.iter().enumerate() {
            let Some(r) = story_request(story, i as u64) else {
                continue;
            };
            if r.kind != RequestKind::Story || r.words.len() + r.names.len() == 0 {
                continue;
            }
            requests += 1;
            let lower = r.prompt.to_lowercase();
            let mut at = Vec::new();
            for item in r.words.iter().chain(&r.names) {
                let found = find_word(&lower, &item.to_lowercase());
                assert!(found.is_some(), "{item} not in {:?}", r.prompt);
                at.push(found);
            }
            // The plan line lists the words in the order the request names them.
            let word_at = &at[..r.words.len()];
            assert!(word_at.is_sorted(), "{r:?}");
            lower_case += usize::from(r.prompt == lower);
            openings.insert(lower.split(' ').take(2).collect::<Vec<_>>().join(" "));
            if i < 60 {
                println!("{:?} -> {:?} {:?}", r.prompt, r.names, r.words);
            }
        }
        assert!(requests > 250, "{requests}");
        assert!(openings.len() > 40, "{} openings", openings.len());
        assert!(lower_case > 5, "{lower_case} in lower case");
    }

    #[test]
    fn typos_and_case_never_touch_names_or_words() {
        let mut rng = rand::SeedableRng::seed_from_u64(3);
        let names = vec!["Tell".to_string()];
        let words = vec!["story".to_string()];
        for _ in 0..200 {
            let out = noise(
                "Tell me a story about Tell.".into(),
                &names,
                &words,
                &mut rng,
            );
            let lower = out.to_lowercase();
            assert!(
                lower.contains(" story ") && lower.matches("tell").count() == 2,
                "{out}"
            );
        }
        assert_eq!(find_word("a cat and catch", "catch"), Some(10));
        assert_eq!(find_word("catch a cat", "cat"), Some(8));
    }
}
