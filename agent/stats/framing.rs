//! The message framing spec: how an application splits its TCP byte stream
//! into messages, given as a short string (`u16be,offset=2,adjust=-4`,
//! `line`). Parsing and printing only; the streaming codec is in `codec`.
//!
//! Syntax (also in `docs/ANALYSIS.md`):
//! - `u16be`, `u16le`, `u32be`, `u32le`: a message is `offset` header bytes,
//!   then the length field, then `length + adjust` more bytes;
//! - options after commas: `offset=K` (0 ≤ K ≤ [`MAX_OFFSET`]) and `adjust=J`
//!   (signed, |J| ≤ [`MAX_ADJUST`]), each at most once;
//! - `line`: messages end with `\n`, which belongs to the message.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::FramingError;

/// Largest `offset`: header bytes before the length field. Generous for any
/// real protocol, small enough that a typo is caught.
pub const MAX_OFFSET: u32 = 65_536;

/// Largest `|adjust|`: a length field is at most 32 bits wide.
pub const MAX_ADJUST: i64 = 1 << 32;

/// How a stream splits into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingSpec {
    /// Messages carry a length field.
    Length(LengthPrefix),
    /// Messages end with `\n`.
    Line,
}

/// A length-prefixed layout: `offset` bytes, the field, then
/// `field value + adjust` bytes. The message size is the sum of all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefix {
    /// Width of the length field.
    pub width: FieldWidth,
    /// Byte order of the length field.
    pub big_endian: bool,
    /// Header bytes before the length field (they belong to the message).
    pub offset: u32,
    /// Added to the field value to get the bytes that follow the field;
    /// `-(offset + width)` when the field counts the whole message.
    pub adjust: i64,
}

/// Width of a length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldWidth {
    /// Two bytes.
    U16,
    /// Four bytes.
    U32,
}

impl FieldWidth {
    /// Bytes the field takes.
    pub fn bytes(self) -> u32 {
        match self {
            FieldWidth::U16 => 2,
            FieldWidth::U32 => 4,
        }
    }
}

impl LengthPrefix {
    /// Bytes before the body: `offset` plus the field.
    pub fn header_len(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.width.bytes())
    }

    /// Reads the field from its bytes (`field.len()` = the width).
    pub fn decode(&self, field: &[u8]) -> u64 {
        let mut value = 0u64;
        if self.big_endian {
            for &b in field {
                value = value << 8 | u64::from(b);
            }
        } else {
            for &b in field.iter().rev() {
                value = value << 8 | u64::from(b);
            }
        }
        value
    }
}

impl FromStr for FramingSpec {
    type Err = FramingError;

    fn from_str(text: &str) -> Result<Self, FramingError> {
        let invalid = |reason: String| FramingError::InvalidSpec {
            spec: text.to_string(),
            reason,
        };
        let mut parts = text.split(',').map(str::trim);
        let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (width, big_endian) = match kind.as_str() {
            "line" => {
                return match parts.next() {
                    None => Ok(FramingSpec::Line),
                    Some(_) => Err(invalid("`line` takes no options".into())),
                };
            }
            "u16be" => (FieldWidth::U16, true),
            "u16le" => (FieldWidth::U16, false),
            "u32be" => (FieldWidth::U32, true),
            "u32le" => (FieldWidth::U32, false),
            "" => {
                return Err(invalid(
                    "empty; expected u16be, u16le, u32be, u32le or line".into(),
                ));
            }
            other => {
                return Err(invalid(format!(
                    "unknown kind {other:?}; expected u16be, u16le, u32be, u32le or line"
                )));
            }
        };
        let mut offset = None;
        let mut adjust = None;
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                return Err(invalid(format!("option {part:?} is not key=value")));
            };
            match key.trim() {
                "offset" => {
                    let k: u32 = value.trim().parse().map_err(|_| {
                        invalid(format!("offset {value:?} is not a whole number ≥ 0"))
                    })?;
                    if k > MAX_OFFSET {
                        return Err(invalid(format!("offset {k} exceeds {MAX_OFFSET}")));
                    }
                    if offset.replace(k).is_some() {
                        return Err(invalid("offset given twice".into()));
                    }
                }
                "adjust" => {
                    let j: i64 = value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(format!("adjust {value:?} is not a whole number")))?;
                    if j.abs() > MAX_ADJUST {
                        return Err(invalid(format!("adjust {j} exceeds ±{MAX_ADJUST}")));
                    }
                    if adjust.replace(j).is_some() {
                        return Err(invalid("adjust given twice".into()));
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "unknown option {other:?}; expected offset or adjust"
                    )));
                }
            }
        }
        Ok(FramingSpec::Length(LengthPrefix {
            width,
            big_endian,
            offset: offset.unwrap_or(0),
            adjust: adjust.unwrap_or(0),
        }))
    }
}

impl fmt::Display for FramingSpec {
    /// The canonical form, which parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self {
            FramingSpec::Line => return f.write_str("line"),
            FramingSpec::Length(p) => p,
        };
        let bits = p.width.bytes() * 8;
        let order = if p.big_endian { "be" } else { "le" };
        write!(f, "u{bits}{order}")?;
        if p.offset != 0 {
            write!(f, ",offset={}", p.offset)?;
        }
        if p.adjust != 0 {
            write!(f, ",adjust={}", p.adjust)?;
        }
        Ok(())
    }
}

impl Serialize for FramingSpec {
    /// As its canonical string, the form users type.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FramingSpec {
    /// From the spec string, as [`FromStr`] parses it (so `reelctl` reads
    /// back what an agent serialised).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(width: FieldWidth, big_endian: bool, offset: u32, adjust: i64) -> FramingSpec {
        FramingSpec::Length(LengthPrefix {
            width,
            big_endian,
            offset,
            adjust,
        })
    }

    #[test]
    fn valid_specs_parse_and_print_canonically() {
        let cases = [
            ("line", FramingSpec::Line, "line"),
            (" LINE ", FramingSpec::Line, "line"),
            ("u16be", length(FieldWidth::U16, true, 0, 0), "u16be"),
            ("u16le", length(FieldWidth::U16, false, 0, 0), "u16le"),
            ("u32be", length(FieldWidth::U32, true, 0, 0), "u32be"),
            (
                "u32le,offset=4",
                length(FieldWidth::U32, false, 4, 0),
                "u32le,offset=4",
            ),
            (
                "u16be, adjust=-2 ,offset=1",
                length(FieldWidth::U16, true, 1, -2),
                "u16be,offset=1,adjust=-2",
            ),
            (
                "u16be,adjust=+3",
                length(FieldWidth::U16, true, 0, 3),
                "u16be,adjust=3",
            ),
        ];
        for (text, spec, canonical) in cases {
            let parsed: FramingSpec = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed, spec, "{text}");
            assert_eq!(parsed.to_string(), canonical, "{text}");
            assert_eq!(canonical.parse::<FramingSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn invalid_specs_name_the_problem() {
        let cases = [
            ("", "empty"),
            ("u24be", "unknown kind"),
            ("line,offset=1", "no options"),
            ("u16be,offset", "not key=value"),
            ("u16be,offset=-1", "whole number"),
            ("u16be,offset=70000", "exceeds"),
            ("u16be,offset=1,offset=2", "twice"),
            ("u16be,adjust=x", "whole number"),
            ("u16be,adjust=99999999999", "exceeds"),
            ("u16be,adjust=1,adjust=1", "twice"),
            ("u16be,size=3", "unknown option"),
        ];
        for (text, needle) in cases {
            let err = text.parse::<FramingSpec>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn decode_reads_both_byte_orders() {
        let be = LengthPrefix {
            width: FieldWidth::U32,
            big_endian: true,
            offset: 0,
            adjust: 0,
        };
        let le = LengthPrefix {
            big_endian: false,
            ..be
        };
        assert_eq!(be.decode(&[0, 0, 1, 2]), 0x0102);
        assert_eq!(le.decode(&[2, 1, 0, 0]), 0x0102);
        assert_eq!(be.decode(&[0xff; 4]), 0xffff_ffff);
        assert_eq!(be.header_len(), 4);
    }
}
