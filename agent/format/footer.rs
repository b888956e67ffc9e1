//! The footer's data: totals over a recording and its per-connection
//! table. Plain values with serde, so frames can carry a footer without
//! knowing how it is counted (`summary.rs` counts).

use serde::{Deserialize, Serialize};

use super::layout::FRAME_OVERHEAD;
use crate::domain::Transport;

/// For `skip_serializing_if`: counts added in version 2 are left out at
/// zero, so a TCP-only footer is what version-1 builds wrote.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Totals over a whole recording.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Frames counted (the footer itself excluded).
    pub frames: u64,
    /// Distinct connections seen (an OPEN, or any frame with a non-zero conn).
    pub connections: u64,
    /// Client-to-server payload bytes.
    pub bytes_c2s: u64,
    /// Server-to-client payload bytes.
    pub bytes_s2c: u64,
    /// Client-to-server DATA frames (a replay sends one write per chunk).
    pub chunks_c2s: u64,
    /// Server-to-client DATA frames.
    pub chunks_s2c: u64,
    /// Client-to-server DATAGRAM frames (their bytes are in `bytes_c2s`).
    #[serde(skip_serializing_if = "is_zero")]
    pub datagrams_c2s: u64,
    /// Server-to-client DATAGRAM frames (their bytes are in `bytes_s2c`).
    #[serde(skip_serializing_if = "is_zero")]
    pub datagrams_s2c: u64,
    /// Bytes the recorder reported as not captured (sum of LOSS frames).
    pub lost_bytes: u64,
    /// Largest frame timestamp seen: the recording's duration in ns.
    pub last_ts_ns: u64,
}

impl Summary {
    /// Adds the totals of another part of the same recording (a segment):
    /// counts summed, the duration the longer of the two.
    pub fn add(&mut self, other: &Summary) {
        self.frames += other.frames;
        self.connections += other.connections;
        self.bytes_c2s += other.bytes_c2s;
        self.bytes_s2c += other.bytes_s2c;
        self.chunks_c2s += other.chunks_c2s;
        self.chunks_s2c += other.chunks_s2c;
        self.datagrams_c2s += other.datagrams_c2s;
        self.datagrams_s2c += other.datagrams_s2c;
        self.lost_bytes = self.lost_bytes.saturating_add(other.lost_bytes);
        self.last_ts_ns = self.last_ts_ns.max(other.last_ts_ns);
    }

    /// Whether these totals can describe `frame_bytes` bytes of frames: every
    /// frame takes at least `FRAME_OVERHEAD` bytes, a connection needs a
    /// frame, a chunk is a frame and payload bytes are inside frames. A
    /// footer failing this was crafted or damaged; its counts are not
    /// trusted (the file is recounted). LOSS totals are not bounded: they
    /// report bytes that are not in the file.
    pub fn fits_in(&self, frame_bytes: u64) -> bool {
        let min_bytes = self.frames.checked_mul(FRAME_OVERHEAD as u64);
        let chunks = [self.chunks_s2c, self.datagrams_c2s, self.datagrams_s2c]
            .iter()
            .try_fold(self.chunks_c2s, |a, b| a.checked_add(*b));
        let payload = self.bytes_c2s.checked_add(self.bytes_s2c);
        min_bytes.is_some_and(|b| b <= frame_bytes)
            && self.connections <= self.frames
            && chunks.is_some_and(|c| c <= self.frames)
            && payload.is_some_and(|p| p <= frame_bytes)
    }
}

/// One connection in the footer's table; also an index into the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnSummary {
    /// Connection id within the recording.
    pub conn: u64,
    /// Client address (empty when the OPEN frame is missing).
    pub client: String,
    /// Proxy that carried it (empty when the OPEN frame is missing).
    pub proxy_id: String,
    /// Upstream address (empty when the OPEN frame is missing).
    pub upstream: String,
    /// Already open when the recording started.
    pub mid_session: bool,
    /// `udp` for a UDP session (from the OPEN); absent for TCP.
    #[serde(skip_serializing_if = "Transport::is_tcp")]
    pub transport: Transport,
    /// Timestamp of the connection's first frame (its OPEN in a sound file).
    pub opened_ts_ns: u64,
    /// Timestamp of its CLOSE, if recorded.
    pub closed_ts_ns: Option<u64>,
    /// Reason given by its CLOSE, if recorded.
    pub close_reason: Option<String>,
    /// Client-to-server payload bytes.
    pub bytes_c2s: u64,
    /// Server-to-client payload bytes.
    pub bytes_s2c: u64,
    /// File offset of its first frame, so a reader can seek straight to it.
    pub first_frame_offset: u64,
}

/// The footer frame's payload: what a clean stop knows about the recording.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Footer {
    /// Totals.
    pub summary: Summary,
    /// Every connection, in order of first appearance.
    pub connections: Vec<ConnSummary>,
    /// Wall-clock time the recording stopped.
    pub ended_unix_ns: i64,
    /// Why it stopped ("stopped by user", "deadline", ...).
    pub end_reason: String,
    /// The error that stopped it, if any.
    pub error: Option<String>,
    /// Set when `connections` was left empty because the table did not fit
    /// in one frame (hundreds of thousands of connections): the totals stay
    /// exact; readers that want the table scan the frames.
    pub connection_detail_omitted: bool,
    /// Bytes past the last whole frame of a recording cut short by a
    /// crash. Never in a segment's own footer (a clean end writes those);
    /// set in the merged footer of the index an agent writes at start for
    /// a segmented recording the crash cut (`Index::complete` false), so a
    /// listing from that index reports the cut as a scan of the segments did.
    #[serde(skip_serializing_if = "is_zero")]
    pub truncated_bytes: u64,
}
