//! Bytes as people read them in rules and reports: hex (`when.hex`, the
//! dry run's values) and ASCII when every byte is printable.

use std::fmt::Write as _;

/// Parses hex digits; spaces between bytes are allowed (`"02 00 ff"`).
///
/// # Errors
/// What is wrong, for the rules error message.
pub(crate) fn parse(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Err("is empty; give at least one byte, e.g. \"02\"".to_owned());
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{text:?} has an odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = pair[0].to_digit(16);
            let lo = pair[1].to_digit(16);
            match (hi, lo) {
                (Some(hi), Some(lo)) => Ok((hi * 16 + lo) as u8),
                _ => Err(format!("{text:?} is not hex (digits 0-9, a-f)")),
            }
        })
        .collect()
}

/// Lower-case hex, no separators.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The bytes as text when every one is printable ASCII (space included).
pub fn ascii(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)))
        .then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_both_ways() {
        assert_eq!(parse("02"), Ok(vec![2]));
        assert_eq!(parse("DE ad\tBE ef"), Ok(vec![0xde, 0xad, 0xbe, 0xef]));
        for bad in ["", " ", "0", "0g", "é0"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(encode(&[0, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn ascii_only_when_printable() {
        assert_eq!(ascii(b"abc 123"), Some("abc 123".to_owned()));
        assert_eq!(ascii(b"a\nb"), None);
        assert_eq!(ascii(&[0xc3, 0xa9]), None);
        assert_eq!(ascii(b""), None);
    }
}
