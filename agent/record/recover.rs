//! Segmented recordings a crash cut short (`kill -9`, a power cut): a
//! `<id>.segments` directory without its index. At start, before anything
//! records, the catalog has each one surveyed as a stop does
//! (`segments::survey_index`) and indexed as cut short: `complete` false,
//! the footer's end reason saying so and the bytes cut counted. So such a
//! recording is no longer "in progress" forever: the store uploader takes
//! it like any other (it waits for an index), and every listing of it, here
//! or from the store on another agent, says `recovered` as a scan of its
//! segments did.

use std::path::Path;

use tracing::{info, warn};

use super::segments::{put_index, survey_index};
use crate::format::{End, FormatError, Index};

/// The end reason of a recording indexed after a crash cut it short.
pub const CUT_SHORT_REASON: &str = "cut short: the agent stopped without ending the recording";

/// At start: gives the segmented recording `id` at `dir` (nothing records
/// yet) the index of a recording cut short when it has none. A failure is
/// logged and leaves it as it was: listed from a survey of its segments,
/// and not uploaded.
pub(super) fn index_if_cut(dir: &Path, id: &str) {
    match needs_index(dir) {
        Ok(false) => return,
        Ok(true) => {}
        Err(e) => {
            warn!(path = %dir.display(), error = %e, "cannot read a recording's index");
            return;
        }
    }
    match index_cut_short(dir, id) {
        Ok(index) if !index.complete => {
            info!(recording = %id, truncated_bytes = index.footer.truncated_bytes, "indexed a recording a crash cut short");
        }
        Ok(_) => info!(recording = %id, "indexed a recording whose segments had all ended"),
        Err(e) => {
            warn!(recording = %id, error = %e, "cannot index a recording a crash cut short; it stays local")
        }
    }
}

/// Whether `dir` (a segmented recording, none being recorded) needs the
/// index of a cut recording: it has none, or has an unmarked one whose
/// footer no recorder ended (no end time, no reason: a stop that found a
/// lane cut short, or an index written by a build before this mark).
///
/// # Errors
/// The index exists but cannot be read.
pub(super) fn needs_index(dir: &Path) -> Result<bool, FormatError> {
    Ok(match Index::read(dir)? {
        None => true,
        Some(i) => i.complete && i.footer.ended_unix_ns == 0 && i.footer.end_reason.is_empty(),
    })
}

/// Writes the index of recording `id`, whose segments in `dir` a crash
/// left as they were, and returns it. A recording whose segments all
/// ended cleanly (the kill came after the last one sealed, before the
/// index) gets the ordinary index of a recording that ended.
///
/// # Errors
/// A segment cannot be read (none got as far as its header), or the index
/// cannot be written.
pub(super) fn index_cut_short(dir: &Path, id: &str) -> Result<Index, FormatError> {
    let (scan, mut index) = survey_index(dir, id)?;
    let (truncated, error) = match scan.end {
        End::Complete(_) => {
            put_index(dir, &index)?;
            return Ok(index);
        }
        End::Truncated { cut_bytes, .. } => (cut_bytes, None),
        End::Corrupted {
            offset,
            reason,
            valid_bytes,
        } => (
            scan.file_size.saturating_sub(valid_bytes),
            Some(format!("corrupted frame at offset {offset}: {reason}")),
        ),
    };
    index.complete = false;
    index.footer.end_reason = CUT_SHORT_REASON.to_owned();
    index.footer.truncated_bytes = truncated;
    index.footer.error = error;
    put_index(dir, &index)?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FrameBody, Header, OpenInfo, RecordingWriter, segment_name};
    use crate::record::segments::write_index;

    /// A lane's segment with one connection's OPEN and DATA, no footer,
    /// and `tail` bytes of a frame cut midway.
    fn open_segment(dir: &Path, id: &str, tail: usize) {
        let header = Header {
            id: id.into(),
            label: "cut".into(),
            ..Header::default()
        };
        let mut w = RecordingWriter::new(Vec::new(), &header).unwrap();
        for (ts_ns, body) in [
            (1, FrameBody::Open(OpenInfo::default())),
            (
                2,
                FrameBody::Data {
                    dir: crate::format::Direction::C2s,
                    payload: bytes::Bytes::from_static(b"hello"),
                },
            ),
        ] {
            w.write_frame(&crate::format::Frame {
                conn: 1,
                ts_ns,
                body,
            })
            .unwrap();
        }
        let mut bytes = w.into_sink();
        bytes.extend(std::iter::repeat_n(0x55, tail));
        std::fs::write(dir.join(segment_name(0, 0)), bytes).unwrap();
    }

    #[test]
    fn a_cut_recording_is_indexed_as_cut_short_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r1.segments");
        std::fs::create_dir(&dir).unwrap();
        open_segment(&dir, "r1", 3);
        assert!(needs_index(&dir).unwrap());
        let index = index_cut_short(&dir, "r1").unwrap();
        assert!(!index.complete);
        assert_eq!(index.footer.end_reason, CUT_SHORT_REASON);
        assert_eq!(index.footer.truncated_bytes, 3);
        assert_eq!(index.footer.summary.bytes_c2s, 5);
        assert_eq!(index.segments.len(), 1);
        assert_eq!(Index::read(&dir).unwrap(), Some(index));
        assert!(!needs_index(&dir).unwrap(), "marked: not indexed again");
    }

    #[test]
    fn an_index_a_start_left_unmarked_is_marked_at_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r2.segments");
        std::fs::create_dir(&dir).unwrap();
        open_segment(&dir, "r2", 0);
        write_index(&dir, "r2").unwrap();
        assert!(needs_index(&dir).unwrap(), "unmarked survey of a cut");
        assert!(!index_cut_short(&dir, "r2").unwrap().complete);
    }
}
