//! Plan-guided decoding for the chat model (`GenerateRequest::plan_bias`).
//!
//! The chat model opens a reply to a request that names characters or words with a plan
//! line, `Here is a story about Tim and Sue with the words ask and "old".`, then a blank
//! line and the story (the format `slm_data::instruct` trains). The model copies the
//! request into that line well but often writes a story that never uses a word from it.
//! With a bias `b > 0`, once the plan line is complete, the logit of the first token of
//! each named word and character gets `+b` until the story uses that word: a soft nudge
//! (lexically constrained decoding) that makes a planned word likely where it is already
//! plausible, not a forced insertion. A reply without a plan line is left alone.

use slm_tokenizer::Tokenizer;

/// How a plan line starts (`slm_data::instruct::PREFACE_START`; a test checks they agree).
pub const PLAN_START: &str = "Here is a story";

/// One planned word or name, until the story uses it.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    /// Lower-cased; a story word that starts with it counts as a use ("jump": "jumped").
    word: String,
    /// First token of the word after a space as it is written mid-sentence (" jump", a
    /// name: " Max").
    spaced: u32,
    /// First token of a common word capitalised after a space (" Jump"), only where a
    /// sentence starts: mid-sentence it would write "and Jump".
    capital: Option<u32>,
    /// The capitalised word as one token ("Max"), for a line's start; a word that is
    /// several tokens is left out (boosting "C" of "Cry" would glue letters to words).
    bare: Option<u32>,
}

/// Words that are never worth a nudge ("about The frog": the nudge goes to "frog"; a plan
/// that lists "the" gets none), in lower case. `chat-eval` counts them where they are
/// capitalised mid-sentence.
pub const FUNCTION_WORDS: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "so", "then", "he", "she", "it", "they", "we", "i",
    "his", "her", "their", "its", "my", "our", "your", "this", "that", "with", "to", "of", "in",
    "on", "at", "for", "from", "named", "called", "was", "were", "is", "are", "had", "has",
    "little", "big",
];

#[derive(Debug)]
enum State {
    /// Reading the reply's opening.
    Opening,
    /// After the plan line: the story's start in the text, and what it has not used yet
    /// (never empty).
    Story { start: usize, targets: Vec<Target> },
    /// No plan line, or every planned word used; nothing to do.
    Off,
}

/// The per-sequence guide: fed the decoded text, it biases logits while words are due.
#[derive(Debug)]
pub(crate) struct PlanGuide {
    bias: f32,
    text: String,
    state: State,
}

impl PlanGuide {
    pub fn new(bias: f32) -> Self {
        PlanGuide {
            bias,
            text: String::new(),
            state: State::Opening,
        }
    }

    /// Whether [`Self::apply`] would change anything.
    pub fn active(&self) -> bool {
        matches!(self.state, State::Story { .. })
    }

    /// Adds `bias` to the first tokens of every planned word the story has not used.
    pub fn apply(&self, logits: &mut [f32]) {
        let State::Story { targets, .. } = &self.state else {
            return;
        };
        let line_start = self.text.ends_with('\n');
        let sentence_start = line_start || ends_sentence(&self.text);
        for t in targets {
            let bare = t.bare.filter(|_| line_start);
            let capital = t.capital.filter(|_| sentence_start);
            for id in std::iter::once(t.spaced).chain(capital).chain(bare) {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l += self.bias;
                }
            }
        }
    }

    /// Takes the next piece of decoded reply text.
    pub fn push(&mut self, delta: &str, tok: &Tokenizer) {
        if matches!(self.state, State::Off) || delta.is_empty() {
            return;
        }
        self.text.push_str(delta);
        let (start, mut targets) = match std::mem::replace(&mut self.state, State::Off) {
            State::Opening => {
                let n = self.text.len().min(PLAN_START.len());
                if self.text.as_bytes()[..n] != PLAN_START.as_bytes()[..n] {
                    return;
                }
                let Some(end) = self.text.find("\n\n") else {
                    self.state = State::Opening;
                    return;
                };
                (end + 2, targets(&self.text[..end], tok))
            }
            State::Story { start, targets } => (start, targets),
            State::Off => return,
        };
        // The whole story so far: a word may span pieces.
        let story = &self.text[start..];
        targets.retain(|t| !uses(story, &t.word));
        if !targets.is_empty() {
            self.state = State::Story { start, targets };
        }
    }
}

/// The names and words of a plan line (the format `slm_data::instruct` writes; a word is
/// quoted where the request quoted it), in order, repeats kept, quotes stripped.
pub fn plan_items(plan: &str) -> Vec<String> {
    let Some(rest) = plan.strip_prefix(PLAN_START) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    if let Some(about) = rest.strip_prefix(" about ") {
        let names = about
            .split_once(" with the word")
            .map_or(about, |(n, _)| n)
            .trim_end_matches('.');
        items.extend(
            names
                .split(", ")
                .flat_map(|n| n.split(" and "))
                .map(str::trim)
                .filter(|n| !n.is_empty() && !n.contains('"'))
                .map(String::from),
        );
    }
    if let Some((_, list)) = rest.split_once(" with the word") {
        let list = list.strip_prefix('s').unwrap_or(list);
        items.extend(
            list.trim()
                .trim_end_matches('.')
                .split(", ")
                .flat_map(|w| w.split(" and "))
                .map(|w| w.trim().trim_matches(['"', '\u{201c}', '\u{201d}']))
                .filter(|w| !w.is_empty())
                .map(String::from),
        );
    }
    items
}

/// Whether `text` ends a sentence: its last character other than spaces and closing
/// quotes is `.`, `!` or `?`.
fn ends_sentence(text: &str) -> bool {
    text.trim_end_matches([' ', '"', '\''])
        .ends_with(['.', '!', '?'])
}

/// What a plan item asks for: a name as written ("Max"; in "Mia the cat", "Mia"), or a
/// common word in lower case (the last word of "The frog" or "a brave little frog");
/// `None` for an item of function words only. `bool`: whether it is a name.
pub fn item_target(item: &str) -> Option<(String, bool)> {
    let words: Vec<&str> = item
        .split_whitespace()
        .filter(|w| !FUNCTION_WORDS.contains(&w.to_lowercase().as_str()))
        .collect();
    if let Some(name) = words
        .iter()
        .find(|w| w.chars().next().is_some_and(char::is_uppercase))
    {
        return Some((name.to_string(), true));
    }
    words.last().map(|w| (w.to_lowercase(), false))
}

fn targets(plan: &str, tok: &Tokenizer) -> Vec<Target> {
    let first = |form: &str| tok.encode(form).ok()?.first().copied();
    let mut out: Vec<Target> = Vec::new();
    for (word, name) in plan_items(plan).iter().filter_map(|i| item_target(i)) {
        let mut capital = word.clone();
        if let Some(c) = capital.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        let Some(spaced) = first(&format!(" {word}")) else {
            continue;
        };
        let target = Target {
            word: word.to_lowercase(),
            spaced,
            capital: if name {
                None
            } else {
                first(&format!(" {capital}")).filter(|&c| c != spaced)
            },
            bare: match tok.encode(&capital).ok().as_deref() {
                Some(&[id]) => Some(id),
                _ => None,
            },
        };
        if !out.iter().any(|t| t.word == target.word) {
            out.push(target);
        }
    }
    out
}

/// Whether some word of `text` starts with `word` (lower-cased), case-insensitively.
fn uses(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .any(|w| w.to_lowercase().starts_with(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_items_read_names_and_words_quoted_or_not() {
        let items = |s: &str| plan_items(s);
        assert_eq!(
            items("Here is a story about Tim and Sue with the words \"ask\", \"big\" and \"old\"."),
            ["Tim", "Sue", "ask", "big", "old"]
        );
        assert_eq!(items("Here is a story about Max."), ["Max"]);
        assert_eq!(items("Here is a story with the word \"jump\"."), ["jump"]);
        assert_eq!(items("Here is a story with the word sun."), ["sun"]);
        assert_eq!(
            items(
                "Here is a story about Kelo with the words kite, \u{201c}ask\u{201d} and \"sand\"."
            ),
            ["Kelo", "kite", "ask", "sand"]
        );
        assert_eq!(
            items("Here is a story about Ann, Bo and Cy."),
            ["Ann", "Bo", "Cy"]
        );
        assert!(items("Once upon a time").is_empty());
    }

    /// The parser reads back every plan line the training data writes.
    #[test]
    fn plan_items_round_trip_the_training_format() {
        assert_eq!(PLAN_START, slm_data::instruct::PREFACE_START);
        let stories = [
            "Once upon a time, there was a little dog named Max. Max liked to run in the park. \
             One day, Max met a cat named Sue. \"Let's play!\" said Max. They played with a \
             red ball until the sun went down. Sue was happy and they became good friends.",
            "Lily and Tom went to the big garden. They saw a pretty flower and a slow frog. \
             Tom wanted to jump over the pond, but he fell in the water. Lily helped him out \
             and they laughed. They learned to be careful near the water.",
        ];
        let mut plans = 0;
        for story in stories {
            for seed in 0..200 {
                let Some(r) = slm_data::instruct::story_request(story, seed) else {
                    continue;
                };
                let Some((plan, _)) = r.reply.split_once("\n\n") else {
                    continue;
                };
                if !plan.starts_with(PLAN_START) {
                    continue;
                }
                plans += 1;
                let want: Vec<String> = r.names.iter().chain(&r.words).cloned().collect();
                assert_eq!(plan_items(plan), want, "{plan}");
            }
        }
        assert!(plans > 100, "{plans} plan lines");
    }

    /// With the chat model's tokenizer: nothing is biased during the plan line; after it,
    /// exactly the planned words' first tokens are, each until the story uses it; the
    /// one-token capitalised name only at a line's start; a reply without a plan line is
    /// never biased.
    #[test]
    fn the_guide_biases_planned_words_until_used() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok =
            Tokenizer::from_file(repo.join("models/tinystories-15m-chat/tokenizer.json")).unwrap();
        let id = |s: &str| tok.encode(s).unwrap()[0];
        let biased = |g: &PlanGuide| {
            let mut logits = vec![0.0f32; tok.vocab_size()];
            g.apply(&mut logits);
            let mut ids: Vec<u32> = (0..logits.len() as u32)
                .filter(|&i| logits[i as usize] != 0.0)
                .collect();
            ids.sort_unstable();
            ids
        };
        let sorted = |mut v: Vec<u32>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut g = PlanGuide::new(2.0);
        g.push("Here is a story about Tom with the word ", &tok);
        assert!(!g.active() && biased(&g).is_empty());
        g.push("\"jump\".\n\n", &tok);
        assert!(g.active());
        // At the story's start (a line's start) the one-token "Tom" and "Jump" count too.
        assert_eq!(tok.encode("Jump").unwrap().len(), 1);
        let tom = [id(" Tom"), id("Tom")];
        let jump = [id(" jump"), id(" Jump")];
        let line_start = tom.iter().chain(&jump).copied().chain([id("Jump")]);
        assert_eq!(biased(&g), sorted(line_start.collect()));
        g.push("Once there was a boy named Tom.", &tok);
        assert_eq!(biased(&g), sorted(jump.to_vec()));
        // Mid-sentence a common word is nudged in lower case only.
        g.push(" He saw a frog and", &tok);
        assert_eq!(biased(&g), vec![id(" jump")]);
        g.push(" jumped.", &tok);
        assert!(!g.active() && biased(&g).is_empty());

        let mut plain = PlanGuide::new(2.0);
        plain.push("Once upon a time, \"jump\".\n\n", &tok);
        assert!(!plain.active());
    }

    /// A plan the model wrote in its own words nudges the word it names, never a function
    /// word: "about The frog" nudges " frog", not " The".
    #[test]
    fn plan_items_become_names_or_words_never_function_words() {
        let t = |s: &str| item_target(s);
        assert_eq!(t("The frog"), Some(("frog".into(), false)));
        assert_eq!(t("a brave little frog"), Some(("frog".into(), false)));
        assert_eq!(t("Mia the cat"), Some(("Mia".into(), true)));
        assert_eq!(t("a bunny named Max"), Some(("Max".into(), true)));
        assert_eq!(t("Max"), Some(("Max".into(), true)));
        assert_eq!(t("The"), None);
        assert_eq!(t("and"), None);
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok =
            Tokenizer::from_file(repo.join("models/tinystories-15m-chat/tokenizer.json")).unwrap();
        let ids: Vec<u32> = targets("Here is a story about The frog and A dragon.", &tok)
            .iter()
            .flat_map(|t| [Some(t.spaced), t.capital, t.bare])
            .flatten()
            .collect();
        for function in [" The", " A", "The", "A"] {
            let id = tok.encode(function).unwrap()[0];
            assert!(!ids.contains(&id), "{function:?} is nudged");
        }
        assert!(ids.contains(&tok.encode(" frog").unwrap()[0]));
        assert!(ids.contains(&tok.encode(" dragon").unwrap()[0]));
    }

    #[test]
    fn sentence_ends_are_seen_through_quotes() {
        assert!(ends_sentence("He ran."));
        assert!(ends_sentence("\"Run!\" "));
        assert!(!ends_sentence("He ran and"));
        assert!(!ends_sentence("He said, \""));
    }

    #[test]
    fn uses_counts_inflections_and_whole_words_only() {
        assert!(uses("He jumped high.", "jump"));
        assert!(uses("Tim's dog", "tim"));
        assert!(!uses("a bump", "jump"));
    }
}
