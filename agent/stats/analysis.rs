//! The result of analysing a recording, as printed by `reelctl` (JSON) and
//! returned by the agent's AnalyzeRecording: totals, rates, the per-second
//! timeline, the busiest connections, and what the figures project to.
//!
//! Every figure is defined in `docs/ANALYSIS.md`; the doc comments here say
//! the same briefly.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::datagrams::DatagramSizes;
use super::framing::FramingSpec;
use super::messages::MessageStats;
use super::timeline::SecondStats;
use crate::format::{End, Transport};

/// Traffic figures of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Nanoseconds from the recording's start to its stop (header to
    /// footer), or to its last frame when that is later or there is no
    /// footer: the span connections and `avg_online` are taken over.
    pub duration_ns: u64,
    /// Frames read (every kind, footer excluded).
    pub frames: u64,
    /// Connection counts.
    pub connections: ConnectionCounts,
    /// Client→server traffic: the server's ingress.
    pub c2s: DirectionStats,
    /// Server→client traffic: the server's egress.
    pub s2c: DirectionStats,
    /// Rows from second 0 to the second holding the end of the recording:
    /// one per second, or, past [`super::MAX_TIMELINE_ROWS`] seconds, one
    /// per `seconds` seconds so there are at most that many.
    pub timeline: Vec<SecondStats>,
    /// DATA and DATAGRAM frames past the timeline's length cap (counted
    /// everywhere else).
    pub timeline_clipped_frames: u64,
    /// The busiest connections by bytes both ways, most first.
    pub top_connections: Vec<ConnectionStats>,
    /// The framing the messages were counted with, if any.
    pub framing: Option<FramingSpec>,
    /// How the recording file ended, when the analysis read a file.
    pub end: Option<RecordingEnd>,
}

/// How many connections, and how many at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionCounts {
    /// Distinct connections (any frame but ANNOTATION makes one).
    pub total: u64,
    /// Most connections online at the same instant.
    pub peak_online: u64,
    /// Connections whose OPEN says `mid_session`.
    pub mid_session: u64,
    /// Connections with a CLOSE frame.
    pub closed: u64,
    /// Connection-seconds: the sum over connections of the time from their
    /// first frame to their CLOSE (or to the end of the recording, `duration_ns`).
    pub connection_seconds: f64,
    /// Average connections online: `connection_seconds / duration`.
    pub avg_online: f64,
    /// Of `total`, the UDP sessions (their OPEN says `transport: udp`).
    #[serde(default)]
    pub udp_sessions: u64,
}

/// Traffic of one direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectionStats {
    /// Payload bytes of DATA and DATAGRAM frames.
    pub bytes: u64,
    /// DATA frames.
    pub chunks: u64,
    /// Bytes that LOSS frames say were not captured.
    pub lost_bytes: u64,
    /// `bytes` over the whole seconds the recording touches (⌊duration⌋ + 1):
    /// the mean of the per-second bytes, so never above the peak second.
    pub avg_bytes_per_sec: f64,
    /// 95th percentile (nearest rank) of the timeline's per-second bytes.
    pub p95_bytes_per_sec: u64,
    /// Largest per-second bytes of the timeline.
    pub peak_bytes_per_sec: u64,
    /// `bytes / connection_seconds` = `avg_bytes_per_sec / avg_online`:
    /// what one online client costs, in bytes per second.
    pub bytes_per_sec_per_client: f64,
    /// Message figures, when a framing was given.
    pub messages: Option<MessageStats>,
    /// DATAGRAM frames (UDP datagrams).
    #[serde(default)]
    pub datagrams: u64,
    /// Their payload bytes (part of `bytes`).
    #[serde(default)]
    pub datagram_bytes: u64,
    /// `datagrams` over the whole seconds the recording touches, as
    /// `avg_bytes_per_sec`: never above the peak second.
    #[serde(default)]
    pub avg_datagrams_per_sec: f64,
    /// Most datagrams in one second of the timeline.
    #[serde(default)]
    pub peak_datagrams_per_sec: u64,
    /// Datagram sizes; `None` without datagrams.
    #[serde(default)]
    pub datagram_sizes: Option<DatagramSizes>,
}

/// One connection's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// Connection id within the recording.
    pub conn: u64,
    /// Client address (from the OPEN; empty without one).
    pub client: String,
    /// Upstream the proxy connected to (from the OPEN).
    pub upstream: String,
    /// Proxy that accepted it (from the OPEN).
    pub proxy_id: String,
    /// It was already open when the recording started.
    pub mid_session: bool,
    /// Timestamp of its first frame.
    pub opened_ts_ns: u64,
    /// Timestamp of its CLOSE, if recorded.
    pub closed_ts_ns: Option<u64>,
    /// Reason of its CLOSE, if recorded.
    pub close_reason: Option<String>,
    /// DATA and DATAGRAM payload bytes client→server.
    pub bytes_c2s: u64,
    /// DATA and DATAGRAM payload bytes server→client.
    pub bytes_s2c: u64,
    /// DATA frames client→server.
    pub chunks_c2s: u64,
    /// DATA frames server→client.
    pub chunks_s2c: u64,
    /// `udp` for a UDP session (from its OPEN), else `tcp`.
    #[serde(default)]
    pub transport: Transport,
    /// DATAGRAM frames client→server.
    #[serde(default)]
    pub datagrams_c2s: u64,
    /// DATAGRAM frames server→client.
    #[serde(default)]
    pub datagrams_s2c: u64,
}

/// Server bandwidth projected for a number of online clients.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// The number of clients projected for.
    pub online: u64,
    /// Client→server bytes per second the server would receive.
    pub ingress_bytes_per_sec: f64,
    /// Server→client bytes per second the server would send.
    pub egress_bytes_per_sec: f64,
}

/// How the analysed file ended (see `docs/FORMAT.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecordingEnd {
    /// Footer and trailer present: every frame was analysed.
    Complete,
    /// The file stops early; every frame before the cut was analysed.
    Truncated {
        /// Intact bytes.
        valid_bytes: u64,
        /// Bytes of a partial frame that were dropped.
        cut_bytes: u64,
    },
    /// A frame is damaged; the frames before it were analysed.
    Corrupted {
        /// Offset of the damaged frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl From<&End> for RecordingEnd {
    fn from(end: &End) -> Self {
        match end {
            End::Complete(_) => RecordingEnd::Complete,
            End::Truncated {
                valid_bytes,
                cut_bytes,
            } => RecordingEnd::Truncated {
                valid_bytes: *valid_bytes,
                cut_bytes: *cut_bytes,
            },
            End::Corrupted { offset, reason, .. } => RecordingEnd::Corrupted {
                offset: *offset,
                reason: reason.clone(),
            },
        }
    }
}

/// Column names of [`Analysis::timeline_csv`], in order (`seconds`, the
/// row's width, and the datagram counts last so older readers still find
/// their columns).
pub const TIMELINE_CSV_HEADER: &str = "second,bytes_c2s,bytes_s2c,chunks_c2s,chunks_s2c,online,\
     online_peak,seconds,datagrams_c2s,datagrams_s2c";

impl Analysis {
    /// Projected server bandwidth with `online` clients, each costing the
    /// recording's per-client rates ([`DirectionStats::bytes_per_sec_per_client`]).
    pub fn project(&self, online: u64) -> Projection {
        Projection {
            online,
            ingress_bytes_per_sec: self.c2s.bytes_per_sec_per_client * online as f64,
            egress_bytes_per_sec: self.s2c.bytes_per_sec_per_client * online as f64,
        }
    }

    /// The timeline as CSV: the [`TIMELINE_CSV_HEADER`] line, then one line
    /// per row; `\n` line ends.
    pub fn timeline_csv(&self) -> String {
        let mut out = String::with_capacity(64 * (self.timeline.len() + 1));
        out.push_str(TIMELINE_CSV_HEADER);
        out.push('\n');
        for r in &self.timeline {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                r.second,
                r.bytes_c2s,
                r.bytes_s2c,
                r.chunks_c2s,
                r.chunks_s2c,
                r.online,
                r.online_peak,
                r.seconds,
                r.datagrams_c2s,
                r.datagrams_s2c
            );
        }
        out
    }
}
