//! Whole-file views of a recording: a full scan (which also recovers files
//! without a footer) and the fast footer read used for listings.
//!
//! Listing a catalog calls [`read_footer`] (reads the header and the last
//! bytes only) and falls back to [`scan_file`] when it returns `None`: the
//! recorder did not stop cleanly, and the scan rebuilds the same summary with
//! the same [`SummaryBuilder`] the writer used.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use super::codec::decode_frame;
use super::error::FormatError;
use super::frame::{Decoded, Item};
use super::header::Header;
use super::layout::{FRAME_OVERHEAD, MAX_BODY_LEN, TRAILER_LEN, TRAILER_MAGIC, le_u64};
use super::reader::{End, Next, RecordingReader};
use super::summary::{ConnSummary, Footer, Summary, SummaryBuilder};

/// Everything a full pass over a recording learns.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// The recording's metadata.
    pub header: Header,
    /// Totals recounted from the frames (not copied from the footer).
    pub summary: Summary,
    /// Connection table recounted from the frames.
    pub connections: Vec<ConnSummary>,
    /// How the file ends; `Complete` carries the writer's footer.
    pub end: End,
    /// File size when the scan opened it.
    pub file_size: u64,
}

/// Reads every frame of the file at `path`, streaming, and recounts it.
///
/// # Errors
/// Header errors and [`FormatError::Io`]; damage after the header is
/// reported in [`Scan::end`].
pub fn scan_file(path: &Path) -> Result<Scan, FormatError> {
    let file = File::open(path)?;
    let file_size = file.metadata()?.len();
    scan(file, file_size)
}

/// [`scan_file`] over any reader (the reader buffers, so pass it raw).
///
/// # Errors
/// As [`scan_file`].
pub fn scan<R: Read>(source: R, file_size: u64) -> Result<Scan, FormatError> {
    let mut reader = RecordingReader::open(source)?;
    let mut builder = SummaryBuilder::new();
    let end = loop {
        match reader.next()? {
            Next::Frame(frame) => builder.observe(&frame, reader.frame_offset()),
            Next::End(end) => break end,
        }
    };
    let (summary, connections) = builder.into_parts();
    Ok(Scan {
        header: reader.header().clone(),
        summary,
        connections,
        end,
        file_size,
    })
}

/// Fast path: the header and the footer, without reading the frames.
///
/// Returns `Ok(None)` when the file has no valid trailer and footer (it was
/// not finished cleanly, or its end is damaged); call [`scan_file`] then.
///
/// # Errors
/// Header errors and [`FormatError::Io`].
pub fn read_footer(path: &Path) -> Result<Option<(Header, Footer)>, FormatError> {
    footer_of(&mut File::open(path)?)
}

/// [`read_footer`] over any seekable source, left at an unspecified
/// position (seek back before reading it again).
///
/// # Errors
/// As [`read_footer`].
pub fn footer_of<F: Read + Seek>(file: &mut F) -> Result<Option<(Header, Footer)>, FormatError> {
    let file_size = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let reader = RecordingReader::open(&mut *file)?;
    let header = reader.header().clone();
    let frames_start = reader.position();
    drop(reader);
    match footer_from_end(file, file_size, frames_start) {
        Ok(footer) => Ok(footer.map(|f| (header, f))),
        // The file shrank under us: treat as "no footer", the scan will say more.
        Err(FormatError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Follows the trailer at the end of a `file_size`-byte file back to the
/// footer frame and decodes it; `None` if anything does not check out.
fn footer_from_end<F: Read + Seek>(
    file: &mut F,
    file_size: u64,
    frames_start: u64,
) -> Result<Option<Footer>, FormatError> {
    let Some(trailer_offset) = file_size.checked_sub(TRAILER_LEN as u64) else {
        return Ok(None);
    };
    if trailer_offset < frames_start + FRAME_OVERHEAD as u64 {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(trailer_offset))?;
    let mut trailer = [0; TRAILER_LEN];
    file.read_exact(&mut trailer)?;
    let Some(footer_offset) = parse_trailer(&trailer) else {
        return Ok(None);
    };
    let frame_len = match trailer_offset.checked_sub(footer_offset) {
        Some(len) if footer_offset >= frames_start && len <= (MAX_BODY_LEN + 8) as u64 => len,
        _ => return Ok(None),
    };
    let mut frame = vec![0; frame_len as usize];
    file.seek(SeekFrom::Start(footer_offset))?;
    file.read_exact(&mut frame)?;
    Ok(match decode_frame(&frame) {
        Decoded::Item {
            item: Item::Footer(footer),
            len,
        } if len as u64 == frame_len && plausible(&footer, footer_offset - frames_start) => {
            Some(footer)
        }
        _ => None,
    })
}

/// Whether a footer's counts fit the `frame_bytes` bytes of frames before
/// it, so a listing may show them without reading the frames.
fn plausible(footer: &Footer, frame_bytes: u64) -> bool {
    footer.summary.fits_in(frame_bytes)
        && footer.connections.len() as u64 <= footer.summary.connections
}

/// The footer offset stored in a trailer, if its magic is intact.
fn parse_trailer(trailer: &[u8; TRAILER_LEN]) -> Option<u64> {
    (trailer[8..] == TRAILER_MAGIC).then(|| le_u64(trailer, 0))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::format::frame::{Frame, FrameBody};
    use crate::format::writer::RecordingWriter;

    /// A finished recording with one annotation, and where its frames start.
    fn finished() -> (Vec<u8>, u64) {
        let mut w = RecordingWriter::new(Vec::new(), &Header::default()).unwrap();
        let frames_start = w.position();
        let body = FrameBody::Annotation { text: "hi".into() };
        w.write_frame(&Frame {
            conn: 0,
            ts_ns: 5,
            body,
        })
        .unwrap();
        (w.finish(7, "done", None).unwrap().0, frames_start)
    }

    fn footer_of(bytes: &[u8], frames_start: u64) -> Option<Footer> {
        let len = bytes.len() as u64;
        footer_from_end(&mut Cursor::new(bytes), len, frames_start).unwrap()
    }

    #[test]
    fn fast_path_finds_the_footer() {
        let (bytes, start) = finished();
        let footer = footer_of(&bytes, start).unwrap();
        assert_eq!(
            (footer.summary.frames, footer.end_reason.as_str()),
            (1, "done")
        );
        let scanned = scan(Cursor::new(&bytes), bytes.len() as u64).unwrap();
        assert_eq!(scanned.end, End::Complete(footer));
    }

    #[test]
    fn fast_path_declines_anything_that_does_not_check_out() {
        let (bytes, start) = finished();
        let len = bytes.len();
        let edited = |at: usize, value: u8| {
            let mut b = bytes.clone();
            b[at] ^= value;
            footer_of(&b, start)
        };
        assert_eq!(edited(len - 1, 1), None, "trailer magic");
        assert_eq!(edited(len - 16, 1), None, "footer offset");
        assert_eq!(edited(len - 16, 0x80), None, "footer offset");
        assert_eq!(edited(len - 20, 1), None, "footer CRC");
        assert_eq!(footer_of(&bytes[..len - 1], start), None, "cut trailer");
        assert_eq!(
            footer_of(&bytes[..start as usize], start),
            None,
            "header only"
        );
        let mut past = bytes.clone();
        past.extend_from_slice(&bytes[len - 16..]);
        assert_eq!(footer_of(&past, start), None, "points at a trailer");
    }

    /// `bytes` (a finished recording) with its footer's summary replaced.
    fn with_footer_summary(bytes: &[u8], summary: Summary) -> Vec<u8> {
        let len = bytes.len();
        let at = le_u64(bytes, len - TRAILER_LEN) as usize;
        let mut footer = match decode_frame(&bytes[at..len - TRAILER_LEN]) {
            Decoded::Item {
                item: Item::Footer(f),
                ..
            } => f,
            other => panic!("no footer: {other:?}"),
        };
        footer.summary = summary;
        let mut out = bytes[..at].to_vec();
        crate::format::encode_footer(&footer, 5, &mut out).unwrap();
        out.extend_from_slice(&(at as u64).to_le_bytes());
        out.extend_from_slice(&TRAILER_MAGIC);
        out
    }

    #[test]
    fn a_footer_claiming_more_than_the_file_holds_is_not_trusted() {
        let (bytes, start) = finished();
        let honest = footer_of(&bytes, start).unwrap().summary;
        let same = with_footer_summary(&bytes, honest.clone());
        assert!(
            footer_of(&same, start).is_some(),
            "re-encoding keeps it valid"
        );
        let crafted = [
            Summary {
                connections: u64::MAX,
                ..honest.clone()
            },
            Summary {
                frames: u64::MAX,
                connections: u64::MAX,
                ..honest.clone()
            },
            Summary {
                frames: 1_000_000,
                ..honest.clone()
            },
            Summary {
                bytes_c2s: u64::MAX,
                bytes_s2c: 2,
                ..honest.clone()
            },
            Summary {
                bytes_c2s: 1 << 40,
                ..honest.clone()
            },
            Summary {
                chunks_c2s: 5,
                ..honest.clone()
            },
        ];
        for summary in crafted {
            let file = with_footer_summary(&bytes, summary.clone());
            assert_eq!(footer_of(&file, start), None, "{summary:?}");
            // The full read recounts: its totals come from the frames.
            let scanned = scan(Cursor::new(&file), file.len() as u64).unwrap();
            assert!(matches!(scanned.end, End::Complete(_)));
            assert_eq!(
                (scanned.summary.frames, scanned.summary.connections),
                (1, 0)
            );
        }
    }

    #[test]
    fn read_footer_rejects_a_stranger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello, this is not a recording").unwrap();
        assert!(matches!(
            read_footer(&path),
            Err(FormatError::NotARecording)
        ));
        assert!(matches!(scan_file(&path), Err(FormatError::NotARecording)));
        let missing = dir.path().join("missing.reel");
        let err = read_footer(&missing).unwrap_err();
        assert!(matches!(err, FormatError::Io(e) if e.kind() == ErrorKind::NotFound));
    }
}
