//! Integers inside messages: the field types of the schema (`u8` ...
//! `u64le`), the length prefix types (those up to 32 bits, and `varint`),
//! and their pure codecs.

/// An unsigned integer field: its width and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntType {
    /// One byte.
    U8,
    /// Two bytes, big-endian (network order).
    U16be,
    /// Two bytes, little-endian.
    U16le,
    /// Four bytes, big-endian.
    U32be,
    /// Four bytes, little-endian.
    U32le,
    /// Eight bytes, big-endian.
    U64be,
    /// Eight bytes, little-endian.
    U64le,
}

impl IntType {
    /// Every type, in the order error messages list them.
    pub const ALL: [IntType; 7] = [
        IntType::U8,
        IntType::U16be,
        IntType::U16le,
        IntType::U32be,
        IntType::U32le,
        IntType::U64be,
        IntType::U64le,
    ];

    /// The name the rules file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            IntType::U8 => "u8",
            IntType::U16be => "u16be",
            IntType::U16le => "u16le",
            IntType::U32be => "u32be",
            IntType::U32le => "u32le",
            IntType::U64be => "u64be",
            IntType::U64le => "u64le",
        }
    }

    /// The type named `name` in a rules file.
    pub fn from_name(name: &str) -> Option<IntType> {
        IntType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Bytes the field takes.
    pub fn width(self) -> usize {
        match self {
            IntType::U8 => 1,
            IntType::U16be | IntType::U16le => 2,
            IntType::U32be | IntType::U32le => 4,
            IntType::U64be | IntType::U64le => 8,
        }
    }

    /// The largest value: arithmetic on the field wraps at `max + 1`.
    pub fn max(self) -> u64 {
        match self.width() {
            8 => u64::MAX,
            w => (1u64 << (8 * w)) - 1,
        }
    }

    fn big_endian(self) -> bool {
        matches!(
            self,
            IntType::U8 | IntType::U16be | IntType::U32be | IntType::U64be
        )
    }

    /// Reads the value from the start of `bytes`; `None` when fewer than
    /// [`IntType::width`] bytes are there.
    pub fn read(self, bytes: &[u8]) -> Option<u64> {
        let field = bytes.get(..self.width())?;
        let fold = |value: u64, b: &u8| value << 8 | u64::from(*b);
        Some(if self.big_endian() {
            field.iter().fold(0, fold)
        } else {
            field.iter().rev().fold(0, fold)
        })
    }

    /// Writes `value` into the start of `out`; `false` (nothing written)
    /// when `value` does not fit the width or `out` is too short.
    pub fn write(self, value: u64, out: &mut [u8]) -> bool {
        let width = self.width();
        if value > self.max() || out.len() < width {
            return false;
        }
        let big = value.to_be_bytes();
        let field = &mut out[..width];
        field.copy_from_slice(&big[8 - width..]);
        if !self.big_endian() {
            field.reverse();
        }
        true
    }

    /// `value` as the field's bytes; `None` when it does not fit.
    pub fn encode(self, value: u64) -> Option<Vec<u8>> {
        let mut out = vec![0; self.width()];
        self.write(value, &mut out).then_some(out)
    }
}

/// Longest varint prefix read: 5 bytes hold 35 bits, far beyond any body
/// below [`MAX_MESSAGE`](super::MAX_MESSAGE); a longer one is garbage.
pub const MAX_VARINT_BYTES: usize = 5;

/// How a length prefix is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthType {
    /// A fixed-width integer (`u8` to `u32le`; the 64-bit types are not
    /// offered, no length needs them).
    Int(IntType),
    /// Unsigned LEB128, as protobuf and Minecraft write it: 7 bits a byte,
    /// least significant first, the high bit set on every byte but the last.
    Varint,
}

/// What reading a length prefix from the start of a buffer gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// The value, and the bytes the prefix took.
    Value(u64, usize),
    /// More bytes are needed to know.
    Incomplete,
    /// A varint that goes on beyond [`MAX_VARINT_BYTES`].
    Endless,
}

impl LengthType {
    /// The names the rules file accepts, in the order errors list them.
    pub const NAMES: [&'static str; 6] = ["u8", "u16be", "u16le", "u32be", "u32le", "varint"];

    /// The type named `name` in a rules file.
    pub fn from_name(name: &str) -> Option<LengthType> {
        match name {
            "varint" => Some(LengthType::Varint),
            "u64be" | "u64le" => None,
            other => IntType::from_name(other).map(LengthType::Int),
        }
    }

    /// The name the rules file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LengthType::Int(t) => t.as_str(),
            LengthType::Varint => "varint",
        }
    }

    /// Reads a prefix at the start of `bytes`.
    pub fn read(self, bytes: &[u8]) -> Prefix {
        match self {
            LengthType::Int(t) => match t.read(bytes) {
                Some(value) => Prefix::Value(value, t.width()),
                None => Prefix::Incomplete,
            },
            LengthType::Varint => {
                let mut value = 0u64;
                for (i, b) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
                    value |= u64::from(b & 0x7f) << (7 * i);
                    if b & 0x80 == 0 {
                        return Prefix::Value(value, i + 1);
                    }
                }
                if bytes.len() >= MAX_VARINT_BYTES {
                    Prefix::Endless
                } else {
                    Prefix::Incomplete
                }
            }
        }
    }

    /// `value` as a prefix; `None` when it does not fit the width.
    pub fn encode(self, value: u64) -> Option<Vec<u8>> {
        match self {
            LengthType::Int(t) => t.encode(value),
            LengthType::Varint => {
                let mut out = Vec::with_capacity(MAX_VARINT_BYTES);
                let mut rest = value;
                loop {
                    let low = (rest & 0x7f) as u8;
                    rest >>= 7;
                    if rest == 0 {
                        out.push(low);
                        return Some(out);
                    }
                    out.push(low | 0x80);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_int_type_reads_and_writes_its_byte_order() {
        let cases: [(IntType, u64, &[u8]); 7] = [
            (IntType::U8, 0xab, &[0xab]),
            (IntType::U16be, 0x1234, &[0x12, 0x34]),
            (IntType::U16le, 0x1234, &[0x34, 0x12]),
            (IntType::U32be, 0x1234_5678, &[0x12, 0x34, 0x56, 0x78]),
            (IntType::U32le, 0x1234_5678, &[0x78, 0x56, 0x34, 0x12]),
            (
                IntType::U64be,
                0x0102_0304_0506_0708,
                &[1, 2, 3, 4, 5, 6, 7, 8],
            ),
            (
                IntType::U64le,
                0x0102_0304_0506_0708,
                &[8, 7, 6, 5, 4, 3, 2, 1],
            ),
        ];
        for (t, value, bytes) in cases {
            assert_eq!(t.read(bytes), Some(value), "{t:?}");
            assert_eq!(t.encode(value).as_deref(), Some(bytes), "{t:?}");
            assert_eq!(t.width(), bytes.len());
            assert_eq!(IntType::from_name(t.as_str()), Some(t));
            assert_eq!(t.read(&bytes[1..]), None, "{t:?}: too short");
        }
    }

    #[test]
    fn values_beyond_the_width_are_refused() {
        assert_eq!(IntType::U8.encode(256), None);
        assert_eq!(IntType::U16le.encode(0x1_0000), None);
        assert_eq!(IntType::U32be.max(), u64::from(u32::MAX));
        assert_eq!(IntType::U64le.max(), u64::MAX);
        let mut short = [0u8; 3];
        assert!(!IntType::U32be.write(1, &mut short));
        assert_eq!(short, [0; 3]);
    }

    #[test]
    fn varints_follow_leb128() {
        let cases: [(u64, &[u8]); 5] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (300, &[0xac, 0x02]),
            (16 << 20, &[0x80, 0x80, 0x80, 0x08]),
        ];
        for (value, bytes) in cases {
            let t = LengthType::Varint;
            assert_eq!(t.encode(value).as_deref(), Some(bytes), "{value}");
            assert_eq!(t.read(bytes), Prefix::Value(value, bytes.len()));
            assert_eq!(t.read(&bytes[..bytes.len() - 1]), Prefix::Incomplete);
        }
        assert_eq!(LengthType::Varint.read(&[0x80; 5]), Prefix::Endless);
        assert_eq!(LengthType::Varint.read(&[0x80; 4]), Prefix::Incomplete);
    }

    #[test]
    fn length_names() {
        for name in LengthType::NAMES {
            assert_eq!(
                LengthType::from_name(name).map(LengthType::as_str),
                Some(name)
            );
        }
        assert_eq!(LengthType::from_name("u64be"), None);
        assert_eq!(LengthType::from_name("u24"), None);
    }
}
