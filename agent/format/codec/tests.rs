//! Tests of the frame codec: round trips, every corruption a reader must
//! name, and the encoder's limits.

use super::*;
use crate::format::layout::{DIR_C2S, DIR_S2C};

fn encode(conn: u64, ts_ns: u64, body: FrameBody) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&Frame { conn, ts_ns, body }, &mut out).unwrap();
    out
}

fn text(s: &str) -> String {
    s.to_owned()
}

/// Re-seals `bytes` (one frame) with a correct CRC after a test edit, so
/// the payload checks behind the CRC can be reached.
fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - CRC_LEN;
    let crc = crc32c::crc32c(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_head_the_payload_and_the_crc_are_the_whole_frame() {
    let frames = [
        FrameBody::Data {
            dir: Direction::C2s,
            payload: Bytes::from(vec![0xa5; 70_000]),
        },
        FrameBody::Data {
            dir: Direction::S2c,
            payload: Bytes::new(),
        },
        FrameBody::Close {
            reason: text("client closed"),
        },
    ];
    for body in frames {
        let frame = Frame {
            conn: 3,
            ts_ns: 99,
            body,
        };
        let mut split = vec![1, 2, 3];
        match encode_frame_head(&frame, &mut split).unwrap() {
            Some(crc) => {
                let FrameBody::Data { payload, .. } = &frame.body else {
                    panic!("only DATA payloads are left out");
                };
                split.extend_from_slice(payload);
                split.extend_from_slice(&crc);
            }
            None => assert!(!matches!(frame.body, FrameBody::Data { .. })),
        }
        let mut whole = vec![1, 2, 3];
        encode_frame(&frame, &mut whole).unwrap();
        assert_eq!(split, whole);
    }
}

#[test]
fn data_frame_golden_bytes() {
    let payload = Bytes::from_static(b"hi");
    let body = FrameBody::Data {
        dir: Direction::S2c,
        payload,
    };
    let out = encode(7, 0x0102, body.clone());
    // Literal bytes, so a change to the layout or the checksum fails here.
    #[rustfmt::skip]
    let expected = [
        0x16, 0, 0, 0, KIND_DATA, DIR_S2C, 0, 0, // body_len 22, kind, dir, reserved
        7, 0, 0, 0, 0, 0, 0, 0, // conn
        0x02, 0x01, 0, 0, 0, 0, 0, 0, // ts_ns
        b'h', b'i', // payload
        0x26, 0xbd, 0xe3, 0x01, // CRC32C
    ];
    assert_eq!(out, expected);
    let frame = Frame {
        conn: 7,
        ts_ns: 0x0102,
        body,
    };
    let item = Item::Frame(frame);
    assert_eq!(decode_frame(&out), Decoded::Item { item, len: 30 });
}

#[test]
fn loss_payload_is_count_then_reason() {
    let reason = text("disk full");
    let out = encode(
        3,
        9,
        FrameBody::Loss {
            dir: Direction::C2s,
            bytes: 4096,
            reason,
        },
    );
    let payload = &out[FRAME_PAYLOAD_START..out.len() - CRC_LEN];
    assert_eq!(payload[..8], 4096u64.to_le_bytes());
    assert_eq!(&payload[8..], b"disk full");
}

#[test]
fn prefixes_need_more_and_extra_bytes_are_left_alone() {
    let mut out = encode(
        1,
        2,
        FrameBody::Close {
            reason: text("bye"),
        },
    );
    let len = out.len();
    for cut in 0..len {
        let got = decode_frame(&out[..cut]);
        assert!(matches!(got, Decoded::NeedMore { needed } if needed > cut && needed <= len));
    }
    out.extend_from_slice(b"next frame");
    assert!(matches!(decode_frame(&out), Decoded::Item { len: l, .. } if l == len));
}

#[test]
fn rejects_bad_frames_with_a_reason() {
    let base = encode(1, 2, FrameBody::Close { reason: text("ab") });
    // (what the reason says, bytes to set, re-seal the CRC afterwards)
    type Edits = &'static [(usize, u8)];
    let cases: [(&str, Edits, bool); 9] = [
        ("shorter than the", &[(0, 19)], false),
        ("exceeds the limit", &[(3, 0xff)], false),
        ("checksum mismatch", &[(10, 1)], false),
        (
            "invalid direction 3",
            &[(OFF_KIND, KIND_DATA), (OFF_DIR, 3)],
            true,
        ),
        ("invalid direction 0", &[(OFF_KIND, KIND_HALF_CLOSE)], true),
        (
            "shorter than its",
            &[(OFF_KIND, KIND_LOSS), (OFF_DIR, DIR_C2S)],
            true,
        ),
        (
            "OPEN payload is not valid JSON",
            &[(OFF_KIND, KIND_OPEN)],
            true,
        ),
        (
            "FOOTER payload is not valid JSON",
            &[(OFF_KIND, KIND_FOOTER)],
            true,
        ),
        ("not UTF-8", &[(FRAME_PAYLOAD_START, 0xff)], true),
    ];
    for (want, edits, seal) in cases {
        let mut b = base.clone();
        for &(at, value) in edits {
            b[at] = value;
        }
        if seal {
            reseal(&mut b);
        }
        match decode_frame(&b) {
            Decoded::Corrupted { reason } => assert!(reason.contains(want), "{reason}"),
            other => panic!("expected corruption {want:?}, got {other:?}"),
        }
    }
}

#[test]
fn unknown_kind_with_valid_crc_is_skippable() {
    let mut b = encode(0, 0, FrameBody::Annotation { text: text("x") });
    b[OFF_KIND] = 200;
    reseal(&mut b);
    let item = Item::Unknown { kind: 200 };
    assert_eq!(decode_frame(&b), Decoded::Item { item, len: b.len() });
}
