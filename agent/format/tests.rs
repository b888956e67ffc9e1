//! Whole-format tests: writer and reader together, damage at every byte,
//! fault-injecting sinks, and proptest round trips.

use std::io::{self, Cursor, ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

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
    struct FailOnce<'a>(&'a [u8], usize);
    impl Read for FailOnce<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.len() <= self.1 {
                self.1 = 0;
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
    let mut r = RecordingReader::open(FailOnce(&w.bytes, fail_below)).unwrap();
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

#[test]
fn file_without_footer_is_truncated_with_nothing_cut() {
    let w = write(&every_kind(), false);
    let (got, end) = read_all(Cursor::new(&w.bytes)).unwrap();
    assert_eq!(got, every_kind());
    let valid_bytes = w.bytes.len() as u64;
    assert_eq!(
        end,
        End::Truncated {
            valid_bytes,
            cut_bytes: 0
        }
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.reel");
    std::fs::write(&path, &w.bytes).unwrap();
    assert_eq!(read_footer(&path).unwrap(), None);
    let scan = scan_file(&path).unwrap();
    assert_eq!(scan.summary.frames, 9);
    assert_eq!(scan.connections.len(), 2);
    assert_eq!(
        scan.end,
        End::Truncated {
            valid_bytes,
            cut_bytes: 0
        }
    );
}

#[test]
fn file_cut_mid_frame_reports_cut_bytes_exactly() {
    let w = write(&every_kind(), false);
    let cut_at = w.starts[4] + 7;
    let (got, end) = read_all(Cursor::new(&w.bytes[..cut_at as usize])).unwrap();
    assert_eq!(got, every_kind()[..4]);
    assert_eq!(
        end,
        End::Truncated {
            valid_bytes: w.starts[4],
            cut_bytes: 7
        }
    );
}

/// Cutting the file anywhere yields exactly the frames that fit, then
/// `Truncated` at the last boundary; inside the header, a header error.
#[test]
fn truncation_at_every_offset() {
    let frames = every_kind();
    let mut w = write(&frames, true);
    with_trailer_start(&mut w);
    let header_len = w.starts[0] as usize;
    for cut in 0..w.bytes.len() {
        let result = read_all(Cursor::new(&w.bytes[..cut]));
        if cut < header_len {
            assert!(matches!(result, Err(FormatError::HeaderTruncated(n)) if n == cut as u64));
            continue;
        }
        let (got, end) = result.unwrap();
        let boundary = *w.starts.iter().rev().find(|&&s| s <= cut as u64).unwrap();
        let complete = w.starts.iter().filter(|&&s| s <= cut as u64).count() - 1;
        assert_eq!(got, frames[..complete.min(frames.len())], "cut {cut}");
        let cut_bytes = cut as u64 - boundary;
        assert_eq!(
            end,
            End::Truncated {
                valid_bytes: boundary,
                cut_bytes
            },
            "cut {cut}"
        );
    }
}

/// Asserts that `damaged` (the `w` recording with byte `pos` changed) is
/// reported as damage at the right place, never as different frames.
fn assert_detected(w: &Written, frames: &[Frame], damaged: &[u8], pos: usize) {
    let header_len = w.starts[0] as usize;
    let result = read_all(Cursor::new(damaged));
    if pos < header_len {
        assert!(
            !matches!(result, Ok(_) | Err(FormatError::Io(_))),
            "byte {pos}: {result:?}"
        );
        return;
    }
    let (got, end) = result.unwrap();
    // Index of the damaged frame (frames.len() = the footer, +1 = trailer).
    let k = w.starts.iter().filter(|&&s| s <= pos as u64).count() - 1;
    let start = w.starts.get(k).copied().unwrap_or(0);
    assert_eq!(got, frames[..k.min(frames.len())], "byte {pos}");
    match end {
        End::Corrupted {
            offset,
            valid_bytes,
            ..
        } => {
            assert_eq!((offset, valid_bytes), (start, start), "byte {pos}");
        }
        // A damaged length can claim more bytes than the file holds, which
        // is indistinguishable from a cut; only the length field may do so.
        End::Truncated { valid_bytes, .. } if (pos as u64) < start + 4 => {
            assert_eq!(valid_bytes, start, "byte {pos}");
        }
        other => panic!("byte {pos}: undetected damage, ended {other:?}"),
    }
}

#[test]
fn flipping_any_byte_is_detected() {
    let frames = every_kind();
    let mut w = write(&frames, true);
    with_trailer_start(&mut w);
    for pos in 0..w.bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut damaged = w.bytes.clone();
            damaged[pos] ^= mask;
            assert_detected(&w, &frames, &damaged, pos);
        }
    }
}

#[test]
fn unknown_kinds_are_skipped() {
    let w = write(&every_kind()[..2], false);
    let mut bytes = w.bytes.clone();
    let mut extra = Vec::new();
    encode_frame(
        &f(
            1,
            1,
            FrameBody::Annotation {
                text: "future".into(),
            },
        ),
        &mut extra,
    )
    .unwrap();
    extra[4] = 42;
    let end = extra.len() - 4;
    let crc = crc32c::crc32c(&extra[..end]);
    extra[end..].copy_from_slice(&crc.to_le_bytes());
    bytes.splice(w.starts[1] as usize..w.starts[1] as usize, extra);
    let (got, end) = read_all(Cursor::new(&bytes)).unwrap();
    assert_eq!(got, every_kind()[..2]);
    assert!(matches!(end, End::Truncated { cut_bytes: 0, .. }));
}

#[test]
fn bytes_after_the_trailer_are_reported() {
    let mut w = write(&every_kind(), true);
    let len = w.bytes.len() as u64;
    w.bytes.push(0);
    let (_, end) = read_all(Cursor::new(&w.bytes)).unwrap();
    assert!(
        matches!(end, End::Corrupted { offset, valid_bytes, .. } if offset == len && valid_bytes == len)
    );
}

#[test]
fn writer_rejects_oversized_payload_and_stays_usable() {
    let mut w = RecordingWriter::new(Vec::new(), &header()).unwrap();
    let before = w.position();
    let big = Bytes::from(vec![0; MAX_PAYLOAD + 1]);
    let frame = f(
        1,
        0,
        FrameBody::Data {
            dir: Direction::C2s,
            payload: big,
        },
    );
    assert!(matches!(
        w.write_frame(&frame),
        Err(FormatError::PayloadTooLarge(_))
    ));
    assert_eq!((w.position(), w.summary().frames), (before, 0));
    w.write_frame(&every_kind()[1]).unwrap();
    assert_eq!(w.summary().frames, 1);
}

/// A sink that accepts `budget` more bytes, then fails with ENOSPC; its
/// sync can be made to fail with EIO.
struct FullDisk {
    data: Vec<u8>,
    budget: Arc<AtomicUsize>,
    fail_sync: bool,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(io::Error::from_raw_os_error(28));
        }
        let n = buf.len().min(left);
        self.budget.fetch_sub(n, Ordering::SeqCst);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for FullDisk {
    fn sync(&mut self) -> io::Result<()> {
        match self.fail_sync {
            true => Err(io::Error::from_raw_os_error(5)),
            false => Ok(()),
        }
    }
}

fn full_disk(budget: usize) -> (FullDisk, Arc<AtomicUsize>) {
    let budget = Arc::new(AtomicUsize::new(budget));
    let sink = FullDisk {
        data: Vec::new(),
        budget: budget.clone(),
        fail_sync: false,
    };
    (sink, budget)
}

fn is_enospc(e: &FormatError) -> bool {
    matches!(e, FormatError::Io(io) if io.raw_os_error() == Some(28) && io.kind() == ErrorKind::StorageFull)
}

#[test]
fn disk_full_mid_frame_is_an_error_then_the_writer_refuses() {
    let frames = every_kind();
    let clean = write(&frames, false);
    let torn_at = clean.starts[3];
    let (sink, _) = full_disk(torn_at as usize + 5);
    let mut w = RecordingWriter::new(sink, &header()).unwrap();
    let results: Vec<_> = frames.iter().map(|frame| w.write_frame(frame)).collect();
    assert!(results[..3].iter().all(Result::is_ok));
    assert!(
        is_enospc(results[3].as_ref().unwrap_err()),
        "{:?}",
        results[3]
    );
    for r in &results[4..] {
        assert!(matches!(r, Err(FormatError::TornWrite { offset }) if *offset == torn_at));
    }
    assert_eq!(w.position(), torn_at + 5);
    let (got, end) = read_all(Cursor::new(&w.get_ref().data)).unwrap();
    assert_eq!(got, frames[..3]);
    assert_eq!(
        end,
        End::Truncated {
            valid_bytes: torn_at,
            cut_bytes: 5
        }
    );
    assert!(matches!(
        w.finish(0, "x", None),
        Err(FormatError::TornWrite { .. })
    ));
}

#[test]
fn disk_full_between_frames_leaves_the_writer_usable() {
    let frames = every_kind();
    let clean = write(&frames, true);
    let (sink, budget) = full_disk(clean.starts[2] as usize);
    let mut w = RecordingWriter::new(sink, &header()).unwrap();
    w.write_frame(&frames[0]).unwrap();
    w.write_frame(&frames[1]).unwrap();
    assert!(is_enospc(&w.write_frame(&frames[2]).unwrap_err()));
    budget.store(usize::MAX, Ordering::SeqCst);
    for frame in &frames[2..] {
        w.write_frame(frame).unwrap();
    }
    let (sink, footer) = w
        .finish(1_700_000_001_000_000_000, "stopped by user", None)
        .unwrap();
    assert_eq!(sink.data, clean.bytes);
    assert_eq!(Some(footer), clean.footer);
}

#[test]
fn header_and_sync_failures_surface_as_io() {
    let (sink, _) = full_disk(3);
    assert!(is_enospc(
        &RecordingWriter::new(sink, &header()).err().unwrap()
    ));
    let (mut sink, _) = full_disk(usize::MAX);
    sink.fail_sync = true;
    let mut w = RecordingWriter::new(sink, &header()).unwrap();
    w.write_frame(&every_kind()[0]).unwrap();
    let err = w.finish(0, "x", None).err().unwrap();
    assert!(matches!(err, FormatError::Io(e) if e.raw_os_error() == Some(5)));
}

fn arb_dir() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::C2s), Just(Direction::S2c)]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let open = (
        any::<String>(),
        any::<String>(),
        any::<bool>(),
        any::<i64>(),
    )
        .prop_map(|(client, upstream, mid_session, opened_unix_ns)| {
            let proxy_id = "p1".into();
            FrameBody::Open(OpenInfo {
                client,
                proxy_id,
                upstream,
                mid_session,
                opened_unix_ns,
            })
        });
    let body = prop_oneof![
        open,
        (arb_dir(), vec(any::<u8>(), 0..64)).prop_map(|(dir, p)| FrameBody::Data {
            dir,
            payload: Bytes::from(p)
        }),
        arb_dir().prop_map(|dir| FrameBody::HalfClose { dir }),
        any::<String>().prop_map(|reason| FrameBody::Close { reason }),
        (arb_dir(), any::<u64>(), any::<String>())
            .prop_map(|(dir, bytes, reason)| FrameBody::Loss { dir, bytes, reason }),
        any::<String>().prop_map(|text| FrameBody::Annotation { text }),
    ];
    (0u64..4, any::<u64>(), body).prop_map(|(conn, ts_ns, body)| Frame { conn, ts_ns, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_frames_round_trip(frames in vec(arb_frame(), 0..12), finish: bool) {
        let w = write(&frames, finish);
        let (got, end) = read_all(Cursor::new(&w.bytes)).unwrap();
        prop_assert_eq!(got, frames);
        match w.footer {
            Some(footer) => prop_assert_eq!(end, End::Complete(footer)),
            None => prop_assert!(matches!(end, End::Truncated { cut_bytes: 0, .. }), "{:?}", end),
        }
    }

    #[test]
    fn arbitrary_cut_keeps_the_complete_prefix(frames in vec(arb_frame(), 1..8), cut in any::<prop::sample::Index>()) {
        let w = write(&frames, false);
        let cut = w.starts[0] as usize + cut.index(w.bytes.len() - w.starts[0] as usize);
        let (got, end) = read_all(Cursor::new(&w.bytes[..cut])).unwrap();
        let complete = w.starts.iter().filter(|&&s| s <= cut as u64).count() - 1;
        prop_assert_eq!(got, frames[..complete].to_vec());
        let boundary = w.starts[complete];
        prop_assert_eq!(end, End::Truncated { valid_bytes: boundary, cut_bytes: cut as u64 - boundary });
    }

    #[test]
    fn arbitrary_flip_is_detected(frames in vec(arb_frame(), 1..8), pos in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let mut w = write(&frames, true);
        with_trailer_start(&mut w);
        let pos = pos.index(w.bytes.len());
        let mut damaged = w.bytes.clone();
        damaged[pos] ^= mask;
        assert_detected(&w, &frames, &damaged, pos);
    }
}
