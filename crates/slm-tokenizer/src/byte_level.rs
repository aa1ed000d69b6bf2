//! The GPT-2 byte-to-character mapping used by byte-level BPE.
//!
//! Byte-level BPE stores every token as a string of stand-in characters, one per
//! byte, so that vocabularies are valid JSON strings. We need the inverse mapping
//! to recover the exact bytes a token stands for (for streaming decode and
//! inference), so it is reproduced here rather than relying on crate internals.

/// Characters that stand for bytes 0..=255, indexed by byte.
pub(crate) fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for byte in 0u32..256 {
        // Printable Latin-1 bytes keep their own code point; the rest are moved to 256+.
        let printable = (u32::from(b'!')..=u32::from(b'~')).contains(&byte)
            || (0xA1..=0xAC).contains(&byte)
            || (0xAE..=0xFF).contains(&byte);
        let code = if printable {
            byte
        } else {
            extra += 1;
            255 + extra
        };
        // All codes are < 324, which are valid scalar values.
        table[byte as usize] = char::from_u32(code).unwrap_or('\0');
    }
    table
}

/// Inverse of [`byte_to_char`]: maps a stand-in character back to its byte.
pub(crate) struct CharToByte {
    table: Vec<Option<u8>>,
}

impl CharToByte {
    pub(crate) fn new() -> Self {
        let forward = byte_to_char();
        let max = forward.iter().map(|&c| c as usize).max().unwrap_or(0);
        let mut table = vec![None; max + 1];
        for (byte, &c) in forward.iter().enumerate() {
            table[c as usize] = Some(byte as u8);
        }
        Self { table }
    }

    /// The byte a stand-in character encodes, or `None` if the character is not
    /// part of the byte-level alphabet.
    pub(crate) fn byte(&self, c: char) -> Option<u8> {
        self.table.get(c as usize).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn mapping_is_a_bijection_over_all_bytes() {
        let forward = byte_to_char();
        let distinct: HashSet<char> = forward.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        let inverse = CharToByte::new();
        for (byte, &c) in forward.iter().enumerate() {
            assert_eq!(inverse.byte(c), Some(byte as u8));
        }
        assert_eq!(inverse.byte('\u{4e00}'), None);
    }

    #[test]
    fn matches_the_alphabet_of_the_tokenizers_crate() {
        let ours: HashSet<char> = byte_to_char().iter().copied().collect();
        let theirs: HashSet<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
            .into_iter()
            .collect();
        assert_eq!(ours, theirs);
        // Space is the famous 'Ġ' and newline 'Ċ'.
        assert_eq!(byte_to_char()[b' ' as usize], 'Ġ');
        assert_eq!(byte_to_char()[b'\n' as usize], 'Ċ');
    }
}
