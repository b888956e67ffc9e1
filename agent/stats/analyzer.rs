//! The one implementation of the traffic analysis: [`Analyzer`] folds frames,
//! in log order, into an [`Analysis`]; [`analyze_reader`] and
//! [`analyze_file`] drive it over a recording.
//!
//! Streaming with bounded memory: per connection one small fixed struct
//! (`connections`), per second one small bucket up to a cap (`timeline`),
//! per distinct message size or datagram size one histogram entry. No
//! payload is kept.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::analysis::{Analysis, ConnectionCounts, DirectionStats, RecordingEnd};
use super::connections::{Conns, Names};
use super::datagrams::SizeHistogram;
use super::error::StatsError;
use super::framing::FramingSpec;
use super::messages::MessageStatsBuilder;
use super::stream::StreamFraming;
use super::timeline::{Instants, NS_PER_SEC, Timeline, dir_index};
use crate::format::{
    DirSource, Frame, FrameBody, FrameStream, Next, RecordingReader, SegmentSource,
    SegmentedReader, Source, Transport, footer_of,
};

/// How many connections [`Analysis::top_connections`] lists by default.
pub const DEFAULT_TOP: usize = 10;

/// Longest top-connections list an analysis may be asked for (the agent's
/// AnalyzeRecording and `reelctl stats --top`): enough for any report; with
/// the timeline's 1,000 rows it bounds the answer's size.
pub const MAX_ANALYSIS_TOP: u32 = 100_000;

/// How far past the recording's span (its footer's stop time minus its
/// header's start time) a frame's timestamp may lie and still be trusted:
/// frame times come from a monotonic clock, the stop time from the wall
/// clock, which a time step may have moved. Later frames are reported as
/// corrupt.
pub const TS_SLACK_NS: u64 = 3600 * NS_PER_SEC;

/// What to compute besides the fixed figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// Length of the top-connections list.
    pub top: usize,
    /// Count messages with this framing (both directions).
    pub framing: Option<FramingSpec>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            top: DEFAULT_TOP,
            framing: None,
        }
    }
}

/// Folds the frames of one recording into an [`Analysis`].
#[derive(Debug)]
pub struct Analyzer {
    /// What was asked for.
    options: AnalyzeOptions,
    /// Frames observed.
    frames: u64,
    /// Largest `ts_ns` seen.
    last_ts_ns: u64,
    /// Start to stop from the header and footer, when known.
    span_ns: Option<u64>,
    /// Per-second buckets.
    timeline: Timeline,
    /// Connections by id.
    conns: Conns,
    /// Names the connections share.
    names: Names,
    /// Totals per direction (c2s, s2c).
    directions: [DirectionStats; 2],
    /// Message statistics per direction (used only with framing).
    messages: [MessageStatsBuilder; 2],
    /// Datagram sizes per direction.
    datagram_sizes: [SizeHistogram; 2],
}

impl Analyzer {
    /// An analyzer that has seen no frame.
    pub fn new(options: AnalyzeOptions) -> Self {
        Analyzer {
            options,
            frames: 0,
            last_ts_ns: 0,
            span_ns: None,
            timeline: Timeline::default(),
            conns: Conns::default(),
            names: Names::default(),
            directions: Default::default(),
            messages: Default::default(),
            datagram_sizes: Default::default(),
        }
    }

    /// The recording ran `span_ns` from start to stop (its footer's
    /// `ended_unix_ns` minus its header's `started_at_unix_ns`): the
    /// duration is at least that, idle tail included.
    pub fn recording_span(&mut self, span_ns: u64) {
        self.span_ns = Some(span_ns);
    }

    /// Counts one frame. Frames must come in the recording's log order.
    pub fn observe(&mut self, frame: &Frame) {
        self.frames += 1;
        self.last_ts_ns = self.last_ts_ns.max(frame.ts_ns);
        if let FrameBody::Loss { dir, bytes, .. } = &frame.body {
            let lost = &mut self.directions[dir_index(*dir)].lost_bytes;
            *lost = lost.saturating_add(*bytes);
        }
        // ANNOTATION never creates a connection, and conn 0 is none.
        if frame.conn == 0 || matches!(frame.body, FrameBody::Annotation { .. }) {
            return;
        }
        let spec = self.options.framing;
        let conn = self.conns.entry(frame.conn, frame.ts_ns, || {
            spec.map(|s| Box::new([StreamFraming::new(s, true), StreamFraming::new(s, true)]))
        });
        match &frame.body {
            FrameBody::Open(info) => {
                conn.client = Box::from(info.client.as_str());
                conn.proxy = self.names.intern(&info.proxy_id);
                conn.upstream = self.names.intern(&info.upstream);
                conn.mid_session = info.mid_session;
                conn.udp = info.transport == Transport::Udp;
                if info.mid_session {
                    // Its streams start inside some message: find a boundary.
                    for stream in conn.framing.iter_mut().flat_map(|f| f.iter_mut()) {
                        stream.lose_sync();
                    }
                }
            }
            FrameBody::Data { dir, payload } => {
                let i = dir_index(*dir);
                let len = payload.len() as u64;
                self.directions[i].bytes += len;
                self.directions[i].chunks += 1;
                self.timeline.data(frame.ts_ns, *dir, len);
                conn.bytes[i] += len;
                conn.chunks[i] += 1;
                if let Some(framing) = &mut conn.framing {
                    framing[i].data(payload, &mut self.messages[i]);
                }
            }
            FrameBody::Close { reason } => {
                if conn.closed_ts_ns.is_none() {
                    conn.closed_ts_ns = Some(frame.ts_ns);
                    conn.close_reason = self.names.intern(reason);
                }
            }
            FrameBody::Loss { dir, .. } => {
                // The stream has a hole: find the next message boundary.
                if let Some(framing) = &mut conn.framing {
                    framing[dir_index(*dir)].lose_sync();
                }
            }
            FrameBody::HalfClose { .. } | FrameBody::Annotation { .. } => {}
            FrameBody::Datagram { dir, payload } => {
                // Bytes like DATA's; the unit is the datagram, so no
                // framing (one datagram is one message).
                let i = dir_index(*dir);
                let len = payload.len() as u64;
                self.directions[i].bytes += len;
                self.directions[i].datagrams += 1;
                self.directions[i].datagram_bytes += len;
                self.datagram_sizes[i].add(len);
                self.timeline.datagram(frame.ts_ns, *dir, len);
                conn.bytes[i] += len;
                conn.datagrams[i] += 1;
            }
        }
    }

    /// The figures of every frame observed.
    pub fn finish(self) -> Analysis {
        let Analyzer {
            options,
            frames,
            last_ts_ns,
            span_ns,
            timeline,
            conns,
            names,
            mut directions,
            mut messages,
            datagram_sizes,
        } = self;
        let duration_ns = last_ts_ns.max(span_ns.unwrap_or(0));

        let mut counts = ConnectionCounts {
            total: conns.len() as u64,
            ..ConnectionCounts::default()
        };
        let mut instants = Instants {
            opens: Vec::with_capacity(conns.len()),
            closes: Vec::new(),
        };
        let mut connection_ns: u128 = 0;
        for c in conns.iter() {
            counts.mid_session += u64::from(c.mid_session);
            counts.udp_sessions += u64::from(c.udp);
            counts.closed += u64::from(c.closed_ts_ns.is_some());
            let end = c.closed_ts_ns.unwrap_or(duration_ns).max(c.opened_ts_ns);
            connection_ns += u128::from(end - c.opened_ts_ns);
            instants.opens.push(c.opened_ts_ns);
            if let Some(close) = c.closed_ts_ns {
                instants.closes.push(close.max(c.opened_ts_ns));
            }
            for (i, stream) in c.framing.iter().flat_map(|f| f.iter()).enumerate() {
                let (incomplete, unframed) = stream.rest(c.bytes[i]);
                messages[i].incomplete(incomplete);
                messages[i].unframed(unframed);
            }
        }
        instants.opens.sort_unstable();
        instants.closes.sort_unstable();
        let clipped = timeline.clipped();
        let figures = timeline.finish(frames > 0, duration_ns, last_ts_ns, &instants);
        drop(instants);
        counts.peak_online = figures.peak_online;
        counts.connection_seconds = connection_ns as f64 / NS_PER_SEC as f64;
        if duration_ns > 0 {
            counts.avg_online = connection_ns as f64 / duration_ns as f64;
        }

        let [m_c2s, m_s2c] = messages;
        let mut message_stats = [Some(m_c2s.finish()), Some(m_s2c.finish())];
        for (i, dir) in directions.iter_mut().enumerate() {
            if figures.seconds > 0 {
                // Over whole seconds, as the timeline counts them, so the
                // average never exceeds the peak second.
                dir.avg_bytes_per_sec = dir.bytes as f64 / figures.seconds as f64;
                dir.avg_datagrams_per_sec = dir.datagrams as f64 / figures.seconds as f64;
            }
            dir.peak_datagrams_per_sec = figures.peak_datagrams[i];
            dir.datagram_sizes = datagram_sizes[i].finish();
            if connection_ns > 0 {
                dir.bytes_per_sec_per_client = dir.bytes as f64 / counts.connection_seconds;
            }
            dir.peak_bytes_per_sec = figures.peak_bytes[i];
            dir.p95_bytes_per_sec = figures.p95_bytes[i];
            if options.framing.is_some() {
                dir.messages = message_stats[i].take();
            }
        }

        let top = conns.top(options.top, &names);
        let [c2s, s2c] = directions;
        Analysis {
            duration_ns,
            frames,
            connections: counts,
            c2s,
            s2c,
            timeline: figures.rows,
            timeline_clipped_frames: clipped,
            top_connections: top,
            framing: options.framing,
            end: None,
        }
    }
}

/// Analyses the recording read from `source` (it buffers; pass it raw).
/// Its footer, when it has a valid one, is read first: the recording's span
/// sets the duration and bounds the timestamps trusted. A cut or damaged
/// file, or a frame stamped past the span (plus [`TS_SLACK_NS`]), is
/// analysed up to there, reported in [`Analysis::end`].
///
/// # Errors
/// [`StatsError::Format`]: not a recording, a bad header, or an I/O error.
pub fn analyze_reader<R: Read + Seek>(
    mut source: R,
    options: AnalyzeOptions,
) -> Result<Analysis, StatsError> {
    let span_ns = footer_of(&mut source)?.map(|(header, footer)| {
        let span = i128::from(footer.ended_unix_ns) - i128::from(header.started_at_unix_ns);
        u64::try_from(span.max(0)).unwrap_or(u64::MAX)
    });
    source
        .seek(SeekFrom::Start(0))
        .map_err(crate::format::FormatError::from)?;
    analyze_frames(RecordingReader::open(source)?, span_ns, options)
}

/// Analyses the frames of `reader`; `span_ns` is the recording's span from
/// its footer, when known.
fn analyze_frames(
    mut reader: impl FrameStream,
    span_ns: Option<u64>,
    options: AnalyzeOptions,
) -> Result<Analysis, StatsError> {
    let mut analyzer = Analyzer::new(options);
    let limit = span_ns.map(|s| s.saturating_add(TS_SLACK_NS));
    if let Some(span) = span_ns {
        analyzer.recording_span(span);
    }
    let end = loop {
        match reader.next_frame()? {
            Next::Frame(frame) => match limit {
                Some(limit) if frame.ts_ns > limit => {
                    break RecordingEnd::Corrupted {
                        offset: reader.frame_offset(),
                        reason: format!(
                            "frame timestamp {} ns lies past the recording's end ({} ns from \
                             its header to its footer, plus {} s of slack); not analysed from here",
                            frame.ts_ns,
                            span_ns.unwrap_or(0),
                            TS_SLACK_NS / NS_PER_SEC
                        ),
                    };
                }
                _ => analyzer.observe(&frame),
            },
            Next::End(end) => break (&end).into(),
        }
    };
    let mut analysis = analyzer.finish();
    analysis.end = Some(end);
    Ok(analysis)
}

/// [`analyze_reader`] over the file at `path`.
///
/// # Errors
/// [`StatsError::Open`], or as [`analyze_reader`].
pub fn analyze_file(path: &Path, options: AnalyzeOptions) -> Result<Analysis, StatsError> {
    if path.is_dir() {
        return analyze_segments(path, options);
    }
    let file = File::open(path).map_err(|source| StatsError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    analyze_reader(file, options)
}

/// [`analyze_file`] of a segmented recording's directory.
fn analyze_segments(dir: &Path, options: AnalyzeOptions) -> Result<Analysis, StatsError> {
    analyze_segments_of(std::sync::Arc::new(DirSource(dir.to_path_buf())), options)
}

/// A segmented recording's frames merged, wherever its segments are (a
/// directory, the object store), its span from the index when the
/// recording finished.
fn analyze_segments_of(
    source: std::sync::Arc<dyn SegmentSource>,
    options: AnalyzeOptions,
) -> Result<Analysis, StatsError> {
    let span_ns = source.index()?.map(|i| {
        let span = i128::from(i.footer.ended_unix_ns) - i128::from(i.header.started_at_unix_ns);
        u64::try_from(span.max(0)).unwrap_or(u64::MAX)
    });
    analyze_frames(SegmentedReader::open(source)?, span_ns, options)
}

/// [`analyze_file`] of what a reader opens: a file, or segments wherever
/// they are (blocking: a store's segments are fetched as they are read).
///
/// # Errors
/// As [`analyze_file`].
pub fn analyze_source(source: &Source, options: AnalyzeOptions) -> Result<Analysis, StatsError> {
    match source {
        Source::File(path) => analyze_file(path, options),
        Source::Segments(segments) => analyze_segments_of(segments.clone(), options),
    }
}
