//! The recording header: its metadata types and its pure codec.
//!
//! The header is the one part of the file that must be intact: without it we
//! do not know what the frames mean, so its damage is an error, not a value.

use serde::{Deserialize, Serialize};

use super::codec::to_json;
use super::error::FormatError;
use super::layout::{
    CRC_LEN, FLAGS, HEADER_CRC_START, HEADER_FIXED_LEN, MAGIC, MAX_META_LEN, VERSION, VERSION_TCP,
    le_u16, le_u32,
};
use crate::domain::Transport;

/// What a recording is: stored as JSON in the header so fields can be added
/// without a layout change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Header {
    /// Unique recording id (names the file in the catalog).
    pub id: String,
    /// Human label given at start.
    pub label: String,
    /// Name of the agent that recorded it.
    pub agent_name: String,
    /// Stable id of that agent.
    pub agent_id: String,
    /// Wall-clock anchor: every frame's `ts_ns` counts from this instant.
    pub started_at_unix_ns: i64,
    /// The proxies whose connections the recording holds.
    pub proxies: Vec<ProxyMeta>,
}

/// One recorded proxy, so a replay knows where traffic originally went.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyMeta {
    /// Proxy id, referenced by `OpenInfo::proxy_id`.
    pub id: String,
    /// Human name of the proxy.
    pub name: String,
    /// Address the proxy listened on.
    pub listen: String,
    /// Address the proxy relayed to.
    pub upstream: String,
    /// `udp` for a UDP proxy; absent for TCP.
    #[serde(skip_serializing_if = "Transport::is_tcp")]
    pub transport: Transport,
}

impl Header {
    /// The layout version this header's file is written in: version 2 only
    /// when it can hold datagrams.
    pub fn version(&self) -> u16 {
        if self.proxies.iter().any(|p| p.transport == Transport::Udp) {
            VERSION
        } else {
            VERSION_TCP
        }
    }
}

/// Result of [`decode_header`] on a prefix of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderDecoded {
    /// The header is complete and valid; frames start at byte `len`.
    Complete {
        /// The decoded metadata.
        header: Header,
        /// Encoded header size in bytes.
        len: usize,
    },
    /// The buffer is a valid prefix; at least `needed` bytes are required.
    NeedMore {
        /// Total bytes (from the start of the file) needed to go on.
        needed: usize,
    },
}

/// Appends the encoded header to `out` and returns its length.
///
/// # Errors
/// [`FormatError::MetadataTooLarge`] when the JSON exceeds the limit; `out`
/// is then left as it was.
pub fn encode_header(header: &Header, out: &mut Vec<u8>) -> Result<usize, FormatError> {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&header.version().to_le_bytes());
    out.extend_from_slice(&FLAGS.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let meta_start = out.len();
    if let Err(e) = to_json(header, out) {
        out.truncate(start);
        return Err(e);
    }
    let meta_len = out.len() - meta_start;
    let Some(meta_len_u32) = u32::try_from(meta_len)
        .ok()
        .filter(|_| meta_len <= MAX_META_LEN)
    else {
        out.truncate(start);
        return Err(FormatError::MetadataTooLarge(meta_len));
    };
    out[meta_start - 4..meta_start].copy_from_slice(&meta_len_u32.to_le_bytes());
    let crc = crc32c::crc32c(&out[start + HEADER_CRC_START..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out.len() - start)
}

/// Decodes the header from the start of a file, given any prefix of it.
///
/// Checks run in the order a reader can make them: magic, version, metadata
/// length, checksum, flags, JSON. The version is checked before the checksum
/// so a future layout is reported as such rather than as damage.
///
/// # Errors
/// [`FormatError::NotARecording`], [`FormatError::UnsupportedVersion`],
/// [`FormatError::UnsupportedFlags`] or [`FormatError::HeaderCorrupted`].
/// A short buffer is not an error: it yields [`HeaderDecoded::NeedMore`].
pub fn decode_header(buf: &[u8]) -> Result<HeaderDecoded, FormatError> {
    let magic_seen = buf.len().min(MAGIC.len());
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        return Err(FormatError::NotARecording);
    }
    if buf.len() >= MAGIC.len() + 2 {
        let version = le_u16(buf, MAGIC.len());
        if !(VERSION_TCP..=VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion(version));
        }
    }
    if buf.len() < HEADER_FIXED_LEN {
        return Ok(HeaderDecoded::NeedMore {
            needed: HEADER_FIXED_LEN,
        });
    }
    let meta_len = le_u32(buf, HEADER_FIXED_LEN - 4) as usize;
    if meta_len > MAX_META_LEN {
        return Err(FormatError::HeaderCorrupted(format!(
            "metadata length {meta_len} exceeds the {MAX_META_LEN}-byte limit"
        )));
    }
    let len = HEADER_FIXED_LEN + meta_len + CRC_LEN;
    if buf.len() < len {
        return Ok(HeaderDecoded::NeedMore { needed: len });
    }
    let stored = le_u32(buf, len - CRC_LEN);
    let computed = crc32c::crc32c(&buf[HEADER_CRC_START..len - CRC_LEN]);
    if stored != computed {
        return Err(FormatError::HeaderCorrupted(format!(
            "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    let flags = le_u16(buf, MAGIC.len() + 2);
    if flags != FLAGS {
        return Err(FormatError::UnsupportedFlags(flags));
    }
    let header = serde_json::from_slice(&buf[HEADER_FIXED_LEN..len - CRC_LEN])
        .map_err(|e| FormatError::HeaderCorrupted(format!("metadata is not valid JSON: {e}")))?;
    Ok(HeaderDecoded::Complete { header, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            id: "rec-1".into(),
            label: "boss fight".into(),
            agent_name: "host-a".into(),
            agent_id: "agent-1".into(),
            started_at_unix_ns: 1_700_000_000_000_000_000,
            proxies: vec![ProxyMeta {
                id: "p1".into(),
                name: "game".into(),
                listen: "0.0.0.0:15631".into(),
                upstream: "127.0.0.1:15630".into(),
                transport: Transport::Tcp,
            }],
        }
    }

    #[test]
    fn round_trip_and_every_prefix_needs_more() {
        let mut buf = Vec::new();
        let len = encode_header(&sample(), &mut buf).unwrap();
        assert_eq!(len, buf.len());
        assert_eq!(
            decode_header(&buf).unwrap(),
            HeaderDecoded::Complete {
                header: sample(),
                len
            }
        );
        for cut in 0..len {
            match decode_header(&buf[..cut]).unwrap() {
                HeaderDecoded::NeedMore { needed } => assert!(needed > cut && needed <= len),
                other => panic!("prefix {cut} decoded as {other:?}"),
            }
        }
    }

    #[test]
    fn classifies_bad_headers() {
        let mut good = Vec::new();
        encode_header(&sample(), &mut good).unwrap();
        let patch = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            decode_header(&b)
        };
        assert!(matches!(
            decode_header(b"GIF89a"),
            Err(FormatError::NotARecording)
        ));
        assert!(matches!(
            patch(8, &3u16.to_le_bytes()),
            Err(FormatError::UnsupportedVersion(3))
        ));
        assert!(matches!(
            patch(12, &u32::MAX.to_le_bytes()),
            Err(FormatError::HeaderCorrupted(_))
        ));
        assert!(matches!(
            patch(20, b"X"),
            Err(FormatError::HeaderCorrupted(_))
        ));
        // Flags covered by a recomputed CRC, so the flag check itself fires.
        let mut flagged = good.clone();
        flagged[10] = 1;
        let end = flagged.len() - 4;
        let crc = crc32c::crc32c(&flagged[8..end]);
        flagged[end..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_header(&flagged),
            Err(FormatError::UnsupportedFlags(1))
        ));
    }

    #[test]
    fn unknown_metadata_fields_are_ignored_and_missing_ones_default() {
        let meta = br#"{"id":"x","future_field":[1,2]}"#;
        let mut buf = Vec::new();
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&FLAGS.to_le_bytes());
        buf.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        buf.extend_from_slice(meta);
        let crc = crc32c::crc32c(&buf[8..]);
        buf.extend_from_slice(&crc.to_le_bytes());
        let HeaderDecoded::Complete { header, .. } = decode_header(&buf).unwrap() else {
            panic!("incomplete");
        };
        assert_eq!(header.id, "x");
        assert!(header.proxies.is_empty());
    }
}
