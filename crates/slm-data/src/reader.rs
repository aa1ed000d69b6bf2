//! Streaming corpus readers: `.txt` with `<|endoftext|>` separators, `.jsonl`,
//! `.json` (array or lines), each optionally `.zst`. Memory stays bounded by
//! the longest story, whatever the file size.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use serde::Deserialize;
use slm_tokenizer::EOT;

use crate::checksum::{HashingReader, TallyHandle};
use crate::error::DataError;
use crate::format::{Format, Layout};

/// A text story longer than this without a separator is treated as a broken
/// record; this is what keeps memory bounded on malformed input.
pub const MAX_STORY_BYTES: usize = 1 << 20;

/// Why a record could not be turned into a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// A JSON record that does not parse.
    InvalidJson,
    /// A JSON record without a string `story` or `text` field.
    MissingField,
    /// Text longer than [`MAX_STORY_BYTES`] without a separator.
    TooLong,
}

/// One record read from a corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Raw story text (not yet cleaned).
    Story(String),
    /// A record that was present but unusable.
    Broken(Broken),
}

/// Iterator over the records of one corpus file.
pub struct CorpusReader {
    path: PathBuf,
    zstd: bool,
    tally: TallyHandle,
    source: Source,
    queue: VecDeque<Record>,
    done: bool,
}

enum Source {
    Text(LineReader, TextState),
    JsonLines(LineReader),
    JsonArray {
        rx: Receiver<Result<Record, DataError>>,
        worker: Option<JoinHandle<()>>,
    },
}

#[derive(Default)]
struct TextState {
    pending: String,
    skipping: bool,
}

struct LineReader {
    inner: Box<dyn BufRead + Send>,
    line_no: u64,
    buf: Vec<u8>,
}

#[derive(Deserialize)]
struct JsonRecord {
    story: Option<String>,
    text: Option<String>,
}

impl JsonRecord {
    fn into_record(self) -> Record {
        match self.story.or(self.text) {
            Some(s) => Record::Story(s),
            None => Record::Broken(Broken::MissingField),
        }
    }
}

impl CorpusReader {
    /// Opens `path`, detecting the format from its extension.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let format = Format::from_path(&path)?;
        let file = File::open(&path).map_err(|source| DataError::Open {
            path: path.clone(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(DataError::Open {
                path,
                source: std::io::Error::other("is a directory"),
            });
        }
        let (hashing, tally) = HashingReader::new(file);
        let raw: Box<dyn Read + Send> = if format.zstd {
            let decoder =
                zstd::stream::read::Decoder::new(hashing).map_err(|source| DataError::Zstd {
                    path: path.clone(),
                    source,
                })?;
            Box::new(decoder)
        } else {
            Box::new(hashing)
        };
        let mut lines = LineReader {
            inner: Box::new(BufReader::with_capacity(1 << 16, raw)),
            line_no: 0,
            buf: Vec::new(),
        };
        let source = match format.layout {
            Layout::Text => Source::Text(lines, TextState::default()),
            Layout::JsonLines => Source::JsonLines(lines),
            Layout::Json => {
                if first_non_space(&mut lines.inner).map_err(|e| io_error(&path, format.zstd, e))?
                    == Some(b'[')
                {
                    spawn_array_reader(path.clone(), format.zstd, lines.inner)
                } else {
                    Source::JsonLines(lines)
                }
            }
        };
        Ok(Self {
            path,
            zstd: format.zstd,
            tally,
            source,
            queue: VecDeque::new(),
            done: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the file (compressed, for `.zst`) consumed so far; for progress.
    pub fn bytes_read(&self) -> u64 {
        self.tally.bytes()
    }

    /// SHA-256 of the file bytes consumed so far (the whole file once the
    /// iterator has returned `None`).
    pub fn sha256(&self) -> String {
        self.tally.sha256_hex()
    }

    fn step(&mut self) -> Result<(), DataError> {
        let zstd = self.zstd;
        let path = &self.path;
        match &mut self.source {
            Source::Text(lines, state) => match lines
                .next_line()
                .map_err(|e| line_error(path, zstd, lines.line_no, e))?
            {
                None => {
                    self.done = true;
                    let rest = std::mem::take(&mut state.pending);
                    if !state.skipping && !rest.trim().is_empty() {
                        self.queue.push_back(Record::Story(rest));
                    }
                }
                Some(line) => split_text_line(line, state, &mut self.queue),
            },
            Source::JsonLines(lines) => loop {
                match lines
                    .next_line()
                    .map_err(|e| line_error(path, zstd, lines.line_no, e))?
                {
                    None => {
                        self.done = true;
                        break;
                    }
                    Some(line) if line.trim().is_empty() => continue,
                    Some(line) => {
                        let record = match serde_json::from_str::<JsonRecord>(&line) {
                            Ok(r) => r.into_record(),
                            Err(_) => Record::Broken(Broken::InvalidJson),
                        };
                        self.queue.push_back(record);
                        break;
                    }
                }
            },
            Source::JsonArray { rx, worker } => match rx.recv() {
                Ok(Ok(record)) => self.queue.push_back(record),
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    if let Some(w) = worker.take() {
                        let _ = w.join();
                    }
                }
            },
        }
        Ok(())
    }
}

impl Iterator for CorpusReader {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}

/// Splits one text line at separators, completing stories as they end.
fn split_text_line(line: String, state: &mut TextState, queue: &mut VecDeque<Record>) {
    if !line.contains(EOT) {
        if !state.skipping {
            state.pending.push_str(&line);
            if state.pending.len() > MAX_STORY_BYTES {
                state.pending = String::new();
                state.skipping = true;
                queue.push_back(Record::Broken(Broken::TooLong));
            }
        }
        return;
    }
    let mut parts = line.split(EOT).peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        let is_last = parts.peek().is_none();
        if first {
            first = false;
            if !state.skipping {
                state.pending.push_str(part);
                queue.push_back(Record::Story(std::mem::take(&mut state.pending)));
            }
            state.skipping = false;
            state.pending.clear();
        } else if is_last {
            state.pending.push_str(part);
        } else {
            queue.push_back(Record::Story(part.to_string()));
        }
    }
}

impl LineReader {
    /// Next line including its newline; invalid UTF-8 is an error.
    fn next_line(&mut self) -> Result<Option<String>, LineError> {
        self.buf.clear();
        let n = self
            .inner
            .read_until(b'\n', &mut self.buf)
            .map_err(LineError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(Some(s.to_string())),
            Err(_) => Err(LineError::Utf8),
        }
    }
}

enum LineError {
    Io(std::io::Error),
    Utf8,
}

fn line_error(path: &Path, zstd: bool, line: u64, e: LineError) -> DataError {
    match e {
        LineError::Io(e) => io_error(path, zstd, e),
        LineError::Utf8 => DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
        },
    }
}

fn io_error(path: &Path, zstd: bool, source: std::io::Error) -> DataError {
    if zstd {
        DataError::Zstd {
            path: path.to_path_buf(),
            source,
        }
    } else {
        DataError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn first_non_space(reader: &mut Box<dyn BufRead + Send>) -> std::io::Result<Option<u8>> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// A JSON array is parsed on its own thread, handing records over a small
/// bounded channel, so multi-GB arrays stream instead of loading whole.
fn spawn_array_reader(path: PathBuf, zstd: bool, reader: Box<dyn BufRead + Send>) -> Source {
    let (tx, rx) = sync_channel(1024);
    let worker = std::thread::spawn(move || {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let result = serde::Deserializer::deserialize_seq(&mut de, ArrayVisitor { tx: &tx })
            .and_then(|()| de.end());
        if let Err(e) = result {
            let err = if e.is_io() {
                io_error(&path, zstd, std::io::Error::from(e))
            } else if e.to_string().contains(STOPPED) {
                return;
            } else {
                DataError::Json {
                    path: path.clone(),
                    message: e.to_string(),
                }
            };
            let _ = tx.send(Err(err));
        }
    });
    Source::JsonArray {
        rx,
        worker: Some(worker),
    }
}

const STOPPED: &str = "reader dropped";

struct ArrayVisitor<'a> {
    tx: &'a SyncSender<Result<Record, DataError>>,
}

impl<'de> serde::de::Visitor<'de> for ArrayVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of story records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            let record = match serde_json::from_value::<JsonRecord>(value) {
                Ok(r) => r.into_record(),
                Err(_) => Record::Broken(Broken::MissingField),
            };
            if self.tx.send(Ok(record)).is_err() {
                return Err(serde::de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(lines: &[&str]) -> Vec<Record> {
        let mut state = TextState::default();
        let mut q = VecDeque::new();
        for l in lines {
            split_text_line(l.to_string(), &mut state, &mut q);
        }
        q.into_iter().collect()
    }

    #[test]
    fn separators_inside_lines_split_stories() {
        let got = split_all(&["a\n", "b<|endoftext|>c<|endoftext|>d\n", "e\n"]);
        assert_eq!(
            got,
            vec![Record::Story("a\nb".into()), Record::Story("c".into())]
        );
    }

    #[test]
    fn over_long_story_is_broken_and_skipped_until_separator() {
        let long = "x".repeat(MAX_STORY_BYTES + 1);
        let got = split_all(&[
            &long,
            "tail\n",
            "<|endoftext|>\n",
            "ok\n",
            "<|endoftext|>\n",
        ]);
        assert_eq!(
            got,
            vec![
                Record::Broken(Broken::TooLong),
                Record::Story("\nok\n".into())
            ]
        );
    }
}
