//! Writer faults: oversized payloads and sinks that run out of space or
//! fail to sync. Errors surface typed, with the OS error kept; no panics.

use std::io::{self, Cursor, ErrorKind, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

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

#[test]
fn payload_limit_is_enforced_and_out_is_restored() {
    let data = |n| FrameBody::Data {
        dir: Direction::C2s,
        payload: Bytes::from(vec![0; n]),
    };
    let too_big = [
        data(MAX_PAYLOAD + 1),
        FrameBody::Close {
            reason: "x".repeat(MAX_PAYLOAD + 1),
        },
    ];
    let mut out = b"keep".to_vec();
    for body in too_big {
        let err = encode_frame(
            &Frame {
                conn: 1,
                ts_ns: 0,
                body,
            },
            &mut out,
        );
        assert!(matches!(err, Err(FormatError::PayloadTooLarge(n)) if n == MAX_PAYLOAD + 1));
    }
    assert_eq!(out, b"keep");
    let max = Frame {
        conn: 1,
        ts_ns: 0,
        body: data(MAX_PAYLOAD),
    };
    let mut out = Vec::new();
    encode_frame(&max, &mut out).unwrap();
    assert!(matches!(decode_frame(&out), Decoded::Item { item: Item::Frame(f), .. } if f == max));
}

/// A sink that accepts `budget` more bytes, then fails with ENOSPC; its
/// sync can be made to fail with EIO.
pub(super) struct FullDisk {
    pub(super) data: Vec<u8>,
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

pub(super) fn full_disk(budget: usize) -> (FullDisk, Arc<AtomicUsize>) {
    let budget = Arc::new(AtomicUsize::new(budget));
    let sink = FullDisk {
        data: Vec::new(),
        budget: budget.clone(),
        fail_sync: false,
    };
    (sink, budget)
}

pub(super) fn is_enospc(e: &FormatError) -> bool {
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

#[test]
fn oversized_connection_table_is_left_out_of_the_footer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.reel");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = RecordingWriter::new(file, &header()).unwrap();
    let open = OpenInfo {
        client: "c".repeat(MAX_PAYLOAD - 200),
        ..OpenInfo::default()
    };
    w.write_frame(&f(1, 1, FrameBody::Open(open))).unwrap();
    let (_, footer) = w.finish(0, "stopped", None).unwrap();
    assert!(footer.connection_detail_omitted);
    assert!(footer.connections.is_empty());
    assert_eq!((footer.summary.frames, footer.summary.connections), (1, 1));
    let (_, listed) = read_footer(&path).unwrap().expect("the file ends cleanly");
    assert_eq!(listed, footer);
    let scan = scan_file(&path).unwrap();
    assert_eq!((scan.summary.frames, scan.connections.len()), (1, 1));
    assert_eq!(scan.end, End::Complete(footer));
}

#[test]
fn many_connections_finish_without_the_table() {
    // ~120 bytes of table per connection: 200,000 pass 16 MiB.
    let mut w = RecordingWriter::new(Vec::new(), &header()).unwrap();
    let n = 200_000u64;
    for conn in 1..=n {
        let open = OpenInfo {
            client: format!("10.0.{}.{}:{}", conn / 65536, conn % 256, conn % 65536),
            proxy_id: "pcap-import".into(),
            upstream: "10.0.0.2:15630".into(),
            ..OpenInfo::default()
        };
        w.write_frame(&f(conn, conn, FrameBody::Open(open)))
            .unwrap();
    }
    let (bytes, footer) = w.finish(0, "imported", None).unwrap();
    assert!(footer.connection_detail_omitted);
    assert_eq!(footer.summary.connections, n);
    let (frames, end) = read_all(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!(frames.len() as u64, n);
    assert_eq!(end, End::Complete(footer));
}
