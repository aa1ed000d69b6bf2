//! A stream of cleaned stories over several corpus files, with progress and
//! per-file checksums and cleaning counts.

use std::collections::VecDeque;
use std::path::PathBuf;

use indicatif::ProgressBar;

use crate::clean::{CleanStats, Cleaner};
use crate::error::DataError;
use crate::meta::SourceInfo;
use crate::reader::CorpusReader;

/// Yields cleaned stories from each file in turn. Iteration stops at the
/// first error, which is kept in [`StoryStream::take_error`] (the stream is
/// handed to consumers that only understand plain iterators).
pub struct StoryStream {
    paths: VecDeque<PathBuf>,
    reader: Option<CorpusReader>,
    cleaner: Cleaner,
    error: Option<DataError>,
    sources: Vec<SourceInfo>,
    progress: ProgressBar,
    finished_bytes: u64,
    /// The cleaner's counts when the current file was opened.
    file_start: CleanStats,
}

impl StoryStream {
    pub fn new(paths: &[PathBuf], cleaner: Cleaner, progress: ProgressBar) -> Self {
        Self {
            paths: paths.iter().cloned().collect(),
            reader: None,
            cleaner,
            error: None,
            sources: Vec::new(),
            progress,
            finished_bytes: 0,
            file_start: CleanStats::default(),
        }
    }

    /// The error that ended iteration early, if any.
    pub fn take_error(&mut self) -> Option<DataError> {
        self.error.take()
    }

    /// Files read to the end so far, with size, SHA-256 and what cleaning did to each.
    pub fn sources(&self) -> &[SourceInfo] {
        &self.sources
    }

    pub fn cleaner(&self) -> &Cleaner {
        &self.cleaner
    }

    pub fn into_parts(self) -> (Cleaner, Vec<SourceInfo>) {
        (self.cleaner, self.sources)
    }

    fn fail(&mut self, e: DataError) -> Option<String> {
        self.error = Some(e);
        self.reader = None;
        self.paths.clear();
        None
    }
}

impl Iterator for StoryStream {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let reader = match self.reader.as_mut() {
                Some(r) => r,
                None => {
                    let path = self.paths.pop_front()?;
                    self.file_start = self.cleaner.stats().clone();
                    match CorpusReader::open(&path) {
                        Ok(r) => self.reader.insert(r),
                        Err(e) => return self.fail(e),
                    }
                }
            };
            match reader.next() {
                Some(Ok(record)) => {
                    let pos = self.finished_bytes + reader.bytes_read();
                    self.progress.set_position(pos);
                    if let Some(story) = self.cleaner.process(record) {
                        return Some(story);
                    }
                }
                Some(Err(e)) => return self.fail(e),
                None => {
                    let bytes = reader.bytes_read();
                    self.sources.push(SourceInfo {
                        path: reader.path().display().to_string(),
                        bytes,
                        sha256: reader.sha256(),
                        cleaning: self.cleaner.stats().since(&self.file_start),
                    });
                    self.finished_bytes += bytes;
                    self.progress.set_position(self.finished_bytes);
                    self.reader = None;
                }
            }
        }
    }
}
