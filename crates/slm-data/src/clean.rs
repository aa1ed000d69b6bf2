//! Cleaning: whitespace and line-ending normalisation, dropping empty and
//! broken records, optional exact deduplication and train/validation overlap
//! removal, with counts for every decision.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slm_tokenizer::EOT;

use crate::reader::{Broken, Record};

/// Why a record was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Nothing left after whitespace normalisation.
    Empty,
    /// Shorter than `CleanOptions::min_chars`.
    TooShort,
    /// Text longer than the reader's limit without a separator.
    TooLong,
    /// A JSON record that does not parse.
    InvalidJson,
    /// A JSON record without a `story`/`text` string.
    MissingField,
    /// Contains U+FFFD: text that was already mis-decoded upstream.
    ReplacementCharacter,
    /// A JSON story containing the literal `<|endoftext|>` marker.
    ContainsSeparator,
    /// An exact duplicate of an earlier story (with `dedup`).
    Duplicate,
    /// Also present in the validation split.
    OverlapsValidation,
}

/// Counts of what cleaning did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanStats {
    /// Records read (kept + dropped).
    pub read: u64,
    pub kept: u64,
    pub dropped: BTreeMap<DropReason, u64>,
}

impl CleanStats {
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// What was counted after `earlier`, a snapshot of these same counts.
    pub fn since(&self, earlier: &CleanStats) -> CleanStats {
        let dropped = self
            .dropped
            .iter()
            .map(|(&reason, &n)| (reason, n - earlier.dropped_for(reason)))
            .filter(|&(_, n)| n > 0)
            .collect();
        CleanStats {
            read: self.read - earlier.read,
            kept: self.kept - earlier.kept,
            dropped,
        }
    }
}

/// Cleaning settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanOptions {
    /// Drop stories with fewer characters than this (0 keeps any non-empty story).
    pub min_chars: usize,
    /// Drop exact duplicates (after normalisation). Costs 16 bytes per story kept.
    pub dedup: bool,
}

/// A 128-bit fingerprint of normalised text, for dedup and overlap checks.
pub type Fingerprint = u128;

pub fn fingerprint(text: &str) -> Fingerprint {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// Normalises line endings to `\n`, collapses runs of horizontal whitespace to
/// one space, trims every line, drops blank lines (paragraphs are separated by
/// single newlines) and trims the story.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split(['\n', '\r']) {
        let mut words = line
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty());
        let Some(first) = words.next() else { continue };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(first);
        for w in words {
            out.push(' ');
            out.push_str(w);
        }
    }
    out
}

/// Applies cleaning to a stream of records and keeps the counts.
#[derive(Debug, Default)]
pub struct Cleaner {
    opts: CleanOptions,
    seen: HashSet<Fingerprint>,
    exclude: Option<Arc<HashSet<Fingerprint>>>,
    stats: CleanStats,
}

impl Cleaner {
    pub fn new(opts: CleanOptions) -> Self {
        Self {
            opts,
            ..Self::default()
        }
    }

    /// Also drop stories whose fingerprint is in `exclude` (the validation set).
    pub fn excluding(mut self, exclude: Arc<HashSet<Fingerprint>>) -> Self {
        self.exclude = Some(exclude);
        self
    }

    /// The cleaned story, or `None` if the record is dropped (and counted).
    pub fn process(&mut self, record: Record) -> Option<String> {
        self.stats.read += 1;
        match self.decide(record) {
            Ok(text) => {
                self.stats.kept += 1;
                Some(text)
            }
            Err(reason) => {
                *self.stats.dropped.entry(reason).or_insert(0) += 1;
                None
            }
        }
    }

    fn decide(&mut self, record: Record) -> Result<String, DropReason> {
        let raw = match record {
            Record::Story(s) => s,
            Record::Broken(Broken::InvalidJson) => return Err(DropReason::InvalidJson),
            Record::Broken(Broken::MissingField) => return Err(DropReason::MissingField),
            Record::Broken(Broken::TooLong) => return Err(DropReason::TooLong),
        };
        let text = normalize(&raw);
        if text.is_empty() {
            return Err(DropReason::Empty);
        }
        if text.contains(EOT) {
            return Err(DropReason::ContainsSeparator);
        }
        if text.contains(char::REPLACEMENT_CHARACTER) {
            return Err(DropReason::ReplacementCharacter);
        }
        if self.opts.min_chars > 0 && text.chars().count() < self.opts.min_chars {
            return Err(DropReason::TooShort);
        }
        if self.exclude.is_some() || self.opts.dedup {
            let fp = fingerprint(&text);
            if self.exclude.as_ref().is_some_and(|ex| ex.contains(&fp)) {
                return Err(DropReason::OverlapsValidation);
            }
            if self.opts.dedup && !self.seen.insert(fp) {
                return Err(DropReason::Duplicate);
            }
        }
        Ok(text)
    }

    pub fn stats(&self) -> &CleanStats {
        &self.stats
    }

    pub fn into_stats(self) -> CleanStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_whitespace_and_line_endings() {
        assert_eq!(
            normalize("  Once\tupon  a time.\r\n\r\nThe end. \r"),
            "Once upon a time.\nThe end."
        );
        assert_eq!(normalize(" \n\t\r\n "), "");
        assert_eq!(normalize("a\u{a0}b\u{3000}c"), "a b c");
    }

    #[test]
    fn counts_every_drop_reason() {
        let mut c = Cleaner::new(CleanOptions {
            min_chars: 5,
            dedup: true,
        });
        let exclude: HashSet<_> = [fingerprint("in validation")].into();
        let mut c2 = Cleaner::new(CleanOptions::default()).excluding(Arc::new(exclude));
        let s = |t: &str| Record::Story(t.to_string());
        assert_eq!(c.process(s(" hello  world ")), Some("hello world".into()));
        assert_eq!(c.process(s("hello world")), None);
        assert_eq!(c.process(s(" \n ")), None);
        assert_eq!(c.process(s("abc")), None);
        assert_eq!(c.process(s("bad \u{fffd} text")), None);
        assert_eq!(c.process(s("a <|endoftext|> b")), None);
        assert_eq!(c.process(Record::Broken(Broken::InvalidJson)), None);
        assert_eq!(c.process(Record::Broken(Broken::MissingField)), None);
        let st = c.stats();
        assert_eq!((st.read, st.kept, st.dropped_total()), (8, 1, 7));
        for reason in [
            DropReason::Duplicate,
            DropReason::Empty,
            DropReason::TooShort,
            DropReason::ReplacementCharacter,
            DropReason::ContainsSeparator,
            DropReason::InvalidJson,
            DropReason::MissingField,
        ] {
            assert_eq!(st.dropped_for(reason), 1, "{reason:?}");
        }
        assert_eq!(c2.process(s("in  validation\n")), None);
        assert_eq!(c2.process(s("in validation")), None);
        assert_eq!(
            c2.process(s("not in validation")),
            Some("not in validation".into())
        );
        assert_eq!(c2.stats().dropped_for(DropReason::OverlapsValidation), 2);
        // Without dedup, repeats are kept.
        let mut c3 = Cleaner::new(CleanOptions::default());
        assert!(c3.process(s("same")).is_some() && c3.process(s("same")).is_some());
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent_and_clean(s in any::<String>()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.contains('\r'));
            prop_assert!(!once.contains("\n\n"));
            prop_assert_eq!(once.trim(), once.as_str());
        }
    }
}
