//! The generated recording of known contents the analysis tests share,
//! and helpers to write and analyse it.

use bytes::Bytes;

use crate::format::{Direction, Frame, FrameBody, Header, OpenInfo, RecordingWriter};
use crate::stats::*;

pub(super) const S: u64 = NS_PER_SEC;

pub(super) fn frame(conn: u64, ts_ns: u64, body: FrameBody) -> Frame {
    Frame { conn, ts_ns, body }
}

pub(super) fn open(client: &str, mid_session: bool) -> FrameBody {
    FrameBody::Open(OpenInfo {
        client: client.into(),
        proxy_id: "p1".into(),
        upstream: "10.0.0.9:5630".into(),
        mid_session,
        opened_unix_ns: 0,
    })
}

pub(super) fn data(dir: Direction, bytes: &[u8]) -> FrameBody {
    FrameBody::Data {
        dir,
        payload: Bytes::copy_from_slice(bytes),
    }
}

/// A u16be message with `body`.
pub(super) fn msg(body: &[u8]) -> Vec<u8> {
    let mut m = (body.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(body);
    m
}

/// When the test recordings start (wall clock).
pub(super) const STARTED_UNIX_NS: i64 = 1_700_000_000_000_000_000;

/// The recording file of `frames`, finished with footer and trailer; it
/// stops at its last frame.
pub(super) fn recording(frames: &[Frame]) -> Vec<u8> {
    let last = frames.iter().map(|f| f.ts_ns).max().unwrap_or(0);
    recording_until(frames, STARTED_UNIX_NS + last as i64)
}

/// The recording file of `frames`, stopped at `ended_unix_ns`.
pub(super) fn recording_until(frames: &[Frame], ended_unix_ns: i64) -> Vec<u8> {
    let header = Header {
        id: "stats-test".into(),
        started_at_unix_ns: STARTED_UNIX_NS,
        ..Header::default()
    };
    let mut w = RecordingWriter::new(Vec::new(), &header).unwrap();
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.finish(ended_unix_ns, "test", None).unwrap().0
}

/// Four connections over 3.9 s:
/// - conn 1 [0.1 s, 2.5 s]: c2s u16be messages of 5, 7, 2 bytes split over two
///   chunks (6 + 8 bytes); s2c one 6-byte chunk = a 3-byte message and 3
///   bytes of an incomplete one;
/// - conn 2 [1.2 s, end): s2c one 100-byte message, c2s one 3-byte message,
///   c2s half-closed, then 50 s2c bytes lost;
/// - conn 3 [2.0 s, 2.1 s]: mid-session, 4 c2s bytes (not framed);
/// - conn 4 [3.5 s, end): no OPEN, one 10-byte s2c message.
pub(super) fn sample() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let c1 = [msg(b"abc"), msg(b"hello"), msg(b"")].concat();
    let mut s1 = msg(b"x");
    s1.extend_from_slice(&[0, 2, b'y']);
    vec![
        frame(
            0,
            0,
            FrameBody::Annotation {
                text: "start".into(),
            },
        ),
        frame(1, S / 10, open("10.0.0.1:40001", false)),
        frame(1, 2 * S / 10, data(C2s, &c1[..6])),
        frame(1, S / 2, data(S2c, &s1)),
        frame(2, 12 * S / 10, open("10.0.0.2:40002", false)),
        frame(2, 13 * S / 10, data(S2c, &msg(&[7; 98]))),
        frame(1, 15 * S / 10, data(C2s, &c1[6..])),
        frame(3, 2 * S, open("10.0.0.3:40003", true)),
        frame(3, 205 * S / 100, data(C2s, &[9; 4])),
        frame(
            3,
            21 * S / 10,
            FrameBody::Close {
                reason: "upstream reset".into(),
            },
        ),
        frame(
            1,
            25 * S / 10,
            FrameBody::Close {
                reason: "client closed".into(),
            },
        ),
        frame(2, 31 * S / 10, data(C2s, &msg(b"q"))),
        frame(2, 32 * S / 10, FrameBody::HalfClose { dir: C2s }),
        frame(
            2,
            33 * S / 10,
            FrameBody::Loss {
                dir: S2c,
                bytes: 50,
                reason: "queue overflow".into(),
            },
        ),
        frame(4, 35 * S / 10, data(S2c, &msg(&[1; 8]))),
        frame(
            2,
            36 * S / 10,
            FrameBody::Annotation {
                text: "note".into(),
            },
        ),
        frame(0, 39 * S / 10, FrameBody::Annotation { text: "end".into() }),
    ]
}

pub(super) fn analyze(frames: &[Frame], options: AnalyzeOptions) -> Analysis {
    analyze_reader(std::io::Cursor::new(recording(frames)), options).unwrap()
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}
