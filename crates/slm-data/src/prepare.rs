//! The whole preparation pipeline: read and clean corpora, train or load the
//! tokenizer, tokenize in parallel into shard directories with `meta.json`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use slm_tokenizer::{Tokenizer, TrainOptions};

use crate::clean::{CleanOptions, Cleaner, DropReason, Fingerprint, fingerprint};
use crate::dataset::MAX_VOCAB;
use crate::error::DataError;
use crate::meta::{FORMAT, FORMAT_VERSION, ShardMeta};
use crate::progress::bytes_bar;
use crate::reader::CorpusReader;
use crate::shard_writer::ShardWriter;
use crate::stories::StoryStream;

/// File name of the tokenizer written next to the splits.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Where the tokenizer comes from.
#[derive(Debug, Clone)]
pub enum TokenizerSource {
    /// Reuse an existing `tokenizer.json`.
    Existing(PathBuf),
    /// Train one on (at most `sample_bytes` of) the cleaned training text.
    Train {
        options: TrainOptions,
        sample_bytes: u64,
    },
}

/// Everything `prepare` needs.
#[derive(Debug, Clone)]
pub struct PrepareConfig {
    /// Training corpus files (any supported format).
    pub train: Vec<PathBuf>,
    /// Validation corpus files; stories also found in them are removed from train.
    pub valid: Vec<PathBuf>,
    /// Output directory: gets `tokenizer.json`, `train/` and `valid/`.
    pub out_dir: PathBuf,
    pub tokenizer: TokenizerSource,
    pub clean: CleanOptions,
    /// Tokens per shard file.
    pub shard_tokens: u64,
    /// Text per parallel tokenization batch; bounds memory.
    pub batch_bytes: usize,
    pub show_progress: bool,
    /// Replace existing splits written with a different tokenizer.
    pub force: bool,
}

impl PrepareConfig {
    /// Defaults for everything but the inputs and output.
    pub fn new(train: Vec<PathBuf>, valid: Vec<PathBuf>, out_dir: PathBuf) -> Self {
        Self {
            train,
            valid,
            out_dir,
            tokenizer: TokenizerSource::Train {
                options: TrainOptions::default(),
                sample_bytes: DEFAULT_SAMPLE_BYTES,
            },
            clean: CleanOptions::default(),
            shard_tokens: DEFAULT_SHARD_TOKENS,
            batch_bytes: DEFAULT_BATCH_BYTES,
            show_progress: false,
            force: false,
        }
    }
}

/// Tokenizer training reads at most this much cleaned text by default.
pub const DEFAULT_SAMPLE_BYTES: u64 = 200 << 20;
/// 64 Mi tokens = 128 MiB per shard file.
pub const DEFAULT_SHARD_TOKENS: u64 = 64 << 20;
pub const DEFAULT_BATCH_BYTES: usize = 4 << 20;

/// What `prepare` produced.
#[derive(Debug, Clone)]
pub struct PrepareReport {
    pub tokenizer_path: PathBuf,
    pub tokenizer_hash: String,
    pub vocab_size: usize,
    pub tokenizer_trained: bool,
    /// Bytes of cleaned text the tokenizer was trained on (0 if reused).
    pub tokenizer_sample_bytes: u64,
    /// One entry per split written, in order train, valid.
    pub splits: Vec<ShardMeta>,
    /// Training stories dropped because they also occur in validation.
    pub overlap_dropped: u64,
}

/// Runs the pipeline. Output is a pure function of the inputs and options.
pub fn prepare(cfg: &PrepareConfig) -> Result<PrepareReport, DataError> {
    if cfg.train.is_empty() && cfg.valid.is_empty() {
        return Err(DataError::Options("no input files given".into()));
    }
    if cfg.batch_bytes == 0 {
        return Err(DataError::Options(
            "batch size must be at least 1 byte".into(),
        ));
    }
    // Fail fast on missing files or unknown formats before any long work.
    for path in cfg.train.iter().chain(&cfg.valid) {
        CorpusReader::open(path)?;
    }
    std::fs::create_dir_all(&cfg.out_dir).map_err(|source| DataError::Write {
        path: cfg.out_dir.clone(),
        source,
    })?;

    let exclude = if cfg.train.is_empty() || cfg.valid.is_empty() {
        None
    } else {
        Some(Arc::new(fingerprints(
            &cfg.valid,
            &cfg.clean,
            cfg.show_progress,
        )?))
    };
    let train_cleaner = || {
        let c = Cleaner::new(cfg.clean.clone());
        match &exclude {
            Some(ex) => c.excluding(Arc::clone(ex)),
            None => c,
        }
    };

    let (tokenizer, trained, sample) = match &cfg.tokenizer {
        TokenizerSource::Existing(path) => (Tokenizer::from_file(path)?, false, 0),
        TokenizerSource::Train {
            options,
            sample_bytes,
        } => {
            if cfg.train.is_empty() {
                return Err(DataError::Options(
                    "training a tokenizer needs training files (or pass an existing tokenizer)"
                        .into(),
                ));
            }
            let (tok, used) = train_tokenizer(
                &cfg.train,
                train_cleaner(),
                options,
                *sample_bytes,
                cfg.show_progress,
            )?;
            (tok, true, used)
        }
    };
    if tokenizer.vocab_size() > MAX_VOCAB {
        let origin = match &cfg.tokenizer {
            TokenizerSource::Existing(p) => p.display().to_string(),
            TokenizerSource::Train { .. } => "trained".into(),
        };
        return Err(DataError::VocabTooLarge {
            origin,
            vocab_size: tokenizer.vocab_size(),
        });
    }

    let mut splits: Vec<(&str, &[PathBuf], Cleaner)> = Vec::new();
    if !cfg.train.is_empty() {
        splits.push(("train", &cfg.train, train_cleaner()));
    }
    if !cfg.valid.is_empty() {
        splits.push(("valid", &cfg.valid, Cleaner::new(cfg.clean.clone())));
    }
    if !cfg.force {
        for (name, _, _) in &splits {
            refuse_other_tokenizer(&cfg.out_dir.join(name), &tokenizer)?;
        }
    }
    let tokenizer_path = cfg.out_dir.join(TOKENIZER_FILE);
    tokenizer.save(&tokenizer_path)?;

    let mut metas = Vec::new();
    for (name, inputs, cleaner) in splits {
        metas.push(tokenize_split(name, inputs, cleaner, &tokenizer, cfg)?);
    }
    let overlap_dropped = metas.first().filter(|m| m.split == "train").map_or(0, |m| {
        m.cleaning.dropped_for(DropReason::OverlapsValidation)
    });
    Ok(PrepareReport {
        tokenizer_path,
        tokenizer_hash: tokenizer.content_hash(),
        vocab_size: tokenizer.vocab_size(),
        tokenizer_trained: trained,
        tokenizer_sample_bytes: sample,
        splits: metas,
        overlap_dropped,
    })
}

fn total_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn describe(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fingerprints of the cleaned validation stories.
fn fingerprints(
    paths: &[PathBuf],
    opts: &CleanOptions,
    progress: bool,
) -> Result<HashSet<Fingerprint>, DataError> {
    let bar = bytes_bar(total_bytes(paths), "scan valid", progress);
    let mut stream = StoryStream::new(paths, Cleaner::new(opts.clone()), bar.clone());
    let set: HashSet<Fingerprint> = stream.by_ref().map(|s| fingerprint(&s)).collect();
    bar.finish_and_clear();
    match stream.take_error() {
        Some(e) => Err(e),
        None => Ok(set),
    }
}

/// Trains a tokenizer on the first `sample_bytes` of cleaned text from
/// `paths`, streamed (memory does not grow with the sample). Returns the
/// tokenizer and the number of text bytes it was trained on.
pub fn train_tokenizer(
    paths: &[PathBuf],
    cleaner: Cleaner,
    options: &TrainOptions,
    sample_bytes: u64,
    show_progress: bool,
) -> Result<(Tokenizer, u64), DataError> {
    if options.vocab_size > MAX_VOCAB {
        return Err(DataError::VocabTooLarge {
            origin: "requested by --vocab-size".into(),
            vocab_size: options.vocab_size,
        });
    }
    for path in paths {
        CorpusReader::open(path)?;
    }
    let bar = bytes_bar(total_bytes(paths), "tokenizer", show_progress);
    let mut stream = StoryStream::new(paths, cleaner, bar.clone());
    let mut used = 0u64;
    let sample = stream.by_ref().take_while(|s| {
        let take = used < sample_bytes;
        if take {
            used += s.len() as u64;
        }
        take
    });
    let result = Tokenizer::train_from_iter(sample, options);
    bar.finish_and_clear();
    if let Some(e) = stream.take_error() {
        return Err(e);
    }
    if used == 0 {
        return Err(empty_corpus(paths, stream.cleaner()));
    }
    Ok((result?, used))
}

fn empty_corpus(paths: &[PathBuf], cleaner: &Cleaner) -> DataError {
    let st = cleaner.stats();
    DataError::EmptyCorpus {
        paths: describe(paths),
        details: format!(
            "read {} records, dropped {}: {:?}",
            st.read,
            st.dropped_total(),
            st.dropped
        ),
    }
}

fn refuse_other_tokenizer(split_dir: &Path, tokenizer: &Tokenizer) -> Result<(), DataError> {
    if !split_dir.join(crate::meta::META_FILE).exists() {
        return Ok(());
    }
    let old = ShardMeta::read(split_dir)?;
    if old.tokenizer_hash != tokenizer.content_hash() {
        return Err(DataError::TokenizerMismatch {
            path: split_dir.to_path_buf(),
            expected: tokenizer.content_hash(),
            found: old.tokenizer_hash,
        });
    }
    Ok(())
}

/// Tokenizes one split into `out_dir/<name>/`, written to a temporary
/// directory first and renamed into place so a crash never leaves a
/// half-written split that looks complete.
fn tokenize_split(
    name: &str,
    inputs: &[PathBuf],
    cleaner: Cleaner,
    tok: &Tokenizer,
    cfg: &PrepareConfig,
) -> Result<ShardMeta, DataError> {
    let final_dir = cfg.out_dir.join(name);
    let tmp_dir = cfg.out_dir.join(format!(".{name}.partial"));
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Write { path, source }
    };
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(write_err(&tmp_dir))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(write_err(&tmp_dir))?;

    let bar = bytes_bar(total_bytes(inputs), name, cfg.show_progress);
    let mut stream = StoryStream::new(inputs, cleaner, bar.clone());
    let mut writer = ShardWriter::new(&tmp_dir, cfg.shard_tokens)?;
    let eot = tok.eot_id();
    let (mut num_tokens, mut num_stories, mut text_bytes) = (0u64, 0u64, 0u64);

    let mut batch = read_batch(&mut stream, cfg.batch_bytes);
    while !batch.is_empty() {
        // Tokenize this batch while the next one is read and cleaned.
        let (encoded, next) = rayon::join(
            || {
                batch
                    .par_iter()
                    .map(|s| tok.encode(s))
                    .collect::<Result<Vec<_>, _>>()
            },
            || read_batch(&mut stream, cfg.batch_bytes),
        );
        for (story, ids) in batch.iter().zip(encoded?) {
            writer.write(&ids)?;
            writer.write(&[eot])?;
            num_tokens += ids.len() as u64 + 1;
            text_bytes += story.len() as u64;
        }
        num_stories += batch.len() as u64;
        bar.set_message(format!("{name} {}M tok", num_tokens / 1_000_000));
        batch = next;
    }
    bar.finish_and_clear();
    if let Some(e) = stream.take_error() {
        return Err(e);
    }
    if num_stories == 0 {
        return Err(empty_corpus(inputs, stream.cleaner()));
    }
    let shards = writer.finish()?;
    let (cleaner, sources) = stream.into_parts();
    let meta = ShardMeta {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        dtype: "u16-le".into(),
        split: name.into(),
        tokenizer_hash: tok.content_hash(),
        vocab_size: tok.vocab_size(),
        eot_id: eot,
        num_tokens,
        num_stories,
        text_bytes,
        shards,
        sources,
        cleaning: cleaner.into_stats(),
    };
    meta.write(&tmp_dir)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(write_err(&final_dir))?;
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(write_err(&final_dir))?;
    tracing::info!(
        split = name,
        num_tokens,
        num_stories,
        text_bytes,
        "split written"
    );
    Ok(meta)
}

fn read_batch(stream: &mut StoryStream, max_bytes: usize) -> Vec<String> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while bytes < max_bytes {
        match stream.next() {
            Some(s) => {
                bytes += s.len();
                batch.push(s);
            }
            None => break,
        }
    }
    batch
}
