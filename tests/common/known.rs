//! Recordings of known contents, written with the real writer: the
//! hand-worked sample whose every analysis figure is known, and a tiny
//! one-connection recording.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reel::format::{Direction, Frame, FrameBody, Header, OpenInfo, RecordingWriter};

pub const S: u64 = 1_000_000_000;
pub const ID: &str = "stats-known";

pub fn frame(conn: u64, ts_ns: u64, body: FrameBody) -> Frame {
    Frame { conn, ts_ns, body }
}

pub fn open(client: &str, mid_session: bool) -> FrameBody {
    FrameBody::Open(OpenInfo {
        client: client.into(),
        proxy_id: "p1".into(),
        upstream: "10.0.0.9:5630".into(),
        mid_session,
        opened_unix_ns: 0,
    })
}

pub fn data(dir: Direction, bytes: &[u8]) -> FrameBody {
    FrameBody::Data {
        dir,
        payload: Bytes::copy_from_slice(bytes),
    }
}

pub fn close(reason: &str) -> FrameBody {
    FrameBody::Close {
        reason: reason.into(),
    }
}

/// A u16be message with `body`.
pub fn msg(body: &[u8]) -> Vec<u8> {
    let mut m = (body.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(body);
    m
}

/// Four connections over 3.9 s (the figures below are worked out by hand):
/// - conn 1 [0.1 s, 2.5 s]: c2s u16be messages of 5, 7, 2 bytes in two
///   chunks (6 + 8 bytes); s2c one 6-byte chunk = a 3-byte message and 3
///   bytes of an incomplete one;
/// - conn 2 [1.2 s, end): s2c a 100-byte message, c2s a 3-byte one, c2s
///   half-closed, then 50 s2c bytes lost;
/// - conn 3 [2.0 s, 2.1 s]: mid-session, 4 c2s bytes (not framed);
/// - conn 4 [3.5 s, end): no OPEN, one 10-byte s2c message.
pub fn known_frames() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let c1 = [msg(b"abc"), msg(b"hello"), msg(b"")].concat();
    let mut s1 = msg(b"x");
    s1.extend_from_slice(&[0, 2, b'y']);
    let note = |text: &str| FrameBody::Annotation { text: text.into() };
    vec![
        frame(0, 0, note("start")),
        frame(1, S / 10, open("10.0.0.1:40001", false)),
        frame(1, 2 * S / 10, data(C2s, &c1[..6])),
        frame(1, S / 2, data(S2c, &s1)),
        frame(2, 12 * S / 10, open("10.0.0.2:40002", false)),
        frame(2, 13 * S / 10, data(S2c, &msg(&[7; 98]))),
        frame(1, 15 * S / 10, data(C2s, &c1[6..])),
        frame(3, 2 * S, open("10.0.0.3:40003", true)),
        frame(3, 205 * S / 100, data(C2s, &[9; 4])),
        frame(3, 21 * S / 10, close("upstream reset")),
        frame(1, 25 * S / 10, close("client closed")),
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
        frame(2, 36 * S / 10, note("note")),
        frame(0, 39 * S / 10, note("end")),
    ]
}

/// Writes recording `id` of `frames` at `path`, started at
/// `started_unix_ns` and stopped at `ended_unix_ns`.
pub fn write_recording(
    path: &Path,
    id: &str,
    frames: impl IntoIterator<Item = Frame>,
    started_unix_ns: i64,
    ended_unix_ns: i64,
) {
    let header = Header {
        id: id.into(),
        label: "generated".into(),
        agent_name: "test".into(),
        started_at_unix_ns: started_unix_ns,
        ..Header::default()
    };
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        RecordingWriter::new(std::io::BufWriter::with_capacity(1 << 20, file), &header).unwrap();
    for f in frames {
        w.write_frame(&f).unwrap();
    }
    w.finish(ended_unix_ns, "generated", None).unwrap();
}

/// Writes the known recording as DIR/ID.reel (the name `record push` wants).
pub fn write_known(dir: &Path) -> PathBuf {
    let path = dir.join(format!("{ID}.reel"));
    let header = Header {
        id: ID.into(),
        label: "known".into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        ..Header::default()
    };
    let file = std::fs::File::create(&path).unwrap();
    let mut w = RecordingWriter::new(std::io::BufWriter::new(file), &header).unwrap();
    for f in known_frames() {
        w.write_frame(&f).unwrap();
    }
    w.finish(1_700_000_004_000_000_000, "test", None).unwrap();
    path
}

/// A small valid recording file: one connection, a few bytes each way.
pub fn small_recording(path: &Path) {
    let header = Header {
        id: "small".into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        ..Header::default()
    };
    let mut w = RecordingWriter::new(std::fs::File::create(path).unwrap(), &header).unwrap();
    let data = |ts, dir, payload: &'static [u8]| Frame {
        conn: 1,
        ts_ns: ts,
        body: FrameBody::Data {
            dir,
            payload: Bytes::from_static(payload),
        },
    };
    let open = FrameBody::Open(OpenInfo {
        client: "10.0.0.1:40001".into(),
        proxy_id: "p1".into(),
        upstream: "10.0.0.2:5630".into(),
        mid_session: false,
        opened_unix_ns: 0,
    });
    for f in [
        Frame {
            conn: 1,
            ts_ns: 0,
            body: open,
        },
        data(1_000, Direction::C2s, b"ping"),
        data(2_000, Direction::S2c, b"pong"),
    ] {
        w.write_frame(&f).unwrap();
    }
    w.finish(1_700_000_001_000_000_000, "test", None).unwrap();
}
