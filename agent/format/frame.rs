//! Frames: the typed records of a recording and their pure codec.
//!
//! [`encode_frame`] and [`decode_frame`] take bytes and give values, with no
//! I/O, so the writer, the streaming reader, the footer fast path and the
//! tests all share one implementation of the layout.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::error::FormatError;
use super::layout::{
    CRC_LEN, DIR_C2S, DIR_NONE, DIR_S2C, FRAME_FIXED_BODY, FRAME_LEN_FIELD, FRAME_PAYLOAD_START,
    KIND_ANNOTATION, KIND_CLOSE, KIND_DATA, KIND_FOOTER, KIND_HALF_CLOSE, KIND_LOSS, KIND_OPEN,
    LOSS_COUNT_LEN, MAX_BODY_LEN, MAX_PAYLOAD, OFF_CONN, OFF_DIR, OFF_KIND, OFF_TS,
};
use super::summary::Footer;

/// Which way bytes travelled through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

impl Direction {
    /// The byte stored in a frame's `dir` field.
    pub fn code(self) -> u8 {
        match self {
            Direction::C2s => DIR_C2S,
            Direction::S2c => DIR_S2C,
        }
    }

    /// Parses a `dir` byte; `None` for 0 (no direction) and unknown values.
    pub fn from_code(code: u8) -> Option<Direction> {
        match code {
            DIR_C2S => Some(Direction::C2s),
            DIR_S2C => Some(Direction::S2c),
            _ => None,
        }
    }
}

/// Payload of an OPEN frame: where a connection came from and went to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenInfo {
    /// Client address as the proxy saw it.
    pub client: String,
    /// Proxy that accepted the connection (see `Header::proxies`).
    pub proxy_id: String,
    /// Upstream address the proxy connected to.
    pub upstream: String,
    /// The connection was already open when the recording started, so its
    /// earlier bytes are not in the file and a replay must not expect them.
    pub mid_session: bool,
    /// Wall-clock time the connection was accepted.
    pub opened_unix_ns: i64,
}

/// What a frame says happened.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBody {
    /// A connection opened.
    Open(OpenInfo),
    /// Bytes relayed in one direction, exactly as they were sent.
    Data {
        /// Which way they went.
        dir: Direction,
        /// The bytes.
        payload: Bytes,
    },
    /// The sender of `dir` shut down its write side.
    HalfClose {
        /// The direction that ended.
        dir: Direction,
    },
    /// The connection closed.
    Close {
        /// Why, for humans ("client closed", "upstream reset", ...).
        reason: String,
    },
    /// Bytes the recorder knows it did not capture.
    Loss {
        /// Which direction lost them.
        dir: Direction,
        /// How many bytes are missing.
        bytes: u64,
        /// Why ("disk full", "queue overflow", ...).
        reason: String,
    },
    /// Free text attached to the recording or a connection.
    Annotation {
        /// The text.
        text: String,
    },
}

/// One event of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Connection id within the recording; 0 for frames of no connection.
    pub conn: u64,
    /// Nanoseconds since `Header::started_at_unix_ns`.
    pub ts_ns: u64,
    /// What happened.
    pub body: FrameBody,
}

/// A complete, checksum-valid frame as decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A frame of a known kind.
    Frame(Frame),
    /// The footer; nothing but the trailer may follow it.
    Footer(Footer),
    /// A kind this build does not know (written by a newer reel); skipped.
    Unknown {
        /// The kind byte.
        kind: u8,
    },
}

/// Result of [`decode_frame`] on the bytes at a frame boundary.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A whole frame, `len` bytes long including length field and CRC.
    Item {
        /// What it holds.
        item: Item,
        /// Encoded size; the next frame starts this many bytes later.
        len: usize,
    },
    /// The buffer holds the start of a frame; `needed` bytes are required.
    NeedMore {
        /// Total bytes (from the frame start) needed to go on.
        needed: usize,
    },
    /// The frame is damaged: bad length, checksum or payload.
    Corrupted {
        /// What is wrong, for humans.
        reason: String,
    },
}

/// Appends one encoded frame to `out` and returns its length.
///
/// # Errors
/// [`FormatError::PayloadTooLarge`] when the payload exceeds `MAX_PAYLOAD`;
/// `out` is then left as it was.
pub fn encode_frame(frame: &Frame, out: &mut Vec<u8>) -> Result<usize, FormatError> {
    let (conn, ts) = (frame.conn, frame.ts_ns);
    match &frame.body {
        FrameBody::Open(info) => {
            encode_raw(out, KIND_OPEN, DIR_NONE, conn, ts, |o| to_json(info, o))
        }
        FrameBody::Data { dir, payload } => {
            if payload.len() > MAX_PAYLOAD {
                return Err(FormatError::PayloadTooLarge(payload.len()));
            }
            encode_raw(out, KIND_DATA, dir.code(), conn, ts, |o| {
                o.extend_from_slice(payload);
                Ok(())
            })
        }
        FrameBody::HalfClose { dir } => {
            encode_raw(out, KIND_HALF_CLOSE, dir.code(), conn, ts, |_| Ok(()))
        }
        FrameBody::Close { reason } => encode_text(out, KIND_CLOSE, conn, ts, reason),
        FrameBody::Loss { dir, bytes, reason } => {
            encode_raw(out, KIND_LOSS, dir.code(), conn, ts, |o| {
                o.extend_from_slice(&bytes.to_le_bytes());
                o.extend_from_slice(reason.as_bytes());
                Ok(())
            })
        }
        FrameBody::Annotation { text } => encode_text(out, KIND_ANNOTATION, conn, ts, text),
    }
}

/// Appends the footer frame (conn 0, no direction) to `out`.
///
/// # Errors
/// [`FormatError::FooterTooLarge`] when the JSON exceeds `MAX_PAYLOAD`.
pub fn encode_footer(footer: &Footer, ts_ns: u64, out: &mut Vec<u8>) -> Result<usize, FormatError> {
    encode_raw(out, KIND_FOOTER, DIR_NONE, 0, ts_ns, |o| to_json(footer, o)).map_err(|e| match e {
        FormatError::PayloadTooLarge(bytes) => FormatError::FooterTooLarge {
            bytes,
            connections: footer.connections.len(),
        },
        other => other,
    })
}

/// Decodes the frame at the start of `buf` (which may hold more after it).
///
/// Never panics and never allocates more than the frame's own payload; the
/// length field is bounds-checked before anything else is trusted.
pub fn decode_frame(buf: &[u8]) -> Decoded {
    if buf.len() < FRAME_LEN_FIELD {
        return Decoded::NeedMore {
            needed: FRAME_LEN_FIELD,
        };
    }
    let body_len = le_u32(buf, 0) as usize;
    if body_len < FRAME_FIXED_BODY {
        return corrupted(format!(
            "frame length {body_len} is shorter than the {FRAME_FIXED_BODY}-byte frame header"
        ));
    }
    if body_len > MAX_BODY_LEN {
        return corrupted(format!(
            "frame length {body_len} exceeds the limit of {MAX_BODY_LEN}"
        ));
    }
    let len = FRAME_LEN_FIELD + body_len + CRC_LEN;
    if buf.len() < len {
        return Decoded::NeedMore { needed: len };
    }
    let stored = le_u32(buf, len - CRC_LEN);
    let computed = crc32c::crc32c(&buf[..len - CRC_LEN]);
    if stored != computed {
        return corrupted(format!(
            "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let kind = buf[OFF_KIND];
    let dir = buf[OFF_DIR];
    let conn = le_u64(buf, OFF_CONN);
    let ts_ns = le_u64(buf, OFF_TS);
    let payload = &buf[FRAME_PAYLOAD_START..len - CRC_LEN];
    match decode_body(kind, dir, payload) {
        Ok(Content::Body(body)) => Decoded::Item {
            item: Item::Frame(Frame { conn, ts_ns, body }),
            len,
        },
        Ok(Content::Footer(footer)) => Decoded::Item {
            item: Item::Footer(footer),
            len,
        },
        Ok(Content::Unknown) => Decoded::Item {
            item: Item::Unknown { kind },
            len,
        },
        Err(reason) => corrupted(reason),
    }
}

/// What a payload decodes to, before the frame fields are attached.
enum Content {
    Body(FrameBody),
    Footer(Footer),
    Unknown,
}

/// Interprets a checksum-valid payload. Errors here mean a writer bug or a
/// checksum collision; either way the frame cannot be trusted.
fn decode_body(kind: u8, dir: u8, payload: &[u8]) -> Result<Content, String> {
    let direction = || {
        Direction::from_code(dir)
            .ok_or_else(|| format!("frame kind {kind} has invalid direction {dir}"))
    };
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("frame kind {kind} text is not UTF-8"))
    };
    let body = match kind {
        KIND_OPEN => FrameBody::Open(
            serde_json::from_slice(payload)
                .map_err(|e| format!("OPEN payload is not valid JSON: {e}"))?,
        ),
        KIND_DATA => FrameBody::Data {
            dir: direction()?,
            payload: Bytes::copy_from_slice(payload),
        },
        KIND_HALF_CLOSE => FrameBody::HalfClose { dir: direction()? },
        KIND_CLOSE => FrameBody::Close {
            reason: text(payload)?,
        },
        KIND_LOSS => {
            if payload.len() < LOSS_COUNT_LEN {
                return Err(format!(
                    "LOSS payload of {} bytes is shorter than its {LOSS_COUNT_LEN}-byte count",
                    payload.len()
                ));
            }
            FrameBody::Loss {
                dir: direction()?,
                bytes: le_u64(payload, 0),
                reason: text(&payload[LOSS_COUNT_LEN..])?,
            }
        }
        KIND_ANNOTATION => FrameBody::Annotation {
            text: text(payload)?,
        },
        KIND_FOOTER => {
            return serde_json::from_slice(payload)
                .map(Content::Footer)
                .map_err(|e| format!("FOOTER payload is not valid JSON: {e}"));
        }
        _ => return Ok(Content::Unknown),
    };
    Ok(Content::Body(body))
}

fn corrupted(reason: String) -> Decoded {
    Decoded::Corrupted { reason }
}

/// Writes the frame envelope around whatever `payload` appends, then patches
/// the length and appends the CRC. Restores `out` on error.
fn encode_raw(
    out: &mut Vec<u8>,
    kind: u8,
    dir: u8,
    conn: u64,
    ts_ns: u64,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), FormatError>,
) -> Result<usize, FormatError> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_LEN_FIELD]);
    out.push(kind);
    out.push(dir);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&conn.to_le_bytes());
    out.extend_from_slice(&ts_ns.to_le_bytes());
    if let Err(e) = payload(out) {
        out.truncate(start);
        return Err(e);
    }
    let payload_len = out.len() - start - FRAME_PAYLOAD_START;
    let body_len = FRAME_FIXED_BODY + payload_len;
    let Some(body_len_u32) = u32::try_from(body_len)
        .ok()
        .filter(|_| payload_len <= MAX_PAYLOAD)
    else {
        out.truncate(start);
        return Err(FormatError::PayloadTooLarge(payload_len));
    };
    out[start..start + FRAME_LEN_FIELD].copy_from_slice(&body_len_u32.to_le_bytes());
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out.len() - start)
}

fn encode_text(
    out: &mut Vec<u8>,
    kind: u8,
    conn: u64,
    ts_ns: u64,
    text: &str,
) -> Result<usize, FormatError> {
    encode_raw(out, kind, DIR_NONE, conn, ts_ns, |o| {
        o.extend_from_slice(text.as_bytes());
        Ok(())
    })
}

/// Appends `value` as JSON. Cannot fail for the plain structs of this module,
/// but a future field type could, so the error is typed rather than unwrapped.
pub(super) fn to_json<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), FormatError> {
    serde_json::to_writer(out, value).map_err(|e| FormatError::Encode(e.to_string()))
}

/// Little-endian u16 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u16(buf: &[u8], at: usize) -> u16 {
    let mut b = [0; 2];
    b.copy_from_slice(&buf[at..at + 2]);
    u16::from_le_bytes(b)
}

/// Little-endian u32 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Little-endian u64 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(conn: u64, ts_ns: u64, body: FrameBody) -> Frame {
        Frame { conn, ts_ns, body }
    }

    /// Re-seals `bytes` (one frame) with a correct CRC after a test edit, so
    /// the payload checks behind the CRC can be reached.
    fn reseal(bytes: &mut Vec<u8>) {
        let end = bytes.len() - CRC_LEN;
        let crc = crc32c::crc32c(&bytes[..end]);
        bytes[end..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn data_frame_golden_bytes() {
        let f = frame(
            7,
            0x0102,
            FrameBody::Data {
                dir: Direction::S2c,
                payload: Bytes::from_static(b"hi"),
            },
        );
        let mut out = Vec::new();
        assert_eq!(encode_frame(&f, &mut out).unwrap(), 30);
        let mut expected = vec![22, 0, 0, 0, KIND_DATA, DIR_S2C, 0, 0];
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&0x0102u64.to_le_bytes());
        expected.extend_from_slice(b"hi");
        expected.extend_from_slice(&crc32c::crc32c(&expected).to_le_bytes());
        assert_eq!(out, expected);
        assert_eq!(
            decode_frame(&out),
            Decoded::Item {
                item: Item::Frame(f),
                len: 30
            }
        );
    }

    #[test]
    fn loss_payload_is_count_then_reason() {
        let f = frame(
            3,
            9,
            FrameBody::Loss {
                dir: Direction::C2s,
                bytes: 4096,
                reason: "disk full".into(),
            },
        );
        let mut out = Vec::new();
        encode_frame(&f, &mut out).unwrap();
        assert_eq!(
            &out[FRAME_PAYLOAD_START..FRAME_PAYLOAD_START + 8],
            &4096u64.to_le_bytes()
        );
        assert_eq!(&out[FRAME_PAYLOAD_START + 8..out.len() - 4], b"disk full");
    }

    #[test]
    fn prefixes_need_more_and_extra_bytes_are_left_alone() {
        let mut out = Vec::new();
        let len = encode_frame(
            &frame(
                1,
                2,
                FrameBody::Close {
                    reason: "bye".into(),
                },
            ),
            &mut out,
        )
        .unwrap();
        for cut in 0..len {
            assert!(
                matches!(decode_frame(&out[..cut]), Decoded::NeedMore { needed } if needed > cut && needed <= len)
            );
        }
        out.extend_from_slice(b"next frame");
        assert!(matches!(decode_frame(&out), Decoded::Item { len: l, .. } if l == len));
    }

    #[test]
    fn rejects_bad_frames_with_a_reason() {
        let mut base = Vec::new();
        encode_frame(
            &frame(
                1,
                2,
                FrameBody::HalfClose {
                    dir: Direction::C2s,
                },
            ),
            &mut base,
        )
        .unwrap();
        let cases: Vec<(&str, Box<dyn Fn(&mut Vec<u8>)>)> = vec![
            ("shorter than", Box::new(|b| b[0] = 19)),
            (
                "exceeds the limit",
                Box::new(|b| b[..4].copy_from_slice(&u32::MAX.to_le_bytes())),
            ),
            ("checksum mismatch", Box::new(|b| b[10] ^= 1)),
            (
                "invalid direction",
                Box::new(|b| {
                    b[OFF_DIR] = 3;
                    reseal(b)
                }),
            ),
            (
                "invalid direction",
                Box::new(|b| {
                    b[OFF_DIR] = DIR_NONE;
                    reseal(b)
                }),
            ),
            (
                "shorter than its",
                Box::new(|b| {
                    b[OFF_KIND] = KIND_LOSS;
                    reseal(b)
                }),
            ),
            (
                "not valid JSON",
                Box::new(|b| {
                    b[OFF_KIND] = KIND_OPEN;
                    reseal(b)
                }),
            ),
            (
                "not valid JSON",
                Box::new(|b| {
                    b[OFF_KIND] = KIND_FOOTER;
                    reseal(b)
                }),
            ),
        ];
        for (want, edit) in cases {
            let mut b = base.clone();
            edit(&mut b);
            match decode_frame(&b) {
                Decoded::Corrupted { reason } => {
                    assert!(reason.contains(want), "{reason} !~ {want}")
                }
                other => panic!("expected corruption {want:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn text_must_be_utf8() {
        let mut b = Vec::new();
        encode_frame(
            &frame(0, 0, FrameBody::Annotation { text: "ab".into() }),
            &mut b,
        )
        .unwrap();
        b[FRAME_PAYLOAD_START] = 0xff;
        reseal(&mut b);
        assert!(
            matches!(decode_frame(&b), Decoded::Corrupted { reason } if reason.contains("UTF-8"))
        );
    }

    #[test]
    fn unknown_kind_with_valid_crc_is_skippable() {
        let mut b = Vec::new();
        let len = encode_frame(
            &frame(0, 0, FrameBody::Annotation { text: "x".into() }),
            &mut b,
        )
        .unwrap();
        b[OFF_KIND] = 200;
        reseal(&mut b);
        assert_eq!(
            decode_frame(&b),
            Decoded::Item {
                item: Item::Unknown { kind: 200 },
                len
            }
        );
    }

    #[test]
    fn payload_limit_is_enforced_and_out_is_restored() {
        let mut out = b"keep".to_vec();
        let big = Bytes::from(vec![0; MAX_PAYLOAD + 1]);
        let data = frame(
            1,
            0,
            FrameBody::Data {
                dir: Direction::C2s,
                payload: big,
            },
        );
        assert!(
            matches!(encode_frame(&data, &mut out), Err(FormatError::PayloadTooLarge(n)) if n == MAX_PAYLOAD + 1)
        );
        let close = frame(
            1,
            0,
            FrameBody::Close {
                reason: "x".repeat(MAX_PAYLOAD + 1),
            },
        );
        assert!(matches!(
            encode_frame(&close, &mut out),
            Err(FormatError::PayloadTooLarge(_))
        ));
        assert_eq!(out, b"keep");
        let max = frame(
            1,
            0,
            FrameBody::Data {
                dir: Direction::C2s,
                payload: Bytes::from(vec![0; MAX_PAYLOAD]),
            },
        );
        out.clear();
        encode_frame(&max, &mut out).unwrap();
        assert!(
            matches!(decode_frame(&out), Decoded::Item { item: Item::Frame(f), .. } if f == max)
        );
    }
}
