//! Writing token ids into fixed-size `u16` shard files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::checksum::hex;
use crate::error::DataError;
use crate::meta::ShardInfo;

/// Appends tokens to `shard-00000.bin`, `shard-00001.bin`, ... starting a new
/// file every `shard_tokens` tokens (so no single file grows without bound).
pub struct ShardWriter {
    dir: PathBuf,
    shard_tokens: u64,
    current: Option<OpenShard>,
    done: Vec<ShardInfo>,
    scratch: Vec<u8>,
}

struct OpenShard {
    name: String,
    path: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    tokens: u64,
}

impl ShardWriter {
    pub fn new(dir: &Path, shard_tokens: u64) -> Result<Self, DataError> {
        if shard_tokens == 0 {
            return Err(DataError::Options(
                "shard size must be at least 1 token".into(),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            shard_tokens,
            current: None,
            done: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Appends token ids; each must fit in `u16` (the caller checked the vocabulary).
    pub fn write(&mut self, mut tokens: &[u32]) -> Result<(), DataError> {
        while !tokens.is_empty() {
            if self.current.is_none() {
                self.open_next()?;
            }
            let Some(shard) = self.current.as_mut() else {
                continue;
            };
            let room = (self.shard_tokens - shard.tokens) as usize;
            let (now, later) = tokens.split_at(room.min(tokens.len()));
            self.scratch.clear();
            for &t in now {
                let t = u16::try_from(t)
                    .map_err(|_| DataError::Options(format!("token id {t} does not fit in u16")))?;
                self.scratch.extend_from_slice(&t.to_le_bytes());
            }
            shard.hasher.update(&self.scratch);
            shard
                .out
                .write_all(&self.scratch)
                .map_err(|source| DataError::Write {
                    path: shard.path.clone(),
                    source,
                })?;
            shard.tokens += now.len() as u64;
            if shard.tokens == self.shard_tokens {
                self.close_current()?;
            }
            tokens = later;
        }
        Ok(())
    }

    fn open_next(&mut self) -> Result<(), DataError> {
        let name = format!("shard-{:05}.bin", self.done.len());
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(|source| DataError::Write {
            path: path.clone(),
            source,
        })?;
        self.current = Some(OpenShard {
            name,
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            tokens: 0,
        });
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), DataError> {
        if let Some(shard) = self.current.take() {
            let file = shard.out.into_inner().map_err(|e| DataError::Write {
                path: shard.path.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(|source| DataError::Write {
                path: shard.path.clone(),
                source,
            })?;
            self.done.push(ShardInfo {
                file: shard.name,
                num_tokens: shard.tokens,
                sha256: hex(&shard.hasher.finalize()),
            });
        }
        Ok(())
    }

    /// Flushes the last shard and returns the list of shards written.
    pub fn finish(mut self) -> Result<Vec<ShardInfo>, DataError> {
        self.close_current()?;
        Ok(self.done)
    }
}
