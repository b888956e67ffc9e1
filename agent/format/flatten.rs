//! One portable file from any recording: a segmented recording's frames,
//! merged, written again as a single-file recording (version 1, or 2 with
//! UDP), which every reel build reads and `record push` takes.

use super::error::FormatError;
use super::merged::FrameStream;
use super::reader::{End, Next};
use super::writer::{RecordingWriter, Sink};

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
