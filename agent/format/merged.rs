//! Reading a segmented recording as one stream: the lanes' segments merged
//! by timestamp (the recording's sequence number, see `segments`), each
//! lane read segment after segment, one frame per lane in memory. And
//! [`SourceReader`], what every reader opens: a single file or segments.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use super::error::FormatError;
use super::frame::{Frame, FrameBody};
use super::header::Header;
use super::reader::{End, Next, RecordingReader};
use super::segments::{SegmentSource, Source, lanes};
use super::summary::{Footer, SummaryBuilder};

type SegmentReader = RecordingReader<Box<dyn Read + Send>>;

/// One writer lane: its open segment, the segments after it, and the next
/// frame it has to give.
struct Lane {
    rest: VecDeque<String>,
    reader: Option<SegmentReader>,
    head: Option<Frame>,
}

/// Streams a segmented recording in its global order.
pub struct SegmentedReader {
    source: Arc<dyn SegmentSource>,
    header: Header,
    lanes: Vec<Lane>,
    /// Connections whose OPEN was given: later OPENs of them are the
    /// repeats that start segments, not traffic.
    opened: HashSet<u64>,
    /// Totals of what was given, for the merged footer at the end.
    counted: SummaryBuilder,
    /// The clean end that says most (an error, else the last to end).
    ended: Option<Footer>,
    /// The first damage met (a segment cut or corrupted).
    damage: Option<End>,
    end: Option<End>,
}

impl SegmentedReader {
    /// Opens every lane's first segment and reads the header of the first.
    ///
    /// # Errors
    /// The listing failed, no segment exists, or a segment's header cannot
    /// be read.
    pub fn open(source: Arc<dyn SegmentSource>) -> Result<Self, FormatError> {
        let mut reader = SegmentedReader {
            header: Header::default(),
            lanes: Vec::new(),
            opened: HashSet::new(),
            counted: SummaryBuilder::new(),
            ended: None,
            damage: None,
            end: None,
            source: source.clone(),
        };
        for names in lanes(source.as_ref())? {
            let mut lane = Lane {
                rest: names.into(),
                reader: None,
                head: None,
            };
            reader.advance(&mut lane)?;
            reader.lanes.push(lane);
        }
        if let Some(index) = source.index()? {
            reader.header = index.header;
        }
        if reader.header.id.is_empty() && reader.lanes.iter().all(|l| l.head.is_none()) {
            // Not one segment got as far as its header.
            return Err(FormatError::HeaderTruncated(0));
        }
        Ok(reader)
    }

    /// The recording's metadata (every segment carries the same).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next frame in the recording's order, or how it ends.
    ///
    /// # Errors
    /// I/O errors and unreadable segment headers; damage is an [`End`].
    #[expect(
        clippy::should_implement_trait,
        reason = "as RecordingReader::next: the end is a value that repeats"
    )]
    pub fn next(&mut self) -> Result<Next, FormatError> {
        loop {
            if let Some(end) = &self.end {
                return Ok(Next::End(end.clone()));
            }
            let Some(i) = self.earliest() else {
                self.end = Some(self.finish());
                continue;
            };
            let mut lane = std::mem::replace(
                &mut self.lanes[i],
                Lane {
                    rest: VecDeque::new(),
                    reader: None,
                    head: None,
                },
            );
            let frame = lane.head.take();
            let advanced = self.advance(&mut lane);
            self.lanes[i] = lane;
            advanced?;
            let Some(frame) = frame else { continue };
            if matches!(frame.body, FrameBody::Open(_)) && !self.opened.insert(frame.conn) {
                continue;
            }
            self.counted.observe(&frame, 0);
            return Ok(Next::Frame(frame));
        }
    }

    /// The lane whose next frame comes first (the lower lane on a tie).
    fn earliest(&self) -> Option<usize> {
        self.lanes
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.head.as_ref().map(|f| (f.ts_ns, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// Reads `lane`'s next frame into its head, going on to its next
    /// segment at the end of one.
    fn advance(&mut self, lane: &mut Lane) -> Result<(), FormatError> {
        loop {
            let reader = match &mut lane.reader {
                Some(r) => r,
                None => {
                    let Some(name) = lane.rest.pop_front() else {
                        return Ok(());
                    };
                    let opened = self
                        .source
                        .open(&name)
                        .map_err(FormatError::from)
                        .and_then(RecordingReader::open);
                    let r = match opened {
                        Ok(r) => r,
                        // A lane's newest segment cut before its header
                        // reached the disk (a kill right after a rotation):
                        // the lane ends there, cut short.
                        Err(FormatError::HeaderTruncated(cut)) if lane.rest.is_empty() => {
                            if self.damage.is_none() {
                                self.damage = Some(End::Truncated {
                                    valid_bytes: 0,
                                    cut_bytes: cut,
                                });
                            }
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    };
                    if self.header.id.is_empty() {
                        self.header = r.header().clone();
                    }
                    lane.reader.insert(r)
                }
            };
            match reader.next()? {
                Next::Frame(f) => {
                    lane.head = Some(f);
                    return Ok(());
                }
                Next::End(End::Complete(footer)) => {
                    let replace = self.ended.as_ref().is_none_or(|e| {
                        e.error.is_none()
                            && (footer.error.is_some() || footer.ended_unix_ns >= e.ended_unix_ns)
                    });
                    if replace {
                        self.ended = Some(footer);
                    }
                }
                Next::End(damaged) => {
                    if self.damage.is_none() {
                        self.damage = Some(damaged);
                    }
                }
            }
            lane.reader = None;
        }
    }

    fn finish(&mut self) -> End {
        if let Some(d) = self.damage.take() {
            return d;
        }
        let f = self.ended.take().unwrap_or_default();
        let counted = std::mem::take(&mut self.counted);
        End::Complete(counted.finish(f.ended_unix_ns, &f.end_reason, f.error))
    }
}

/// A recording opened for a front-to-back read, whatever its layout.
#[expect(
    clippy::large_enum_variant,
    reason = "one per open recording, never stored in bulk"
)]
pub enum SourceReader {
    File(RecordingReader<File>),
    Segments(SegmentedReader),
}

impl SourceReader {
    /// Opens `source`.
    ///
    /// # Errors
    /// As [`RecordingReader::open`] and [`SegmentedReader::open`].
    pub fn open(source: &Source) -> Result<Self, FormatError> {
        Ok(match source {
            Source::File(path) => SourceReader::File(RecordingReader::open(File::open(path)?)?),
            Source::Segments(s) => SourceReader::Segments(SegmentedReader::open(s.clone())?),
        })
    }

    /// The recording's metadata.
    pub fn header(&self) -> &Header {
        match self {
            SourceReader::File(r) => r.header(),
            SourceReader::Segments(r) => r.header(),
        }
    }

    /// The next frame, or how the recording ends.
    ///
    /// # Errors
    /// As the readers'.
    #[expect(
        clippy::should_implement_trait,
        reason = "as RecordingReader::next: the end is a value that repeats"
    )]
    pub fn next(&mut self) -> Result<Next, FormatError> {
        match self {
            SourceReader::File(r) => r.next(),
            SourceReader::Segments(r) => r.next(),
        }
    }
}

/// What the readers of a recording share: its header and its frames in
/// order, whatever the layout; analyses and exports take any of them.
pub trait FrameStream {
    /// The recording's metadata.
    fn header(&self) -> &Header;
    /// The next frame, or how the recording ends.
    ///
    /// # Errors
    /// As the readers'.
    fn next_frame(&mut self) -> Result<Next, FormatError>;
    /// Where the frame last returned starts in its file; 0 for a merged
    /// stream (its frames come from several files).
    fn frame_offset(&self) -> u64 {
        0
    }
}

impl<R: Read> FrameStream for RecordingReader<R> {
    fn header(&self) -> &Header {
        RecordingReader::header(self)
    }
    fn next_frame(&mut self) -> Result<Next, FormatError> {
        self.next()
    }
    fn frame_offset(&self) -> u64 {
        RecordingReader::frame_offset(self)
    }
}

impl FrameStream for SegmentedReader {
    fn header(&self) -> &Header {
        SegmentedReader::header(self)
    }
    fn next_frame(&mut self) -> Result<Next, FormatError> {
        self.next()
    }
}

impl FrameStream for SourceReader {
    fn header(&self) -> &Header {
        SourceReader::header(self)
    }
    fn next_frame(&mut self) -> Result<Next, FormatError> {
        self.next()
    }
    fn frame_offset(&self) -> u64 {
        match self {
            SourceReader::File(r) => r.frame_offset(),
            SourceReader::Segments(_) => 0,
        }
    }
}
