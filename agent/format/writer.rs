//! Appends frames to a recording and seals it with a footer and trailer.
//!
//! Writes go through [`Sink`] so tests can inject faults (disk full, torn
//! writes). The writer never panics on a failing sink: it returns
//! `FormatError::Io` with the OS error kind kept, and refuses further frames
//! only when a failed write left part of a frame behind.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Write};

use super::codec::{encode_footer, encode_frame};
use super::error::FormatError;
use super::frame::Frame;
use super::header::{Header, encode_header};
use super::layout::TRAILER_MAGIC;
use super::summary::{Footer, Summary, SummaryBuilder};

/// Where a recording's bytes go: a writer that can also make them durable.
pub trait Sink: Write + Send {
    /// Makes everything written so far durable (fsync for files).
    ///
    /// # Errors
    /// The OS error of the sync.
    fn sync(&mut self) -> io::Result<()>;
}

impl Sink for File {
    /// `sync_data`: the data and the size, not the timestamps.
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl Sink for Vec<u8> {
    /// Memory has nothing to make durable.
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Sink> Sink for BufWriter<S> {
    /// Flushes the buffer into the inner sink, then syncs that.
    fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.get_mut().sync()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}

/// Writes one recording: the header on creation, frames, then the footer.
///
/// Dropping it without [`RecordingWriter::finish`] leaves a valid file with
/// no footer, which readers report as `End::Truncated { cut_bytes: 0 }`.
pub struct RecordingWriter<S: Sink> {
    /// Destination of the bytes.
    sink: S,
    /// Reused encode buffer, so a frame costs no allocation once warmed up.
    buf: Vec<u8>,
    /// Bytes the sink has accepted: the file size, and the next frame's offset.
    position: u64,
    /// Footer totals, counted as frames are written.
    summary: SummaryBuilder,
    /// Offset of a frame a failed write left half-written; set means broken.
    torn_at: Option<u64>,
}

impl<S: Sink> RecordingWriter<S> {
    /// Starts a recording by writing its header to `sink`.
    ///
    /// # Errors
    /// [`FormatError::MetadataTooLarge`] or the sink's [`FormatError::Io`].
    pub fn new(sink: S, header: &Header) -> Result<Self, FormatError> {
        let mut writer = RecordingWriter {
            sink,
            buf: Vec::new(),
            position: 0,
            summary: SummaryBuilder::new(),
            torn_at: None,
        };
        encode_header(header, &mut writer.buf)?;
        writer.write_buf()?;
        Ok(writer)
    }

    /// Appends one frame with a single write to the sink.
    ///
    /// # Errors
    /// [`FormatError::PayloadTooLarge`] (nothing written),
    /// [`FormatError::Io`] from the sink, or [`FormatError::TornWrite`] when
    /// an earlier failure left a partial frame. After an `Io` error that
    /// wrote nothing of the frame, the writer stays usable.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), FormatError> {
        self.check_torn()?;
        self.buf.clear();
        encode_frame(frame, &mut self.buf)?;
        let offset = self.position;
        self.write_buf()?;
        self.summary.observe(frame, offset);
        Ok(())
    }

    /// Totals of the frames written so far.
    pub fn summary(&self) -> &Summary {
        self.summary.summary()
    }

    /// Bytes written so far: the file size, and the offset of the next frame.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The sink, for inspection (writing to it directly corrupts the file).
    pub fn get_ref(&self) -> &S {
        &self.sink
    }

    /// Hands buffered bytes to the OS (survives `kill -9`, not power loss).
    ///
    /// # Errors
    /// The sink's [`FormatError::Io`].
    pub fn flush(&mut self) -> Result<(), FormatError> {
        Ok(self.sink.flush()?)
    }

    /// Flushes, then makes everything durable (survives power loss).
    ///
    /// # Errors
    /// The sink's [`FormatError::Io`].
    pub fn sync(&mut self) -> Result<(), FormatError> {
        self.sink.flush()?;
        Ok(self.sink.sync()?)
    }

    /// Writes the footer frame and the trailer in one write, flushes and
    /// syncs, and returns the sink with the footer written.
    ///
    /// # Errors
    /// [`FormatError::FooterTooLarge`] (the frames are flushed and synced
    /// first, so the file stays readable without a footer),
    /// [`FormatError::TornWrite`] or the sink's [`FormatError::Io`].
    pub fn finish(
        mut self,
        ended_unix_ns: i64,
        end_reason: &str,
        error: Option<String>,
    ) -> Result<(S, Footer), FormatError> {
        self.check_torn()?;
        let last_ts_ns = self.summary.summary().last_ts_ns;
        let footer = std::mem::take(&mut self.summary).finish(ended_unix_ns, end_reason, error);
        self.buf.clear();
        if let Err(e) = encode_footer(&footer, last_ts_ns, &mut self.buf) {
            self.sync()?;
            return Err(e);
        }
        self.buf.extend_from_slice(&self.position.to_le_bytes());
        self.buf.extend_from_slice(&TRAILER_MAGIC);
        self.write_buf()?;
        self.sync()?;
        Ok((self.sink, footer))
    }

    fn check_torn(&self) -> Result<(), FormatError> {
        match self.torn_at {
            Some(offset) => Err(FormatError::TornWrite { offset }),
            None => Ok(()),
        }
    }

    /// `write_all` that counts what the sink accepted, so `position` stays
    /// the true file size and a partial frame is noticed.
    fn write_buf(&mut self) -> Result<(), FormatError> {
        let start = self.position;
        let mut written = 0;
        let result = loop {
            if written == self.buf.len() {
                break Ok(());
            }
            match self.sink.write(&self.buf[written..]) {
                Ok(0) => break Err(io::Error::from(ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.position += written as u64;
        if result.is_err() && written > 0 {
            self.torn_at = Some(start);
        }
        Ok(result?)
    }
}
