use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/datasets/fixtures/<name>` beside the checkout: the project's TinyStories text
/// is read from there and never committed (datasets/README.md).
pub fn fixture(name: &str) -> PathBuf {
    let path = repo().join("../shared/datasets/fixtures").join(name);
    assert!(
        path.exists(),
        "{} is missing: these tests read the project's TinyStories text from \
         ../shared/datasets beside the checkout (see datasets/README.md)",
        path.display()
    );
    path
}
