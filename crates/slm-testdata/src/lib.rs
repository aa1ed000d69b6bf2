//! Test fixtures, a dev-dependency only (no program ships with it):
//!
//! - where the tests find real TinyStories text: `../shared/datasets` beside the checkout
//!   (CI has it there too). That text was gathered from other public repositories, so it is
//!   read from there and never committed (datasets/README.md);
//! - [`random_model`]: model directories with random weights.

pub mod random_model;

use std::path::{Path, PathBuf};

/// `../shared/datasets/<rel>` beside the checkout, e.g. `fixtures/tinystories-valid-40.txt`
/// or `tinystories/valid.txt.zst`.
///
/// # Panics
/// When the file is missing, with a message naming the path and where it comes from.
pub fn shared_data(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets")
        .join(rel);
    assert!(
        path.exists(),
        "{} is missing: the tests read the project's TinyStories text from \
         ../shared/datasets beside the checkout (see datasets/README.md)",
        path.display()
    );
    path
}
