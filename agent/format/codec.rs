//! The pure frame codec: bytes in, values out.
//!
//! [`encode_frame`] and [`decode_frame`] do no I/O, so the writer, the
//! streaming reader, the footer fast path and the tests all share one
//! implementation of the layout in `layout`.

use bytes::Bytes;
use serde::Serialize;

use super::error::FormatError;
use super::frame::{Decoded, Direction, Frame, FrameBody, Item};
use super::layout::{
    CRC_LEN, DIR_NONE, FRAME_FIXED_BODY, FRAME_LEN_FIELD, FRAME_PAYLOAD_START, KIND_ANNOTATION,
    KIND_CLOSE, KIND_DATA, KIND_DATAGRAM, KIND_FOOTER, KIND_HALF_CLOSE, KIND_LOSS, KIND_OPEN,
    LOSS_COUNT_LEN, MAX_BODY_LEN, MAX_PAYLOAD, OFF_CONN, OFF_DIR, OFF_KIND, OFF_TS, le_u32, le_u64,
};
use super::summary::Footer;

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
            encode_raw(out, KIND_DATA, dir.code(), conn, ts, raw(payload))
        }
        FrameBody::Datagram { dir, payload } => {
            if payload.len() > MAX_PAYLOAD {
                return Err(FormatError::PayloadTooLarge(payload.len()));
            }
            encode_raw(out, KIND_DATAGRAM, dir.code(), conn, ts, raw(payload))
        }
        FrameBody::HalfClose { dir } => {
            encode_raw(out, KIND_HALF_CLOSE, dir.code(), conn, ts, |_| Ok(()))
        }
        FrameBody::Close { reason } => {
            encode_raw(out, KIND_CLOSE, DIR_NONE, conn, ts, raw(reason.as_bytes()))
        }
        FrameBody::Loss { dir, bytes, reason } => {
            encode_raw(out, KIND_LOSS, dir.code(), conn, ts, |o| {
                o.extend_from_slice(&bytes.to_le_bytes());
                o.extend_from_slice(reason.as_bytes());
                Ok(())
            })
        }
        FrameBody::Annotation { text } => encode_raw(
            out,
            KIND_ANNOTATION,
            DIR_NONE,
            conn,
            ts,
            raw(text.as_bytes()),
        ),
    }
}

/// Appends `frame` like [`encode_frame`], except that a DATA or DATAGRAM
/// frame's payload
/// is left out: the caller writes the payload after what was appended and
/// then the returned CRC, so the bytes go from the chunk's own memory to the
/// file in one vectored write, without a copy. Other kinds are appended
/// whole (`None`).
///
/// # Errors
/// [`FormatError::PayloadTooLarge`] as for [`encode_frame`]; `out` is then
/// left as it was.
pub fn encode_frame_head(frame: &Frame, out: &mut Vec<u8>) -> Result<Option<[u8; 4]>, FormatError> {
    let (kind, dir, payload) = match &frame.body {
        FrameBody::Data { dir, payload } => (KIND_DATA, dir, payload),
        FrameBody::Datagram { dir, payload } => (KIND_DATAGRAM, dir, payload),
        _ => {
            encode_frame(frame, out)?;
            return Ok(None);
        }
    };
    let body_len = FRAME_FIXED_BODY + payload.len();
    let body_len = u32::try_from(body_len)
        .ok()
        .filter(|_| payload.len() <= MAX_PAYLOAD)
        .ok_or(FormatError::PayloadTooLarge(payload.len()))?;
    let start = out.len();
    head(out, body_len, kind, dir.code(), frame.conn, frame.ts_ns);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[start..]), payload);
    Ok(Some(crc.to_le_bytes()))
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
    let payload = &buf[FRAME_PAYLOAD_START..len - CRC_LEN];
    let frame = |body| Frame {
        conn: le_u64(buf, OFF_CONN),
        ts_ns: le_u64(buf, OFF_TS),
        body,
    };
    match decode_payload(buf[OFF_KIND], buf[OFF_DIR], payload, frame) {
        Ok(item) => Decoded::Item { item, len },
        Err(reason) => corrupted(reason),
    }
}

/// Interprets a checksum-valid payload. Errors here mean a writer bug or a
/// checksum collision; either way the frame cannot be trusted.
fn decode_payload(
    kind: u8,
    dir: u8,
    payload: &[u8],
    frame: impl FnOnce(FrameBody) -> Frame,
) -> Result<Item, String> {
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
        KIND_DATAGRAM => FrameBody::Datagram {
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
                .map(Item::Footer)
                .map_err(|e| format!("FOOTER payload is not valid JSON: {e}"));
        }
        _ => return Ok(Item::Unknown { kind }),
    };
    Ok(Item::Frame(frame(body)))
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
    head(out, 0, kind, dir, conn, ts_ns);
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

/// Appends a frame's length field and fixed body (everything before the
/// payload).
fn head(out: &mut Vec<u8>, body_len: u32, kind: u8, dir: u8, conn: u64, ts_ns: u64) {
    out.extend_from_slice(&body_len.to_le_bytes());
    out.push(kind);
    out.push(dir);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&conn.to_le_bytes());
    out.extend_from_slice(&ts_ns.to_le_bytes());
}

/// A payload that is just these bytes.
fn raw(bytes: &[u8]) -> impl FnOnce(&mut Vec<u8>) -> Result<(), FormatError> + '_ {
    move |o| {
        o.extend_from_slice(bytes);
        Ok(())
    }
}

/// Appends `value` as JSON. Cannot fail for the plain structs of this module,
/// but a future field type could, so the error is typed rather than unwrapped.
pub(super) fn to_json<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), FormatError> {
    serde_json::to_writer(out, value).map_err(|e| FormatError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests;
