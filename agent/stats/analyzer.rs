//! The one implementation of the traffic analysis: [`Analyzer`] folds frames,
//! in log order, into an [`Analysis`]; [`analyze_reader`] and
//! [`analyze_file`] drive it over a recording.
//!
//! Streaming with bounded memory: per connection a few counters and two
//! deframers of constant size, per second one small bucket, per distinct
//! message size one histogram entry. No payload is kept.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::analysis::{Analysis, ConnectionCounts, ConnectionStats, DirectionStats};
use super::codec::Deframer;
use super::error::StatsError;
use super::framing::FramingSpec;
use super::messages::MessageStatsBuilder;
use super::percentile::percentile;
use super::timeline::{Interval, NS_PER_SEC, Timeline, dir_index};
use crate::format::{Direction, Frame, FrameBody, Next, RecordingReader};

/// How many connections [`Analysis::top_connections`] lists by default.
pub const DEFAULT_TOP: usize = 10;

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

/// Framing state of one direction of one connection.
#[derive(Debug)]
struct Stream {
    /// `Some` while framing goes on; `None` once it stopped (mid-session
    /// start, a loss, an invalid length) or when no framing was asked for.
    deframer: Option<Deframer>,
    /// DATA bytes of this stream.
    bytes: u64,
    /// Bytes of this stream in complete messages.
    framed: u64,
}

impl Stream {
    fn new(framing: Option<FramingSpec>) -> Self {
        Stream {
            deframer: framing.map(Deframer::new),
            bytes: 0,
            framed: 0,
        }
    }
}

/// What the analysis keeps per connection.
#[derive(Debug)]
struct Conn {
    /// The totals reported for it.
    stats: ConnectionStats,
    /// c2s and s2c framing.
    streams: [Stream; 2],
}

/// Folds the frames of one recording into an [`Analysis`].
#[derive(Debug)]
pub struct Analyzer {
    /// What was asked for.
    options: AnalyzeOptions,
    /// Frames observed.
    frames: u64,
    /// Largest `ts_ns` seen: the end of the recording.
    last_ts_ns: u64,
    /// Per-second buckets.
    timeline: Timeline,
    /// Connections by id.
    conns: HashMap<u64, Conn>,
    /// Totals per direction (c2s, s2c).
    directions: [DirectionStats; 2],
    /// Message statistics per direction (used only with framing).
    messages: [MessageStatsBuilder; 2],
}

impl Analyzer {
    /// An analyzer that has seen no frame.
    pub fn new(options: AnalyzeOptions) -> Self {
        Analyzer {
            options,
            frames: 0,
            last_ts_ns: 0,
            timeline: Timeline::default(),
            conns: HashMap::new(),
            directions: Default::default(),
            messages: Default::default(),
        }
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
        let framing = self.options.framing;
        let conn = self.conns.entry(frame.conn).or_insert_with(|| Conn {
            stats: ConnectionStats {
                conn: frame.conn,
                opened_ts_ns: frame.ts_ns,
                ..ConnectionStats::default()
            },
            streams: [Stream::new(framing), Stream::new(framing)],
        });
        match &frame.body {
            FrameBody::Open(info) => {
                conn.stats.client.clone_from(&info.client);
                conn.stats.upstream.clone_from(&info.upstream);
                conn.stats.proxy_id.clone_from(&info.proxy_id);
                conn.stats.mid_session = info.mid_session;
                if info.mid_session {
                    // Its streams start inside some message: framing would guess.
                    for stream in &mut conn.streams {
                        stream.deframer = None;
                    }
                }
            }
            FrameBody::Data { dir, payload } => {
                let i = dir_index(*dir);
                let len = payload.len() as u64;
                self.directions[i].bytes += len;
                self.directions[i].chunks += 1;
                self.timeline.data(frame.ts_ns, *dir, len);
                match dir {
                    Direction::C2s => {
                        conn.stats.bytes_c2s += len;
                        conn.stats.chunks_c2s += 1;
                    }
                    Direction::S2c => {
                        conn.stats.bytes_s2c += len;
                        conn.stats.chunks_s2c += 1;
                    }
                }
                let stream = &mut conn.streams[i];
                stream.bytes += len;
                if let Some(deframer) = &mut stream.deframer {
                    let messages = &mut self.messages[i];
                    let framed = &mut stream.framed;
                    let fed = deframer.feed(payload, |size| {
                        messages.message(size);
                        *framed += size;
                    });
                    if fed.is_err() {
                        messages.framing_error();
                        stream.deframer = None;
                    }
                }
            }
            FrameBody::Close { reason } => {
                if conn.stats.closed_ts_ns.is_none() {
                    conn.stats.closed_ts_ns = Some(frame.ts_ns);
                    conn.stats.close_reason = Some(reason.clone());
                }
            }
            FrameBody::Loss { dir, .. } => {
                // The stream has a hole: message boundaries after it are unknown.
                conn.streams[dir_index(*dir)].deframer = None;
            }
            FrameBody::HalfClose { .. } | FrameBody::Annotation { .. } => {}
        }
    }

    /// The figures of every frame observed.
    pub fn finish(self) -> Analysis {
        let Analyzer {
            options,
            frames,
            last_ts_ns,
            timeline,
            conns,
            mut directions,
            mut messages,
        } = self;
        let mut conns: Vec<Conn> = conns.into_values().collect();
        conns.sort_unstable_by_key(|c| c.stats.conn);

        let mut counts = ConnectionCounts {
            total: conns.len() as u64,
            ..ConnectionCounts::default()
        };
        let mut intervals = Vec::with_capacity(conns.len());
        let mut connection_ns: u128 = 0;
        for conn in &conns {
            let s = &conn.stats;
            counts.mid_session += u64::from(s.mid_session);
            counts.closed += u64::from(s.closed_ts_ns.is_some());
            let end = s.closed_ts_ns.unwrap_or(last_ts_ns).max(s.opened_ts_ns);
            connection_ns += u128::from(end - s.opened_ts_ns);
            intervals.push(Interval {
                open_ns: s.opened_ts_ns,
                close_ns: s.closed_ts_ns,
            });
            for (i, stream) in conn.streams.iter().enumerate() {
                let rest = stream.bytes - stream.framed;
                if stream.deframer.is_some() {
                    messages[i].incomplete(rest);
                } else {
                    messages[i].unframed(rest);
                }
            }
        }
        let clipped = timeline.clipped();
        let (rows, peak) = timeline.finish(frames > 0, last_ts_ns, &intervals);
        counts.peak_online = peak;
        counts.connection_seconds = connection_ns as f64 / NS_PER_SEC as f64;
        let duration_s = last_ts_ns as f64 / NS_PER_SEC as f64;
        if last_ts_ns > 0 {
            counts.avg_online = connection_ns as f64 / last_ts_ns as f64;
        }

        let [m_c2s, m_s2c] = messages;
        let mut message_stats = [Some(m_c2s.finish()), Some(m_s2c.finish())];
        for (i, dir) in directions.iter_mut().enumerate() {
            if last_ts_ns > 0 {
                dir.avg_bytes_per_sec = dir.bytes as f64 / duration_s;
            }
            if connection_ns > 0 {
                dir.bytes_per_sec_per_client = dir.bytes as f64 / counts.connection_seconds;
            }
            let mut per_second: Vec<u64> = rows
                .iter()
                .map(|r| if i == 0 { r.bytes_c2s } else { r.bytes_s2c })
                .collect();
            dir.peak_bytes_per_sec = per_second.iter().copied().max().unwrap_or(0);
            dir.p95_bytes_per_sec = percentile(&mut per_second, 95);
            if options.framing.is_some() {
                dir.messages = message_stats[i].take();
            }
        }

        let mut top: Vec<ConnectionStats> = conns.into_iter().map(|c| c.stats).collect();
        top.sort_by(|a, b| {
            (b.bytes_c2s + b.bytes_s2c)
                .cmp(&(a.bytes_c2s + a.bytes_s2c))
                .then(a.conn.cmp(&b.conn))
        });
        top.truncate(options.top);

        let [c2s, s2c] = directions;
        Analysis {
            duration_ns: last_ts_ns,
            frames,
            connections: counts,
            c2s,
            s2c,
            timeline: rows,
            timeline_clipped_frames: clipped,
            top_connections: top,
            framing: options.framing,
            end: None,
        }
    }
}

/// Analyses the recording read from `source` (it buffers; pass it raw).
/// A cut or damaged file is analysed up to the damage, reported in
/// [`Analysis::end`].
///
/// # Errors
/// [`StatsError::Format`]: not a recording, a bad header, or an I/O error.
pub fn analyze_reader<R: Read>(source: R, options: AnalyzeOptions) -> Result<Analysis, StatsError> {
    let mut reader = RecordingReader::open(source)?;
    let mut analyzer = Analyzer::new(options);
    let end = loop {
        match reader.next()? {
            Next::Frame(frame) => analyzer.observe(&frame),
            Next::End(end) => break end,
        }
    };
    let mut analysis = analyzer.finish();
    analysis.end = Some((&end).into());
    Ok(analysis)
}

/// [`analyze_reader`] over the file at `path`.
///
/// # Errors
/// [`StatsError::Open`], or as [`analyze_reader`].
pub fn analyze_file(path: &Path, options: AnalyzeOptions) -> Result<Analysis, StatsError> {
    let file = File::open(path).map_err(|source| StatsError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    analyze_reader(file, options)
}
