//! SHA-256 of source files, computed while they are read (no second pass).

use std::io::Read;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Hex encoding of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 hex of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What a [`HashingReader`] has seen so far; shared so the digest can be read
/// after the reader has been moved into a decompressor.
#[derive(Debug, Default)]
pub(crate) struct ReadTally {
    hasher: Sha256,
    bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TallyHandle(Arc<Mutex<ReadTally>>);

impl TallyHandle {
    pub(crate) fn bytes(&self) -> u64 {
        self.0.lock().map(|t| t.bytes).unwrap_or(0)
    }

    pub(crate) fn sha256_hex(&self) -> String {
        self.0
            .lock()
            .map(|t| hex(&t.hasher.clone().finalize()))
            .unwrap_or_default()
    }
}

/// Passes bytes through while hashing and counting them.
pub(crate) struct HashingReader<R> {
    inner: R,
    tally: TallyHandle,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> (Self, TallyHandle) {
        let tally = TallyHandle::default();
        (
            Self {
                inner,
                tally: tally.clone(),
            },
            tally,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut t) = self.tally.0.lock() {
            t.hasher.update(&buf[..n]);
            t.bytes += n as u64;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let data = b"hello world".repeat(1000);
        let (mut r, tally) = HashingReader::new(&data[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(tally.bytes(), data.len() as u64);
        assert_eq!(tally.sha256_hex(), sha256_hex(&data));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
