use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A TinyStories fixture from `../shared/datasets/fixtures` (never committed).
pub fn fixture(name: &str) -> PathBuf {
    slm_testdata::shared_data(&format!("fixtures/{name}"))
}
