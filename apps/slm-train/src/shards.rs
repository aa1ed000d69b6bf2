//! Adapters from `slm-data`'s prepared shards to the trainer's window sources.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use slm_data::{RandomWindows, SamplerCursor, TokenDataset};
use slm_trainer::{SequentialTokens, TrainError, WindowSource};

/// Training windows drawn by `slm_data::RandomWindows`, one window per draw so the cursor
/// counts windows and resumes exactly.
pub struct ShardWindows {
    data: TokenDataset,
    inner: RandomWindows,
}

impl ShardWindows {
    pub fn open(dir: &Path, window_len: usize, seed: u64) -> anyhow::Result<Self> {
        let data = TokenDataset::open(dir)
            .with_context(|| format!("opening training shards {}", dir.display()))?;
        let inner = RandomWindows::new(&data, window_len, seed)
            .with_context(|| format!("sampling windows from {}", dir.display()))?;
        Ok(Self { data, inner })
    }

    pub fn vocab_size(&self) -> usize {
        self.data.vocab_size()
    }
}

impl WindowSource for ShardWindows {
    fn window_len(&self) -> usize {
        self.inner.window_len()
    }

    fn next_window(&mut self, out: &mut Vec<u32>) -> Result<(), TrainError> {
        out.extend_from_slice(&self.inner.next_batch(1).tokens);
        Ok(())
    }

    fn cursor(&self) -> serde_json::Value {
        serde_json::to_value(self.inner.cursor()).expect("cursor serializes")
    }

    fn restore(&mut self, cursor: &serde_json::Value) -> Result<(), TrainError> {
        let c: SamplerCursor = serde_json::from_value(cursor.clone())
            .map_err(|e| TrainError::Data(format!("malformed sampler cursor {cursor}: {e}")))?;
        if c.seed != self.inner.cursor().seed {
            return Err(TrainError::Data(format!(
                "checkpoint sampler seed {} differs from this run's {}",
                c.seed,
                self.inner.cursor().seed
            )));
        }
        self.inner = RandomWindows::from_cursor(&self.data, self.inner.window_len(), c)
            .map_err(|e| TrainError::Data(e.to_string()))?;
        Ok(())
    }
}

/// Loads a (small) validation split into memory for full evaluation passes.
pub fn load_valid(dir: &Path) -> anyhow::Result<(SequentialTokens, usize)> {
    let data = TokenDataset::open(dir)
        .with_context(|| format!("opening validation shards {}", dir.display()))?;
    let tokens: Vec<u16> = data
        .to_vec()
        .into_iter()
        .map(|t| u16::try_from(t).context("token id above u16 range"))
        .collect::<anyhow::Result<_>>()?;
    let vocab = data.vocab_size();
    let seq = SequentialTokens::new(Arc::from(tokens), data.text_bytes())
        .with_context(|| format!("validation split {}", dir.display()))?;
    Ok((seq, vocab))
}

/// The tokenizer that prepared the shards: explicit path, else `tokenizer.json` in the
/// train directory or its parent (where `prepare` writes it).
pub fn find_tokenizer(explicit: Option<&Path>, train_dir: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_file() {
            bail!("tokenizer {} does not exist", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let candidates = [
        Some(train_dir.join(slm_data::TOKENIZER_FILE)),
        train_dir.parent().map(|p| p.join(slm_data::TOKENIZER_FILE)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "no tokenizer.json in {} or its parent; set data.tokenizer",
                train_dir.display()
            )
        })
}
