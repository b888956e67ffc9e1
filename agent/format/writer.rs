//! Appends frames to a recording and seals it with a footer and trailer.
//!
//! Writes go through [`Sink`] (`sink.rs`) so tests can inject faults (disk full, torn
//! writes). The writer never panics on a failing sink: it returns
//! `FormatError::Io` with the OS error kind kept, and refuses further frames
//! only when a failed write left part of a frame behind.

use std::io::{self, ErrorKind, IoSlice, Write};
use std::ops::Range;

use super::codec::{encode_footer, encode_frame, encode_frame_head};
use super::error::FormatError;
use super::frame::{Frame, FrameBody};
use super::header::{Header, encode_header};
use super::layout::TRAILER_MAGIC;
use super::sink::Sink;
use super::summary::{Footer, Summary, SummaryBuilder};

/// A finished recording: its sink, footer and size in bytes.
#[derive(Debug)]
pub struct Finished<S> {
    pub sink: S,
    pub footer: Footer,
    pub size: u64,
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
    /// Frames [`RecordingWriter::stage`]d for the next vectored write.
    staged: Vec<Staged>,
    /// Their encoded envelopes (and whole encodings of non-DATA frames).
    staged_meta: Vec<u8>,
    /// Their size in the file.
    staged_len: usize,
}

/// A frame waiting for the next vectored write: its head, a DATA frame's
/// payload (by reference, in `frame`), then its tail, both in `staged_meta`.
struct Staged {
    frame: Frame,
    head: Range<usize>,
    tail: Range<usize>,
}

impl Staged {
    fn payload(&self) -> &[u8] {
        match &self.frame.body {
            FrameBody::Data { payload, .. } | FrameBody::Datagram { payload, .. }
                if !self.tail.is_empty() =>
            {
                payload
            }
            _ => &[],
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.payload().len() + self.tail.len()
    }
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
            staged: Vec::new(),
            staged_meta: Vec::new(),
            staged_len: 0,
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
        self.write_staged()?;
        self.check_torn()?;
        self.buf.clear();
        encode_frame(frame, &mut self.buf)?;
        let offset = self.position;
        self.write_buf()?;
        self.summary.observe(frame, offset);
        Ok(())
    }

    /// Queues `frame` for the next [`RecordingWriter::write_staged`] (which
    /// every other write, flush and sync does first). A DATA (or DATAGRAM) payload is not
    /// copied: it is written from its own memory, and a batch of frames
    /// costs one `writev` instead of two copies per frame.
    ///
    /// # Errors
    /// [`FormatError::PayloadTooLarge`] (nothing staged).
    pub fn stage(&mut self, frame: Frame) -> Result<(), FormatError> {
        let start = self.staged_meta.len();
        let crc = encode_frame_head(&frame, &mut self.staged_meta)?;
        let head = start..self.staged_meta.len();
        if let Some(crc) = crc {
            self.staged_meta.extend_from_slice(&crc);
        }
        let tail = head.end..self.staged_meta.len();
        let staged = Staged { frame, head, tail };
        self.staged_len += staged.len();
        self.staged.push(staged);
        Ok(())
    }

    /// Bytes staged and not yet written.
    pub fn staged_bytes(&self) -> usize {
        self.staged_len
    }

    /// Writes the staged frames with vectored writes. Only frames the sink
    /// took whole count in the summary. One it took in part leaves the
    /// writer torn, as with [`RecordingWriter::write_frame`]; after an error
    /// between two frames, the frames not written stay staged.
    ///
    /// # Errors
    /// [`FormatError::Io`] from the sink, or [`FormatError::TornWrite`].
    pub fn write_staged(&mut self) -> Result<(), FormatError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.check_torn() {
            self.staged.clear();
            self.staged_meta.clear();
            self.staged_len = 0;
            return Err(e);
        }
        let Self {
            sink,
            staged,
            staged_meta,
            ..
        } = self;
        let mut slices = Vec::with_capacity(staged.len() * 3);
        for f in staged.iter() {
            slices.push(IoSlice::new(&staged_meta[f.head.clone()]));
            let payload = f.payload();
            if !payload.is_empty() {
                slices.push(IoSlice::new(payload));
            }
            if !f.tail.is_empty() {
                slices.push(IoSlice::new(&staged_meta[f.tail.clone()]));
            }
        }
        let (written, result) = write_all_vectored(sink, &mut slices);
        // Count the frames that went out whole.
        let mut at = 0;
        let mut whole = 0;
        for f in &self.staged {
            let end = at + f.len();
            if end > written {
                if at < written {
                    self.torn_at = Some(self.position + at as u64);
                }
                break;
            }
            self.summary.observe(&f.frame, self.position + at as u64);
            at = end;
            whole += 1;
        }
        self.position += written as u64;
        if result.is_ok() || self.torn_at.is_some() {
            self.staged.clear();
            self.staged_meta.clear();
            self.staged_len = 0;
        } else {
            self.staged.drain(..whole);
            self.staged_len -= at;
        }
        Ok(result?)
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

    /// The sink, without a footer (the file reads back as cut short);
    /// staged frames that were not written are dropped.
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Hands buffered bytes to the OS (survives `kill -9`, not power loss).
    ///
    /// # Errors
    /// The sink's [`FormatError::Io`].
    pub fn flush(&mut self) -> Result<(), FormatError> {
        self.write_staged()?;
        Ok(self.sink.flush()?)
    }

    /// Flushes, then makes everything durable (survives power loss).
    ///
    /// # Errors
    /// The sink's [`FormatError::Io`].
    pub fn sync(&mut self) -> Result<(), FormatError> {
        self.write_staged()?;
        self.sink.flush()?;
        Ok(self.sink.sync()?)
    }

    /// Writes the footer frame and the trailer in one write, flushes and
    /// syncs, and returns the sink with the footer written. A connection
    /// table too large for one frame is left out
    /// ([`Footer::connection_detail_omitted`]).
    ///
    /// # Errors
    /// [`FormatError::FooterTooLarge`] when even the footer without its
    /// table does not fit (the frames are flushed and synced first, so the
    /// file stays readable without a footer),
    /// [`FormatError::TornWrite`] or the sink's [`FormatError::Io`].
    pub fn finish(
        self,
        ended_unix_ns: i64,
        end_reason: &str,
        error: Option<String>,
    ) -> Result<(S, Footer), FormatError> {
        self.finish_sized(ended_unix_ns, end_reason, error)
            .map(|f| (f.sink, f.footer))
    }

    /// [`RecordingWriter::finish`], also saying the file's final size (for
    /// quotas), which a sink that is not a file cannot tell.
    ///
    /// # Errors
    /// As [`RecordingWriter::finish`].
    pub fn finish_sized(
        self,
        ended_unix_ns: i64,
        end_reason: &str,
        error: Option<String>,
    ) -> Result<Finished<S>, FormatError> {
        self.end(ended_unix_ns, end_reason, error, true)
    }

    /// [`RecordingWriter::finish_sized`] without the sync: the footer is
    /// handed to the OS, and the caller makes the file durable off the
    /// write path (a sealed segment of a recording that goes on).
    ///
    /// # Errors
    /// As [`RecordingWriter::finish`].
    pub fn seal(self, ended_unix_ns: i64, end_reason: &str) -> Result<Finished<S>, FormatError> {
        self.end(ended_unix_ns, end_reason, None, false)
    }

    fn end(
        mut self,
        ended_unix_ns: i64,
        end_reason: &str,
        error: Option<String>,
        sync: bool,
    ) -> Result<Finished<S>, FormatError> {
        self.write_staged()?;
        self.check_torn()?;
        let last_ts_ns = self.summary.summary().last_ts_ns;
        let mut footer = std::mem::take(&mut self.summary).finish(ended_unix_ns, end_reason, error);
        self.buf.clear();
        let mut encoded = encode_footer(&footer, last_ts_ns, &mut self.buf);
        if let Err(FormatError::FooterTooLarge { .. }) = encoded {
            // The connection table is an index, not data: keep the exact
            // totals and drop the table, so the file still ends cleanly.
            footer.connections = Vec::new();
            footer.connection_detail_omitted = true;
            self.buf.clear();
            encoded = encode_footer(&footer, last_ts_ns, &mut self.buf);
        }
        if let Err(e) = encoded {
            self.sync()?;
            return Err(e);
        }
        self.buf.extend_from_slice(&self.position.to_le_bytes());
        self.buf.extend_from_slice(&TRAILER_MAGIC);
        self.write_buf()?;
        if sync {
            self.sync()?;
        } else {
            self.sink.flush()?;
        }
        Ok(Finished {
            size: self.position,
            sink: self.sink,
            footer,
        })
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

/// `write_all` for vectored writes: returns how many bytes the sink took,
/// with the error that stopped it, if any.
fn write_all_vectored<W: Write>(
    sink: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> (usize, io::Result<()>) {
    let mut written = 0;
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match sink.write_vectored(slices) {
            Ok(0) => return (written, Err(ErrorKind::WriteZero.into())),
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut slices, n);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (written, Err(e)),
        }
    }
    (written, Ok(()))
}
