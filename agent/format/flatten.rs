//! One portable file from any recording: a segmented recording's frames,
//! merged, written again as a single-file recording (version 1, or 2 with
//! UDP), which every reel build reads and `record push` takes; and the
//! same with the clock moved to the first frame (a flight recorder's dump).

use super::error::FormatError;
use super::frame::Frame;
use super::header::Header;
use super::merged::FrameStream;
use super::reader::{End, Next};
use super::sink::Sink;
use super::summary::Footer;
use super::writer::RecordingWriter;

/// Writes every frame of `reader` into `sink` as one recording file. A
/// recording that ended cleanly gets its footer (why and when it ended);
/// one cut short is written without, so it reads back as cut short.
/// Returns the sink and how the source ended.
///
/// # Errors
/// The source's read errors and the sink's write errors.
pub fn flatten<S: Sink>(mut reader: impl FrameStream, sink: S) -> Result<(S, End), FormatError> {
    let mut writer = RecordingWriter::new(sink, reader.header())?;
    loop {
        match reader.next_frame()? {
            Next::Frame(frame) => writer.stage(frame)?,
            Next::End(End::Complete(footer)) => {
                let (sink, _) = writer.finish(
                    footer.ended_unix_ns,
                    &footer.end_reason,
                    footer.error.clone(),
                )?;
                return Ok((sink, End::Complete(footer)));
            }
            Next::End(end) => {
                writer.flush()?;
                return Ok((writer.into_sink(), end));
            }
        }
        if writer.staged_bytes() >= 1 << 20 {
            writer.write_staged()?;
        }
    }
}

/// Writes the frames of `reader` into `sink` as a new recording whose
/// clock starts at its first frame: `header` (a new id and label) with
/// `started_at_unix_ns` moved to that frame, every `ts_ns` moved back by
/// as much. What a flight recorder's dump is: replayed, it starts with its
/// first frame, not with the hours of ring before it. Always finished with
/// a footer saying `end_reason` (a cut-short source is written up to its
/// last whole frame). Returns the sink and the footer.
///
/// # Errors
/// The source's read errors and the sink's write errors.
pub fn rebase<S: Sink>(
    mut reader: impl FrameStream,
    sink: S,
    mut header: Header,
    ended_unix_ns: i64,
    end_reason: &str,
) -> Result<(S, Footer), FormatError> {
    let mut first = match reader.next_frame()? {
        Next::Frame(f) => Some(f),
        Next::End(_) => None,
    };
    let base = first.as_ref().map_or(0, |f| f.ts_ns);
    header.started_at_unix_ns = header
        .started_at_unix_ns
        .saturating_add(i64::try_from(base).unwrap_or(i64::MAX));
    let mut writer = RecordingWriter::new(sink, &header)?;
    loop {
        let frame = match first.take() {
            Some(f) => f,
            None => match reader.next_frame()? {
                Next::Frame(f) => f,
                Next::End(_) => break,
            },
        };
        writer.stage(Frame {
            ts_ns: frame.ts_ns.saturating_sub(base),
            ..frame
        })?;
        if writer.staged_bytes() >= 1 << 20 {
            writer.write_staged()?;
        }
    }
    writer.finish(ended_unix_ns, end_reason, None)
}
