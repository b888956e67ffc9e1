//! Staged (vectored) writes: the same file as frame-by-frame writes, and the
//! same guarantees when the sink fails part-way through a batch.

use std::io::Cursor;

use super::faults::{full_disk, is_enospc};
use super::*;

/// Every kind plus a large DATA frame, so payloads go by reference.
fn batch() -> Vec<Frame> {
    let mut frames = every_kind();
    let big = Bytes::from((0..300_000u32).map(|i| i as u8).collect::<Vec<_>>());
    frames.insert(
        3,
        f(
            1,
            33,
            FrameBody::Data {
                dir: Direction::C2s,
                payload: big,
            },
        ),
    );
    frames
}

fn clean(frames: &[Frame]) -> Written {
    write(frames, true)
}

#[test]
fn staged_frames_make_the_same_file_as_frame_by_frame() {
    let frames = batch();
    let expected = clean(&frames);
    let mut w = RecordingWriter::new(Vec::new(), &header()).unwrap();
    // Mixed: staged frames, then a direct write (which writes them first).
    for frame in &frames[..5] {
        w.stage(frame.clone()).unwrap();
    }
    assert_eq!(w.summary().frames, 0, "nothing counts before it is written");
    w.write_frame(&frames[5]).unwrap();
    for frame in &frames[6..] {
        w.stage(frame.clone()).unwrap();
    }
    w.flush().unwrap();
    assert_eq!(w.staged_bytes(), 0);
    let (bytes, footer) = w
        .finish(1_700_000_001_000_000_000, "stopped by user", None)
        .unwrap();
    assert_eq!(bytes, expected.bytes);
    assert_eq!(Some(footer), expected.footer);
}

#[test]
fn a_batch_torn_by_a_full_disk_counts_only_whole_frames() {
    let frames = batch();
    let expected = clean(&frames);
    // Room for the first four frames and 5 bytes of the fifth.
    let torn_at = expected.starts[4];
    let (sink, _) = full_disk(torn_at as usize + 5);
    let mut w = RecordingWriter::new(sink, &header()).unwrap();
    for frame in &frames {
        w.stage(frame.clone()).unwrap();
    }
    let err = w.write_staged().unwrap_err();
    assert!(is_enospc(&err), "{err:?}");
    assert_eq!(w.summary().frames, 4);
    assert_eq!(w.position(), torn_at + 5);
    assert!(matches!(
        w.write_frame(&frames[0]),
        Err(FormatError::TornWrite { offset }) if offset == torn_at
    ));
    let (got, end) = read_all(Cursor::new(&w.get_ref().data)).unwrap();
    assert_eq!(got, frames[..4]);
    assert_eq!(
        end,
        End::Truncated {
            valid_bytes: torn_at,
            cut_bytes: 5
        }
    );
}

#[test]
fn a_full_disk_between_frames_keeps_the_rest_staged() {
    let frames = batch();
    let expected = clean(&frames);
    let (sink, budget) = full_disk(expected.starts[4] as usize);
    let mut w = RecordingWriter::new(sink, &header()).unwrap();
    for frame in &frames {
        w.stage(frame.clone()).unwrap();
    }
    assert!(is_enospc(&w.write_staged().unwrap_err()));
    assert_eq!(w.summary().frames, 4);
    // Space again: nothing was lost, and the file is the same.
    budget.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let (sink, footer) = w
        .finish(1_700_000_001_000_000_000, "stopped by user", None)
        .unwrap();
    assert_eq!(sink.data, expected.bytes);
    assert_eq!(Some(footer), expected.footer);
}
