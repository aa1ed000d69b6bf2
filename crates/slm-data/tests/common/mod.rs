#![allow(dead_code)]

use std::path::{Path, PathBuf};

use slm_data::{PrepareConfig, TokenizerSource};
use slm_testdata::shared_data;
use slm_tokenizer::TrainOptions;

pub fn train_fixture() -> PathBuf {
    shared_data("fixtures/tinystories-train-160.txt")
}

pub fn valid_fixture() -> PathBuf {
    shared_data("fixtures/tinystories-valid-40.txt")
}

pub fn zstd_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, zstd::encode_all(data, 3).unwrap()).unwrap();
    path
}

/// A small, fast configuration: 600-token vocabulary, tiny shards so several are written.
pub fn small_config(train: Vec<PathBuf>, valid: Vec<PathBuf>, out: &Path) -> PrepareConfig {
    let mut cfg = PrepareConfig::new(train, valid, out.to_path_buf());
    cfg.tokenizer = TokenizerSource::Train {
        options: TrainOptions {
            vocab_size: 600,
            ..TrainOptions::default()
        },
        sample_bytes: 1 << 30,
    };
    cfg.shard_tokens = 10_000;
    cfg.batch_bytes = 16 << 10;
    cfg
}
