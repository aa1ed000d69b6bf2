//! Request phrasings for evaluation only: how people write when they ask for a story, in
//! families the instruction data never uses (`slm_data::instruct` writes its requests from
//! `FRAMES`, `DESCRIPTORS` and `WORD_SENTENCES`; a test below checks that no request it
//! generates shares a family's wording, and that no family starts like one of its frames).
//! `chat-eval` asks for the same names and words in these families beside the training
//! phrasings, so a score that holds only for familiar wording shows.

use slm_data::instruct::Request;

/// One family: builds the message from the name (if any), the words (at least one of the
/// two is given) and a variant number that picks among the family's small choices.
type Family = fn(Option<&str>, &[String], usize) -> String;

/// The families, each with a different register: terse lists, questions, several
/// sentences, lower case without punctuation, a typo, a parent asking, words inside the
/// sentence, quotes of another kind.
pub const FAMILIES: &[(&str, Family)] = &[
    ("terse lower case", |name, words, _| {
        let mut out = String::from("story pls");
        if let Some(n) = name {
            out += &format!(" about {n}");
        }
        if !words.is_empty() {
            out += &format!(" with {}", words.join(" "));
        }
        out
    }),
    ("labelled fields", |name, words, _| {
        let mut out = String::from("Story time!");
        if let Some(n) = name {
            out += &format!(" Main character: {n}.");
        }
        if !words.is_empty() {
            out += &format!(" Words to include: {}.", words.join(", "));
        }
        out
    }),
    ("parent asking", |name, words, variant| {
        let who = ["daughter", "son", "little one"][variant % 3];
        let mut out = format!("My {who} wants a bedtime tale");
        match name {
            Some(n) => out += &format!(" starring {n}"),
            None => out += " tonight",
        }
        if !words.is_empty() {
            out += &format!(", and it has to mention {}", or_list(words, "and"));
        }
        out + ". Thanks!"
    }),
    ("typo and single quotes", |name, words, _| {
        let mut out = String::from("hey can u tell a storey");
        if let Some(n) = name {
            out += &format!(" about {n}");
        }
        if !words.is_empty() {
            let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            out += &format!(" and put {} in it", or_list(&quoted, "and"));
        }
        out
    }),
    ("question, then words", |name, words, _| {
        let mut out = match name {
            Some(n) => format!("Do you know any stories about {n}?"),
            None => String::from("Do you know any good stories?"),
        };
        if !words.is_empty() {
            out += &format!(
                " I'd like one where {} show{} up.",
                or_list(words, "and"),
                if words.len() == 1 { "s" } else { "" }
            );
        }
        out
    }),
    ("words inside the sentence", |name, words, variant| {
        let hero = name.map_or_else(|| "someone".to_string(), str::to_string);
        let mut out = format!("Imagine {hero} on an adventure");
        if !words.is_empty() {
            let link = ["that involves", "featuring"][variant % 2];
            out += &format!(" {link} {}", or_list(words, "plus"));
        }
        out + " - go on, narrate it!"
    }),
];

/// `a, b plus c` (with `last` before the final item).
fn or_list(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., end] => format!("{} {last} {end}", init.join(", ")),
    }
}

/// `requests` asked again in the held-out families: the same names and words, another
/// wording (one family per request, in turn; `seed` shifts the variants inside families).
/// Off-topic questions and requests for nothing in particular are left out.
pub fn rephrase(requests: &[Request], seed: u64) -> Vec<(usize, Request)> {
    requests
        .iter()
        .filter(|r| !(r.words.is_empty() && r.names.is_empty()))
        .filter(|r| r.kind == slm_data::instruct::RequestKind::Story)
        .enumerate()
        .map(|(i, r)| {
            let family = i % FAMILIES.len();
            // One name at most: the families introduce one main character.
            let name = r.names.first().map(String::as_str);
            let variant = (seed as usize).wrapping_add(i / FAMILIES.len());
            let prompt = (FAMILIES[family].1)(name, &r.words, variant);
            let names = name.map(|n| vec![n.to_string()]).unwrap_or_default();
            (
                family,
                Request {
                    prompt,
                    reply: String::new(),
                    words: r.words.clone(),
                    names,
                    kind: r.kind,
                },
            )
        })
        .collect()
}

/// Follow-ups asking to rename a character, for evaluation only: `{old}` and `{new}` are
/// the names (the training wordings are `slm_data::instruct`'s; a test checks they share no
/// three words in a row).
pub const RENAMES: &[&str] = &[
    "how about naming {old} {new} this time",
    "I don't like the name {old}. Go with {new}.",
    "Could the hero be {new} rather than {old}?",
    "Redo it, but {old} becomes {new}.",
    "Swap {old} for {new} please!",
];

/// Follow-ups asking for a word in the same story, for evaluation only; `{}` is the word
/// with its article ("a kite", "an apple").
pub const ADD_WORDS: &[&str] = &[
    "one more thing: it needs {}",
    "Could there be {} somewhere in it?",
    "Redo it so that {} shows up.",
    "Hmm, I also wanted {} in there.",
    "Work in {}, will you?",
];

/// New names for the renames, none of them a training new-name
/// (`slm_data::instruct::rename_names`).
pub const EVAL_NAMES: &[&str] = &[
    "Nora", "Theo", "Ivy", "Hugo", "Ada", "Felix", "Iris", "Oscar", "Maya", "Ezra", "Hazel",
    "Jonah", "Clara", "Otto", "Stella", "Rosa",
];

/// Things to add to a story (one a story does not have yet is asked for).
pub const EVAL_THINGS: &[&str] = &[
    "kite", "cookie", "castle", "boat", "hat", "cake", "star", "shell", "drum", "apple", "moon",
    "balloon", "sock", "bell", "map", "treasure", "lamp", "bridge", "rainbow", "train",
];

/// The `i`-th rename follow-up of a story that uses `old`: the request and the new name.
pub fn rename(old: &str, story: &str, i: usize) -> (String, String) {
    let new = (0..EVAL_NAMES.len())
        .map(|k| EVAL_NAMES[(i + k) % EVAL_NAMES.len()])
        .find(|n| *n != old && !slm_data::instruct::uses_name(story, n))
        .unwrap_or(EVAL_NAMES[0]);
    let prompt = RENAMES[i % RENAMES.len()]
        .replace("{old}", old)
        .replace("{new}", new);
    (prompt, new.to_string())
}

/// The `i`-th add-a-word follow-up of `story`: the request and the word (one the story
/// does not use yet).
pub fn add_word(story: &str, i: usize) -> (String, String) {
    let word = (0..EVAL_THINGS.len())
        .map(|k| EVAL_THINGS[(i * 7 + k) % EVAL_THINGS.len()])
        .find(|w| !slm_data::instruct::uses_word(story, w))
        .unwrap_or(EVAL_THINGS[0]);
    (
        ADD_WORDS[i % ADD_WORDS.len()].replace("{}", &slm_data::instruct::with_article(word)),
        word.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use slm_data::instruct::{InstructOptions, conversations, story_request};

    /// Made-up stories with names, animals and everyday words.
    fn stories() -> Vec<String> {
        let names = ["Mia", "Tom", "Lily", "Ben", "Sue", "Max", "Zoe", "Sam"];
        let things = [
            "kite", "ball", "cake", "boat", "tree", "hat", "box", "cookie",
        ];
        (0..64)
            .map(|i| {
                let (n, t) = (names[i % 8], things[(i / 8) % 8]);
                format!(
                    "Once upon a time, there was a little girl named {n}. {n} had a red {t}. \
                     One day, {n} went to the park with her dog. The dog found a big stick. \
                     \"Look!\" said {n}. They played and laughed all day. {n} was very happy. \
                     At night, {n} hugged her {t} and went to sleep."
                )
            })
            .collect()
    }

    /// Lower-case words without punctuation, one space apart.
    fn plain(text: &str) -> String {
        text.to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The three-word runs of `text`'s own wording: its plain words with `items` (the
    /// names and words asked for) taken out, each run as " a b c ".
    fn own_trigrams(text: &str, items: &[String]) -> Vec<String> {
        let mut fixed = text.to_lowercase();
        for item in items {
            fixed = fixed.replace(&item.to_lowercase(), "\u{1}");
        }
        fixed
            .split('\u{1}')
            .flat_map(|piece| {
                let words: Vec<String> = plain(piece).split(' ').map(str::to_string).collect();
                words
                    .windows(3)
                    .filter(|g| g.iter().all(|w| !w.is_empty()))
                    .map(|g| format!(" {} ", g.join(" ")))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn families_never_share_wording_with_the_training_requests() {
        let stories = stories();
        let refs: Vec<&str> = stories.iter().map(String::as_str).collect();
        let mut training = Vec::new();
        for seed in 0..20 {
            for conv in conversations(
                &refs,
                &InstructOptions {
                    seed,
                    ..Default::default()
                },
            ) {
                training.extend(conv.into_iter().map(|r| r.prompt.to_lowercase()));
            }
        }
        assert!(training.len() > 500, "{}", training.len());
        let requests: Vec<Request> = refs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| story_request(s, i as u64))
            .collect();
        let held_out = rephrase(&requests, 1);
        assert!(held_out.len() >= FAMILIES.len() * 3, "{}", held_out.len());
        // No three words in a row of a family's own wording (its text with the name and
        // words taken out) occur in any training request.
        let training: Vec<String> = training.iter().map(|t| format!(" {} ", plain(t))).collect();
        for (family, r) in &held_out {
            let items: Vec<String> = r.names.iter().chain(&r.words).cloned().collect();
            let grams = own_trigrams(&r.prompt, &items);
            for gram in &grams {
                if let Some(t) = training.iter().find(|t| t.contains(gram.as_str())) {
                    panic!(
                        "family {:?} shares{gram}with the training request{t}",
                        FAMILIES[*family].0
                    );
                }
            }
            assert!(!grams.is_empty(), "{}", r.prompt);
        }
        // Each family asks for what was asked for: the name and every word appear.
        for (_, r) in &held_out {
            for item in r.names.iter().chain(&r.words) {
                assert!(
                    r.prompt.contains(item.as_str()),
                    "{} lacks {item}",
                    r.prompt
                );
            }
        }
    }

    #[test]
    fn follow_ups_never_share_wording_with_the_training_follow_ups() {
        let stories = stories();
        let refs: Vec<&str> = stories.iter().map(String::as_str).collect();
        let mut training = Vec::new();
        let mut new_names = std::collections::HashSet::new();
        for seed in 0..20 {
            let opts = InstructOptions {
                seed,
                follow_up_share: 1.0,
                ..Default::default()
            };
            for conv in conversations(&refs, &opts) {
                if let [first, second] = &conv[..] {
                    new_names.extend(
                        second
                            .names
                            .iter()
                            .filter(|n| !first.names.contains(n))
                            .cloned(),
                    );
                    training.push(format!(" {} ", plain(&second.prompt)));
                }
            }
        }
        assert!(training.len() > 500, "{}", training.len());
        assert!(new_names.len() > 10, "{new_names:?}");
        let pool = slm_data::instruct::rename_names();
        assert!(new_names.iter().all(|n| pool.contains(n)), "{new_names:?}");
        assert!(
            EVAL_NAMES.iter().all(|n| !pool.iter().any(|p| p == n)),
            "an evaluation name is a training new-name"
        );
        let story = &stories[0];
        let mut grams = 0;
        for i in 0..RENAMES.len().max(ADD_WORDS.len()) {
            let (rename, new) = rename("Mia", story, i);
            let (add, word) = add_word(story, i);
            assert!(rename.contains("Mia") && rename.contains(&new) && add.contains(&word));
            for (text, items) in [(rename, vec!["Mia".to_string(), new]), (add, vec![word])] {
                for gram in own_trigrams(&text, &items) {
                    grams += 1;
                    assert!(
                        !training.iter().any(|t| t.contains(&gram)),
                        "{text:?} shares{gram}with a training follow-up"
                    );
                }
            }
        }
        assert!(grams > 20, "{grams}");
    }
}
