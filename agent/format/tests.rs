//! Whole-format tests: writer and reader together. This file holds the
//! shared fixtures and the round trips; `tests/` holds damage (every cut,
//! every flipped byte), writer faults (failing sinks) and proptests.

mod damage;
mod datagrams;
mod faults;
mod props;
mod segments;
mod staged;

use std::io::{self, Cursor, ErrorKind, Read};

use bytes::Bytes;

use super::*;

fn header() -> Header {
    Header {
        id: "rec-1".into(),
        label: "raid night".into(),
        agent_name: "host-a".into(),
        agent_id: "a1".into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        proxies: vec![ProxyMeta {
            id: "p1".into(),
            name: "game".into(),
            listen: "0.0.0.0:15631".into(),
            upstream: "10.0.0.2:15630".into(),
            transport: Transport::Tcp,
        }],
    }
}

fn f(conn: u64, ts_ns: u64, body: FrameBody) -> Frame {
    Frame { conn, ts_ns, body }
}

fn data(conn: u64, ts_ns: u64, dir: Direction, bytes: &'static [u8]) -> Frame {
    let payload = Bytes::from_static(bytes);
    f(conn, ts_ns, FrameBody::Data { dir, payload })
}

/// One frame of every kind, over two connections.
fn every_kind() -> Vec<Frame> {
    let open = OpenInfo {
        client: "1.2.3.4:5000".into(),
        proxy_id: "p1".into(),
        upstream: "10.0.0.2:15630".into(),
        mid_session: false,
        opened_unix_ns: 1_700_000_000_000_000_010,
        transport: Transport::Tcp,
    };
    let text = |s: &str| s.to_owned();
    vec![
        f(1, 10, FrameBody::Open(open)),
        data(1, 20, Direction::C2s, b"login"),
        data(1, 30, Direction::S2c, b"welcome!"),
        data(2, 35, Direction::S2c, b"mid"),
        f(
            0,
            40,
            FrameBody::Annotation {
                text: text("boss spawned"),
            },
        ),
        f(
            2,
            45,
            FrameBody::Loss {
                dir: Direction::S2c,
                bytes: 512,
                reason: text("queue full"),
            },
        ),
        f(
            1,
            50,
            FrameBody::HalfClose {
                dir: Direction::C2s,
            },
        ),
        data(1, 55, Direction::S2c, b""),
        f(
            1,
            60,
            FrameBody::Close {
                reason: text("client closed"),
            },
        ),
    ]
}

/// A recording in memory plus where each frame starts; the last entry of
/// `starts` is the footer's offset when finished, else the file end.
struct Written {
    bytes: Vec<u8>,
    starts: Vec<u64>,
    footer: Option<Footer>,
}

fn write(frames: &[Frame], finish: bool) -> Written {
    let mut w = RecordingWriter::new(Vec::new(), &header()).unwrap();
    let mut starts = vec![w.position()];
    for frame in frames {
        w.write_frame(frame).unwrap();
        starts.push(w.position());
    }
    if !finish {
        let bytes = w.get_ref().clone();
        return Written {
            bytes,
            starts,
            footer: None,
        };
    }
    let (bytes, footer) = w
        .finish(1_700_000_001_000_000_000, "stopped by user", None)
        .unwrap();
    Written {
        bytes,
        starts,
        footer: Some(footer),
    }
}

/// Adds the trailer's offset to `starts`, so it is a boundary like a frame.
fn with_trailer_start(w: &mut Written) {
    w.starts.push(w.bytes.len() as u64 - 16);
}

fn read_all(source: impl Read) -> Result<(Vec<Frame>, End), FormatError> {
    let mut r = RecordingReader::open(source)?;
    assert_eq!(*r.header(), header());
    let mut frames = Vec::new();
    loop {
        match r.next()? {
            Next::Frame(frame) => frames.push(frame),
            Next::End(end) => {
                assert_eq!(r.next()?, Next::End(end.clone()), "End must repeat");
                return Ok((frames, end));
            }
        }
    }
}

#[test]
fn round_trip_every_kind_with_footer() {
    let frames = every_kind();
    let w = write(&frames, true);
    let footer = w.footer.clone().unwrap();
    let (got, end) = read_all(Cursor::new(&w.bytes)).unwrap();
    assert_eq!(got, frames);
    assert_eq!(end, End::Complete(footer.clone()));
    let s = &footer.summary;
    assert_eq!(
        (s.frames, s.connections, s.lost_bytes, s.last_ts_ns),
        (9, 2, 512, 60)
    );
    assert_eq!(
        (s.bytes_c2s, s.bytes_s2c, s.chunks_c2s, s.chunks_s2c),
        (5, 11, 1, 3)
    );
    assert_eq!(footer.connections[0].first_frame_offset, w.starts[0]);
    assert_eq!(footer.connections[1].first_frame_offset, w.starts[3]);
    assert_eq!(footer.end_reason, "stopped by user");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.reel");
    std::fs::write(&path, &w.bytes).unwrap();
    assert_eq!(
        read_footer(&path).unwrap(),
        Some((header(), footer.clone()))
    );
    let scan = scan_file(&path).unwrap();
    assert_eq!(
        (&scan.summary, &scan.connections),
        (&footer.summary, &footer.connections)
    );
    assert_eq!(
        (scan.end, scan.file_size),
        (End::Complete(footer), w.bytes.len() as u64)
    );
}

/// Hands out at most one byte per read and fails every other read with
/// `Interrupted`, to exercise the reader's buffering.
struct Trickle<'a>(&'a [u8], bool);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.1 = !self.1;
        if self.1 {
            return Err(ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.0.len()).min(1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn byte_at_a_time_source_reads_the_same() {
    let w = write(&every_kind(), true);
    let whole = read_all(Cursor::new(&w.bytes)).unwrap();
    assert_eq!(read_all(Trickle(&w.bytes, false)).unwrap(), whole);
}

#[test]
fn reader_io_error_is_retryable() {
    /// Serves 40 bytes per read and fails once when `fail_below` bytes remain.
    struct FailOnce<'a>(&'a [u8], Option<usize>);
    impl Read for FailOnce<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1.is_some_and(|below| self.0.len() <= below) {
                self.1 = None;
                return Err(io::Error::other("flaky disk"));
            }
            let n = buf.len().min(self.0.len()).min(40);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let w = write(&every_kind(), true);
    let fail_below = w.bytes.len() - w.starts[2] as usize;
    let mut r = RecordingReader::open(FailOnce(&w.bytes, Some(fail_below))).unwrap();
    let mut frames = Vec::new();
    let mut errors = 0;
    loop {
        match r.next() {
            Ok(Next::Frame(frame)) => frames.push(frame),
            Ok(Next::End(end)) => {
                assert!(matches!(end, End::Complete(_)));
                break;
            }
            Err(FormatError::Io(_)) => errors += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((frames, errors), (every_kind(), 1));
}
