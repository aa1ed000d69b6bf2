//! Recognising corpus formats from file names.

use std::path::Path;

use crate::error::DataError;

/// How records are laid out in a corpus file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Plain text; stories separated by `<|endoftext|>`.
    Text,
    /// One JSON object per line with a `story` or `text` field.
    JsonLines,
    /// A JSON array of such objects (also accepts JSON Lines content).
    Json,
}

/// Layout plus whether the file is zstd-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub layout: Layout,
    pub zstd: bool,
}

impl Format {
    /// Detects the format from the extension: `.txt`, `.jsonl`, `.json`, each
    /// optionally followed by `.zst`.
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (stem, zstd) = match name.strip_suffix(".zst") {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        let layout = if stem.ends_with(".txt") {
            Layout::Text
        } else if stem.ends_with(".jsonl") {
            Layout::JsonLines
        } else if stem.ends_with(".json") {
            Layout::Json
        } else {
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            });
        };
        Ok(Self { layout, zstd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_extension() {
        let f = |p: &str| Format::from_path(Path::new(p));
        assert_eq!(
            f("a/train.txt").unwrap(),
            Format {
                layout: Layout::Text,
                zstd: false
            }
        );
        assert_eq!(
            f("train.TXT.zst").unwrap(),
            Format {
                layout: Layout::Text,
                zstd: true
            }
        );
        assert_eq!(f("x.jsonl.zst").unwrap().layout, Layout::JsonLines);
        assert_eq!(f("data00.json").unwrap().layout, Layout::Json);
        let err = f("stories.parquet").unwrap_err().to_string();
        assert!(
            err.contains("stories.parquet") && err.contains("unknown corpus format"),
            "{err}"
        );
        assert!(f("train.zst").is_err());
    }
}
