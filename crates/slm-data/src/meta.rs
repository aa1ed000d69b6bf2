//! `meta.json`: what a shard directory holds and where it came from.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clean::CleanStats;
use crate::error::DataError;

/// Identifies the file format; bumped on incompatible changes.
pub const FORMAT: &str = "slm-token-shards";
pub const FORMAT_VERSION: u32 = 1;
pub const META_FILE: &str = "meta.json";

/// One shard file: raw little-endian `u16` token ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// File name inside the split directory.
    pub file: String,
    pub num_tokens: u64,
    pub sha256: String,
}

/// One input corpus file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The path as given on the command line.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// What cleaning did to this file's records (absent in shards written before it was
    /// recorded).
    #[serde(default)]
    pub cleaning: CleanStats,
}

/// Contents of `meta.json`. Deliberately free of timestamps and timings so
/// re-running on the same inputs reproduces it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub format: String,
    pub version: u32,
    /// Always "u16-le".
    pub dtype: String,
    /// "train", "valid", ...
    pub split: String,
    /// `Tokenizer::content_hash` of the tokenizer that wrote the shards.
    pub tokenizer_hash: String,
    pub vocab_size: usize,
    pub eot_id: u32,
    /// Total tokens over all shards, including one EOT after every story.
    pub num_tokens: u64,
    pub num_stories: u64,
    /// UTF-8 bytes of the cleaned story text, excluding the EOT separators;
    /// the denominator for bits per byte.
    pub text_bytes: u64,
    pub shards: Vec<ShardInfo>,
    pub sources: Vec<SourceInfo>,
    pub cleaning: CleanStats,
}

impl ShardMeta {
    pub fn read(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(|source| DataError::Open {
            path: path.clone(),
            source,
        })?;
        let meta: Self = serde_json::from_slice(&bytes).map_err(|e| DataError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if meta.format != FORMAT || meta.version != FORMAT_VERSION || meta.dtype != "u16-le" {
            return Err(DataError::CorruptShard {
                path,
                message: format!(
                    "unsupported shard format {:?} version {} dtype {:?} (expected {FORMAT:?} {FORMAT_VERSION} \"u16-le\")",
                    meta.format, meta.version, meta.dtype
                ),
            });
        }
        Ok(meta)
    }

    pub fn write(&self, dir: &Path) -> Result<(), DataError> {
        let path = dir.join(META_FILE);
        let mut json = serde_json::to_string_pretty(self).map_err(|e| DataError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        json.push('\n');
        std::fs::write(&path, json).map_err(|source| DataError::Write { path, source })
    }
}
