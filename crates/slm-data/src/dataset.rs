//! Opening a prepared shard directory for reading (memory-mapped).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use slm_tokenizer::Tokenizer;

use crate::checksum::sha256_hex;
use crate::error::DataError;
use crate::meta::{META_FILE, ShardMeta};

/// Largest vocabulary whose ids fit in `u16` shards.
pub const MAX_VOCAB: usize = 1 << 16;

/// A split (e.g. `train/`) of token shards: `meta.json` plus memory-mapped
/// `u16` files, read as one contiguous token sequence. Cheap to clone.
#[derive(Clone)]
pub struct TokenDataset {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    meta: ShardMeta,
    shards: Vec<Mmap>,
    /// Global index of each shard's first token.
    starts: Vec<u64>,
}

impl std::fmt::Debug for TokenDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenDataset")
            .field("dir", &self.inner.dir)
            .field("num_tokens", &self.inner.meta.num_tokens)
            .finish()
    }
}

impl TokenDataset {
    /// Opens and validates a shard directory: meta.json parses, every shard
    /// exists with exactly the size meta.json promises, and every token id is
    /// inside the vocabulary (a cheap scan that catches corrupt bytes).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DataError> {
        let dir = dir.as_ref().to_path_buf();
        let meta = ShardMeta::read(&dir)?;
        let meta_path = dir.join(META_FILE);
        if meta.vocab_size > MAX_VOCAB {
            return Err(DataError::VocabTooLarge {
                origin: meta_path.display().to_string(),
                vocab_size: meta.vocab_size,
            });
        }
        let listed: u64 = meta.shards.iter().map(|s| s.num_tokens).sum();
        if listed != meta.num_tokens {
            return Err(DataError::CorruptShard {
                path: meta_path,
                message: format!(
                    "shards list {listed} tokens but num_tokens is {}",
                    meta.num_tokens
                ),
            });
        }
        let mut shards = Vec::with_capacity(meta.shards.len());
        let mut starts = Vec::with_capacity(meta.shards.len());
        let mut start = 0u64;
        for info in &meta.shards {
            if info.file.contains('/') || info.file.contains('\\') || info.file.starts_with('.') {
                return Err(DataError::CorruptShard {
                    path: meta_path,
                    message: format!("shard file name {:?} is not a plain file name", info.file),
                });
            }
            let path = dir.join(&info.file);
            let file = File::open(&path).map_err(|source| DataError::Open {
                path: path.clone(),
                source,
            })?;
            // SAFETY: shards are written once by `prepare` and never modified in
            // place; a concurrent writer would be a user error we cannot guard against.
            let map = unsafe { Mmap::map(&file) }.map_err(|source| DataError::Read {
                path: path.clone(),
                source,
            })?;
            let expected = info.num_tokens * 2;
            if map.len() as u64 != expected {
                return Err(DataError::CorruptShard {
                    path,
                    message: format!(
                        "file has {} bytes but meta.json says {} tokens ({expected} bytes); \
                         it is truncated or was overwritten",
                        map.len(),
                        info.num_tokens
                    ),
                });
            }
            if let Some((pos, id)) = map
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .enumerate()
                .find(|&(_, id)| usize::from(id) >= meta.vocab_size)
            {
                return Err(DataError::CorruptShard {
                    path,
                    message: format!(
                        "token id {id} at position {pos} is outside the vocabulary of {}",
                        meta.vocab_size
                    ),
                });
            }
            starts.push(start);
            start += info.num_tokens;
            shards.push(map);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                meta,
                shards,
                starts,
            }),
        })
    }

    /// Opens the directory and refuses it unless it was written with `tokenizer`.
    pub fn open_for(dir: impl AsRef<Path>, tokenizer: &Tokenizer) -> Result<Self, DataError> {
        let data = Self::open(dir)?;
        data.check_tokenizer(tokenizer)?;
        Ok(data)
    }

    /// Errors unless the shards were written with `tokenizer`.
    pub fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<(), DataError> {
        let expected = tokenizer.content_hash();
        if self.inner.meta.tokenizer_hash != expected {
            return Err(DataError::TokenizerMismatch {
                path: self.inner.dir.clone(),
                expected,
                found: self.inner.meta.tokenizer_hash.clone(),
            });
        }
        Ok(())
    }

    /// Re-hashes every shard and compares with meta.json (reads all data).
    pub fn verify_checksums(&self) -> Result<(), DataError> {
        for (info, map) in self.inner.meta.shards.iter().zip(&self.inner.shards) {
            let actual = sha256_hex(map);
            if actual != info.sha256 {
                return Err(DataError::CorruptShard {
                    path: self.inner.dir.join(&info.file),
                    message: format!("sha256 is {actual}, meta.json says {}", info.sha256),
                });
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn meta(&self) -> &ShardMeta {
        &self.inner.meta
    }

    /// Total tokens (stories plus one EOT after each).
    pub fn num_tokens(&self) -> u64 {
        self.inner.meta.num_tokens
    }

    pub fn num_stories(&self) -> u64 {
        self.inner.meta.num_stories
    }

    /// UTF-8 bytes of the story text (without separators), for bits per byte.
    pub fn text_bytes(&self) -> u64 {
        self.inner.meta.text_bytes
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.meta.vocab_size
    }

    /// Copies `out.len()` tokens starting at global position `start`, across
    /// shard boundaries if needed.
    pub fn copy_tokens(&self, start: u64, out: &mut [u32]) -> Result<(), DataError> {
        let end = start.checked_add(out.len() as u64);
        if end.is_none_or(|e| e > self.num_tokens()) {
            return Err(DataError::Options(format!(
                "{}: token range {start}..{} is outside the {} tokens of the dataset",
                self.inner.dir.display(),
                start.saturating_add(out.len() as u64),
                self.num_tokens()
            )));
        }
        let starts = &self.inner.starts;
        let mut shard = starts.partition_point(|&s| s <= start).saturating_sub(1);
        let mut pos = start;
        let mut filled = 0;
        while filled < out.len() {
            // Skip empty shards (possible only in hand-made directories).
            let map = &self.inner.shards[shard];
            let local = (pos - starts[shard]) as usize;
            let available = map.len() / 2 - local.min(map.len() / 2);
            let take = available.min(out.len() - filled);
            for (i, slot) in out[filled..filled + take].iter_mut().enumerate() {
                let b = 2 * (local + i);
                *slot = u32::from(u16::from_le_bytes([map[b], map[b + 1]]));
            }
            filled += take;
            pos += take as u64;
            shard += 1;
        }
        Ok(())
    }

    /// All tokens as a vector (for small datasets and tests).
    pub fn to_vec(&self) -> Vec<u32> {
        let mut out = vec![0; self.num_tokens() as usize];
        // The range is the whole dataset, so it is always in bounds.
        let _ = self.copy_tokens(0, &mut out);
        out
    }
}
