//! The checksum algorithms a `[[checksum]]` rule may name, computed over a
//! byte range. Pure functions; the rule that places them is in `rules`.

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// CRC-32/ISO-HDLC (zlib, Ethernet, PNG): reflected 0x04C11DB7.
    Crc32,
    /// CRC-32C (Castagnoli; iSCSI, SCTP, ext4).
    Crc32c,
    /// Adler-32 (zlib's stream checksum).
    Adler32,
    /// The sum of the bytes, modulo 256.
    Sum8,
    /// The exclusive or of the bytes.
    Xor8,
    /// The sum of the range read as big-endian 16-bit words (a last odd
    /// byte is the high byte of a word padded with zero), modulo 65,536.
    Sum16be,
}

impl Algorithm {
    /// Every algorithm, in the order error messages list them.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Adler32,
        Algorithm::Sum8,
        Algorithm::Xor8,
        Algorithm::Sum16be,
    ];

    /// The name the rules file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "crc32",
            Algorithm::Crc32c => "crc32c",
            Algorithm::Adler32 => "adler32",
            Algorithm::Sum8 => "sum8",
            Algorithm::Xor8 => "xor8",
            Algorithm::Sum16be => "sum16be",
        }
    }

    /// The algorithm named `name` in a rules file.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The checksum of `bytes`.
    pub fn compute(self, bytes: &[u8]) -> u64 {
        match self {
            Algorithm::Crc32 => u64::from(crc32fast::hash(bytes)),
            Algorithm::Crc32c => u64::from(crc32c::crc32c(bytes)),
            Algorithm::Adler32 => u64::from(adler2::adler32_slice(bytes)),
            Algorithm::Sum8 => u64::from(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))),
            Algorithm::Xor8 => u64::from(bytes.iter().fold(0u8, |s, b| s ^ b)),
            Algorithm::Sum16be => u64::from(bytes.chunks(2).fold(0u16, |s, pair| {
                let word = u16::from(pair[0]) << 8 | pair.get(1).copied().map_or(0, u16::from);
                s.wrapping_add(word)
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let check = b"123456789";
        let cases = [
            (Algorithm::Crc32, check.as_slice(), 0xCBF4_3926),
            (Algorithm::Crc32c, check, 0xE306_9283),
            (Algorithm::Adler32, check, 0x091E_01DE),
            (Algorithm::Adler32, b"Wikipedia", 0x11E6_0398),
            // 0x31 + ... + 0x39 = 477 = 0x1DD.
            (Algorithm::Sum8, check, 0xDD),
            (Algorithm::Xor8, check, 0x31),
            // 0x3132 + 0x3334 + 0x3536 + 0x3738 + 0x3900 = 0x109D4.
            (Algorithm::Sum16be, check, 0x09D4),
            (Algorithm::Sum16be, &[0xff, 0xff, 0x00, 0x02], 0x0001),
        ];
        for (algorithm, bytes, expected) in cases {
            assert_eq!(algorithm.compute(bytes), expected, "{algorithm:?}");
        }
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(algorithm.as_str()), Some(algorithm));
        }
        // The empty range: each algorithm's initial value.
        assert_eq!(Algorithm::Crc32.compute(b""), 0);
        assert_eq!(Algorithm::Adler32.compute(b""), 1);
    }
}
