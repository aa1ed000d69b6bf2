//! Training a byte-level BPE vocabulary from text.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, DecoderWrapper, PreTokenizerWrapper};

use crate::EOT;
use crate::error::TokenizerError;

/// Settings for BPE training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainOptions {
    /// Target vocabulary size including the 256 byte tokens and `<|endoftext|>`.
    /// Training stops earlier if the corpus has no more pairs to merge.
    pub vocab_size: usize,
    /// A pair must occur at least this often to be merged.
    pub min_frequency: u64,
    /// Draw a progress bar on stderr while training.
    pub show_progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            vocab_size: 32_000,
            min_frequency: 2,
            show_progress: false,
        }
    }
}

/// The smallest useful vocabulary: every byte plus the end-of-text token.
pub(crate) const MIN_VOCAB: usize = 257;

/// An empty byte-level BPE pipeline with `<|endoftext|>` registered as a
/// special token, so training never sees it split into pieces.
pub(crate) fn untrained() -> tokenizers::Tokenizer {
    let mut tok = tokenizers::Tokenizer::new(BPE::default());
    // No prefix space and no normalizer: both would change the text and break
    // the exact decode(encode(s)) == s round trip.
    tok.with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
        false, true, true,
    ))));
    tok.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
    tok.add_special_tokens(&[AddedToken::from(EOT, true)]);
    tok
}

pub(crate) fn train<I, S>(
    iter: I,
    opts: &TrainOptions,
) -> Result<tokenizers::Tokenizer, TokenizerError>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    if opts.vocab_size < MIN_VOCAB {
        return Err(TokenizerError::Options(format!(
            "vocab_size {} is below the minimum of {MIN_VOCAB} (256 bytes + <|endoftext|>)",
            opts.vocab_size
        )));
    }
    let trainer = BpeTrainer::builder()
        .vocab_size(opts.vocab_size)
        .min_frequency(opts.min_frequency)
        .show_progress(opts.show_progress)
        .special_tokens(vec![AddedToken::from(EOT, true)])
        // Seed all 256 bytes so text never seen in training still round-trips.
        .initial_alphabet(crate::byte_level::byte_to_char().into_iter().collect())
        .build();
    let mut trainer = TrainerWrapper::BpeTrainer(trainer);
    let mut tok = untrained();
    let non_empty = AtomicU64::new(0);
    // The `tokenizers` trainer counts special-token splits as words and would
    // learn merges that rebuild "<|endoftext|>" from pieces (wasting vocabulary
    // and duplicating the special token), so separators are cut out here.
    let counted = iter
        .flat_map(|s| {
            s.as_ref()
                .split(EOT)
                .filter(|piece| !piece.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .inspect(|_| {
            non_empty.fetch_add(1, Ordering::Relaxed);
        });
    tok.train(&mut trainer, counted)
        .map_err(|e| TokenizerError::Training(e.to_string()))?;
    if non_empty.load(Ordering::Relaxed) == 0 {
        return Err(TokenizerError::Training(
            "the training text is empty".to_string(),
        ));
    }
    Ok(tok)
}

/// Streams lines (newlines kept, so BPE can learn them) from several files,
/// remembering the first read error so the caller can report it after training.
pub(crate) struct FileLines<'a> {
    paths: std::slice::Iter<'a, PathBuf>,
    current: Option<(PathBuf, BufReader<File>, u64)>,
    error: &'a Mutex<Option<TokenizerError>>,
}

impl<'a> FileLines<'a> {
    /// Opens nothing yet, but checks up front that every file exists so a typo
    /// fails before minutes of training.
    pub(crate) fn new(
        paths: &'a [PathBuf],
        error: &'a Mutex<Option<TokenizerError>>,
    ) -> Result<Self, TokenizerError> {
        for path in paths {
            std::fs::metadata(path).map_err(|source| TokenizerError::Io {
                action: "cannot open training file",
                path: path.clone(),
                source,
            })?;
        }
        Ok(Self {
            paths: paths.iter(),
            current: None,
            error,
        })
    }

    fn fail(&mut self, err: TokenizerError) -> Option<String> {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(err);
        }
        self.current = None;
        self.paths = [].iter();
        None
    }
}

impl Iterator for FileLines<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if self.current.is_none() {
                let path = self.paths.next()?;
                match File::open(path) {
                    Ok(f) => self.current = Some((path.clone(), BufReader::new(f), 0)),
                    Err(source) => {
                        return self.fail(TokenizerError::Io {
                            action: "cannot open training file",
                            path: path.clone(),
                            source,
                        });
                    }
                }
            }
            let (path, reader, line_no) = self.current.as_mut()?;
            let mut raw = Vec::new();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) => self.current = None,
                Ok(_) => {
                    *line_no += 1;
                    return match String::from_utf8(raw) {
                        Ok(line) => Some(line),
                        Err(_) => {
                            let err = TokenizerError::InvalidUtf8 {
                                path: path.clone(),
                                line: *line_no,
                            };
                            self.fail(err)
                        }
                    };
                }
                Err(source) => {
                    let err = TokenizerError::Io {
                        action: "cannot read training file",
                        path: path.clone(),
                        source,
                    };
                    return self.fail(err);
                }
            }
        }
    }
}

pub(crate) fn to_paths(paths: &[impl AsRef<Path>]) -> Vec<PathBuf> {
    paths.iter().map(|p| p.as_ref().to_path_buf()).collect()
}
