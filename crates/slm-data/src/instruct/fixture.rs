//! Stories for the tests of [`super`].

use crate::{CorpusReader, Record};

/// The first `n` stories of the validation set in `../shared` beside the checkout.
pub(super) fn fixture(n: usize) -> Vec<String> {
    CorpusReader::open(slm_testdata::shared_data("tinystories/valid.txt.zst"))
        .expect("open valid.txt.zst")
        .filter_map(|r| match r.expect("read record") {
            Record::Story(s) => Some(s),
            Record::Broken(_) => None,
        })
        .take(n)
        .collect()
}

pub(super) fn refs(stories: &[String]) -> Vec<&str> {
    stories.iter().map(String::as_str).collect()
}
