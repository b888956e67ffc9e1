//! Finding rule positions in a message body: offsets (negative ones count
//! from the end), `when` conditions, fields, checksum ranges. Pure, and
//! total: a position outside the body is `None`, never a panic.

use std::ops::Range;

use super::rules::{Checksum, Field, IntField, Span, When};
use crate::format::Direction;

/// The byte range `len` bytes long at `offset` in a body of `body_len`
/// bytes; a negative offset counts from the end (`-4` = the last four
/// bytes). `None` when any of it lies outside the body.
pub(crate) fn span(offset: i64, len: usize, body_len: usize) -> Option<Range<usize>> {
    let start = if offset >= 0 {
        usize::try_from(offset).ok()?
    } else {
        body_len.checked_sub(usize::try_from(offset.unsigned_abs()).ok()?)?
    };
    let end = start.checked_add(len)?;
    (end <= body_len).then_some(start..end)
}

/// A position in a body of `body_len` bytes for a range end: `0..=len`.
fn position(at: i64, body_len: usize) -> Option<usize> {
    span(at, 0, body_len).map(|r| r.start)
}

impl When {
    /// Whether `body` has the bytes at the offset.
    pub fn matches(&self, body: &[u8]) -> bool {
        span(self.offset, self.bytes.len(), body.len()).is_some_and(|r| body[r] == self.bytes[..])
    }
}

/// Whether a rule of `direction` with condition `when` applies to `body`
/// of a message going `dir`.
pub(crate) fn applies(
    direction: Direction,
    when: Option<&When>,
    dir: Direction,
    body: &[u8],
) -> bool {
    direction == dir && when.is_none_or(|w| w.matches(body))
}

impl IntField {
    /// Where the field is in `body`.
    pub fn locate(&self, body_len: usize) -> Option<Range<usize>> {
        span(self.offset, self.int.width(), body_len)
    }

    /// The field's value in `body`.
    pub fn read(&self, body: &[u8]) -> Option<u64> {
        self.locate(body.len())
            .and_then(|r| self.int.read(&body[r]))
    }
}

impl Field {
    /// Where the field is in `body`: `None` when it lies outside, or the
    /// regex does not match.
    pub fn locate(&self, body: &[u8]) -> Option<Range<usize>> {
        match self {
            Field::Raw { offset, len } => span(*offset, *len, body.len()),
            Field::Int(field) => field.locate(body.len()),
            Field::Regex(regex) => regex.captures(body)?.get(1).map(|m| m.range()),
        }
    }

    /// The integer type, for `{offset, int}` fields.
    pub fn int(&self) -> Option<IntField> {
        match self {
            Field::Int(field) => Some(*field),
            Field::Raw { .. } | Field::Regex(_) => None,
        }
    }
}

impl Span {
    /// The range in a body of `body_len` bytes; `None` when an end lies
    /// outside or `to` comes before `from`.
    pub fn resolve(&self, body_len: usize) -> Option<Range<usize>> {
        let from = position(self.from, body_len)?;
        let to = match self.to {
            Some(to) => position(to, body_len)?,
            None => body_len,
        };
        (from <= to).then_some(from..to)
    }
}

impl Checksum {
    /// Where the checksum goes in `body` and the value it must have there
    /// (modulo the field's width); `None` when the range or the field lies
    /// outside the body.
    pub fn compute(&self, body: &[u8]) -> Option<(Range<usize>, u64)> {
        let over = self.over.resolve(body.len())?;
        let at = self.at.locate(body.len())?;
        Some((at, self.algorithm.compute(&body[over]) & self.at.int.max()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::IntType;
    use crate::rewrite::algorithm::Algorithm;

    #[test]
    fn offsets_count_from_either_end() {
        let cases: [(i64, usize, usize, Option<Range<usize>>); 10] = [
            (0, 2, 5, Some(0..2)),
            (3, 2, 5, Some(3..5)),
            (4, 2, 5, None),
            (5, 0, 5, Some(5..5)),
            (6, 0, 5, None),
            (-2, 2, 5, Some(3..5)),
            (-5, 1, 5, Some(0..1)),
            (-6, 1, 5, None),
            (i64::MIN, 1, 5, None),
            (i64::MAX, usize::MAX, 5, None),
        ];
        for (offset, len, body_len, expected) in cases {
            assert_eq!(
                span(offset, len, body_len),
                expected,
                "{offset} {len} {body_len}"
            );
        }
    }

    #[test]
    fn when_and_fields_outside_the_body_do_not_match() {
        let when = When {
            offset: -1,
            bytes: vec![0xff],
        };
        assert!(when.matches(&[1, 0xff]));
        assert!(!when.matches(&[0xff, 1]));
        assert!(!when.matches(&[]));
        let field = Field::Int(IntField {
            offset: 1,
            int: IntType::U32be,
        });
        assert_eq!(field.locate(&[0; 5]), Some(1..5));
        assert_eq!(field.locate(&[0; 4]), None);
        let regex = Field::Regex(regex::bytes::Regex::new("id=([0-9]+)").unwrap());
        assert_eq!(regex.locate(b"x id=42;"), Some(5..7));
        assert_eq!(regex.locate(b"x id=;"), None);
    }

    #[test]
    fn checksum_ranges() {
        let sum = Checksum {
            direction: Direction::C2s,
            when: None,
            algorithm: Algorithm::Sum8,
            over: Span {
                from: 0,
                to: Some(-1),
            },
            at: IntField {
                offset: -1,
                int: IntType::U8,
            },
        };
        assert_eq!(sum.compute(&[1, 2, 3, 0]), Some((3..4, 6)));
        assert_eq!(sum.compute(&[]), None);
        let backwards = Span {
            from: -1,
            to: Some(1),
        };
        assert_eq!(backwards.resolve(4), None);
        assert_eq!(Span { from: 1, to: None }.resolve(4), Some(1..4));
        // A 32-bit checksum into a 16-bit field keeps its low bits.
        let crc = Checksum {
            algorithm: Algorithm::Crc32,
            over: Span { from: 2, to: None },
            at: IntField {
                offset: 0,
                int: IntType::U16be,
            },
            ..sum
        };
        assert_eq!(crc.compute(b"..123456789"), Some((0..2, 0x3926)));
    }
}
