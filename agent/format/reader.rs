//! Streams the frames of a recording and says how it ends.
//!
//! The reader buffers internally (reads of [`READ_CHUNK`] bytes), holds at
//! most one frame plus one chunk in memory, and turns every way a file can
//! end, cleanly or not, into an [`End`] value: a cut or damaged file still
//! yields every frame before the damage.

use std::io::{ErrorKind, Read};

use super::codec::decode_frame;
use super::error::FormatError;
use super::frame::{Decoded, Frame, Item};
use super::header::{Header, HeaderDecoded, decode_header};
use super::layout::{TRAILER_LEN, TRAILER_MAGIC, le_u64};
use super::summary::Footer;

/// Bytes asked of the underlying reader at a time, so small frames do not
/// cost a syscall each and callers need no `BufReader`.
pub const READ_CHUNK: usize = 64 * 1024;

/// One step of reading a recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The next frame.
    Frame(Frame),
    /// No more frames; how the file ended.
    End(End),
}

/// How a recording ends.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// Clean stop: footer and trailer are present and valid.
    Complete(Footer),
    /// The file stops early: inside a frame (`cut_bytes` > 0, a partial frame
    /// was dropped) or at a frame boundary without a footer (`cut_bytes` 0,
    /// e.g. the recorder was killed). Every frame before is intact.
    Truncated {
        /// Bytes from the start of the file that hold intact data.
        valid_bytes: u64,
        /// Bytes after them that were dropped (a partial frame or trailer).
        cut_bytes: u64,
    },
    /// A complete frame (or the trailer) is damaged; reading stops there.
    Corrupted {
        /// File offset where the damaged frame (or trailer) starts.
        offset: u64,
        /// What is wrong, for humans.
        reason: String,
        /// Bytes from the start of the file that hold intact data.
        valid_bytes: u64,
    },
}

/// Reads a recording front to back.
pub struct RecordingReader<R: Read> {
    /// Source of the file's bytes.
    inner: R,
    /// The file's header, read by `open`.
    header: Header,
    /// Read-ahead buffer; `buf[start..]` is not yet consumed.
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// File offset of `buf[start]`: the next frame's offset.
    position: u64,
    /// File offset of the frame last returned by `next`.
    frame_offset: u64,
    /// Set once the end is known; `next` repeats it from then on.
    end: Option<End>,
}

impl<R: Read> RecordingReader<R> {
    /// Reads and checks the header.
    ///
    /// # Errors
    /// [`FormatError::NotARecording`], [`FormatError::UnsupportedVersion`],
    /// [`FormatError::UnsupportedFlags`], [`FormatError::HeaderTruncated`],
    /// [`FormatError::HeaderCorrupted`] or [`FormatError::Io`].
    pub fn open(inner: R) -> Result<Self, FormatError> {
        let mut reader = RecordingReader {
            inner,
            header: Header::default(),
            buf: Vec::new(),
            start: 0,
            position: 0,
            frame_offset: 0,
            end: None,
        };
        loop {
            match decode_header(reader.unread())? {
                HeaderDecoded::Complete { header, len } => {
                    reader.header = header;
                    reader.consume(len);
                    return Ok(reader);
                }
                HeaderDecoded::NeedMore { needed } => {
                    if !reader.fill(needed)? {
                        return Err(FormatError::HeaderTruncated(reader.unread().len() as u64));
                    }
                }
            }
        }
    }

    /// The recording's metadata.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// File offset of the frame last returned by [`RecordingReader::next`]
    /// (an index entry for it).
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// File offset of the next unread frame: bytes accounted for so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Returns the next frame, or how the file ends (repeated on every later
    /// call). Frames of unknown kinds are skipped.
    ///
    /// # Errors
    /// Only [`FormatError::Io`]; damage in the file is an [`End`]. After an
    /// error nothing is consumed, so the call can be retried.
    #[expect(
        clippy::should_implement_trait,
        reason = "not an Iterator: the end is a value that repeats, and reading can fail"
    )]
    pub fn next(&mut self) -> Result<Next, FormatError> {
        loop {
            if let Some(end) = &self.end {
                return Ok(Next::End(end.clone()));
            }
            match decode_frame(self.unread()) {
                Decoded::Item { item, len } => match item {
                    Item::Frame(frame) => {
                        self.frame_offset = self.position;
                        self.consume(len);
                        return Ok(Next::Frame(frame));
                    }
                    Item::Unknown { .. } => self.consume(len),
                    Item::Footer(footer) => self.end = Some(self.check_trailer(len, footer)?),
                },
                Decoded::NeedMore { needed } => {
                    if !self.fill(needed)? {
                        self.end = Some(End::Truncated {
                            valid_bytes: self.position,
                            cut_bytes: self.unread().len() as u64,
                        });
                    }
                }
                Decoded::Corrupted { reason } => {
                    self.end = Some(End::Corrupted {
                        offset: self.position,
                        reason,
                        valid_bytes: self.position,
                    });
                }
            }
        }
    }

    /// Decides how a file whose footer frame (`len` bytes, unconsumed) was
    /// just decoded ends: the trailer must follow and point back at it, and
    /// nothing may follow the trailer.
    fn check_trailer(&mut self, len: usize, footer: Footer) -> Result<End, FormatError> {
        let footer_offset = self.position;
        // One byte past the trailer, to see whether anything follows it.
        let has_extra = self.fill(len + TRAILER_LEN + 1)?;
        self.consume(len);
        let trailer_offset = self.position;
        let rest = self.unread();
        if rest.len() < TRAILER_LEN {
            return Ok(End::Truncated {
                valid_bytes: trailer_offset,
                cut_bytes: rest.len() as u64,
            });
        }
        let bad = |reason: String, offset: u64| End::Corrupted {
            offset,
            reason,
            valid_bytes: offset,
        };
        if rest[8..TRAILER_LEN] != TRAILER_MAGIC {
            return Ok(bad(
                "no valid trailer after the footer (bad magic)".into(),
                trailer_offset,
            ));
        }
        let pointed = le_u64(rest, 0);
        if pointed != footer_offset {
            return Ok(bad(
                format!("trailer points at offset {pointed}, footer is at {footer_offset}"),
                trailer_offset,
            ));
        }
        self.consume(TRAILER_LEN);
        if has_extra {
            return Ok(bad(
                "unexpected bytes after the trailer".into(),
                self.position,
            ));
        }
        Ok(End::Complete(footer))
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
        self.position += len as u64;
    }

    /// Reads until at least `needed` unconsumed bytes are buffered; `false`
    /// when the source ends first. Interrupted reads are retried.
    fn fill(&mut self, needed: usize) -> Result<bool, FormatError> {
        if self.unread().len() >= needed {
            return Ok(true);
        }
        self.buf.drain(..self.start);
        self.start = 0;
        while self.buf.len() < needed {
            let filled = self.buf.len();
            self.buf.resize(needed.max(filled + READ_CHUNK), 0);
            match self.inner.read(&mut self.buf[filled..]) {
                Ok(n) => {
                    self.buf.truncate(filled + n);
                    if n == 0 {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    self.buf.truncate(filled);
                    if e.kind() != ErrorKind::Interrupted {
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(true)
    }
}
