//! Parsing sizes such as `200M` on the command line.

/// Parses a byte count: a plain integer or one with a K/M/G suffix (powers of 1024).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix in {s:?}; use K, M or G")),
            };
            (&t[..i], mult)
        }
        _ => (t, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 1048576, 512K, 200M, 2G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        assert_eq!(parse_byte_size("123"), Ok(123));
        assert_eq!(parse_byte_size("4K"), Ok(4096));
        assert_eq!(parse_byte_size("200M"), Ok(200 << 20));
        assert_eq!(parse_byte_size("2g"), Ok(2 << 30));
        assert!(parse_byte_size("12X").unwrap_err().contains("suffix"));
        assert!(parse_byte_size("1.5M").unwrap_err().contains("not a size"));
        assert!(parse_byte_size("lots").unwrap_err().contains("suffix"));
        assert!(
            parse_byte_size("99999999999999G")
                .unwrap_err()
                .contains("too large")
        );
    }
}
