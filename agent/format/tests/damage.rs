//! Damaged files: cut anywhere, a byte flipped anywhere, unknown frames,
//! bytes after the trailer. Damage is always a value, never a panic and
//! never a silently different frame.

use std::io::Cursor;

use super::*;

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
pub(super) fn assert_detected(w: &Written, frames: &[Frame], damaged: &[u8], pos: usize) {
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
