//! The few types every part of the engine speaks of — the proxy, the tap,
//! the recorder, replay, stats, the event bus — kept at the bottom of the
//! module graph so none of them has to import another for a word they
//! share. How a type is stored in a file is the format's business
//! (`format::frame` adds that); how a recording's listing is read from a
//! file is `record::info`'s.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Which way bytes travelled through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

impl Direction {
    /// `"c2s"` or `"s2c"`, as logs and reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }
}

/// What a proxy relays: byte streams or datagrams. Recordings, replay and
/// analysis follow it (a UDP session's unit is the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

impl Transport {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// For `skip_serializing_if`: TCP, the default, is left out of the
    /// file's JSON so a TCP-only recording is byte for byte what older
    /// builds wrote.
    pub fn is_tcp(&self) -> bool {
        *self == Transport::Tcp
    }
}

/// Where a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingStatus {
    /// Being written now.
    Recording,
    /// Stopped cleanly; the file has its footer.
    Complete,
    /// No footer: the agent died while writing. Readable up to the last
    /// complete frame.
    Recovered,
    /// Ended by a write error; the file holds what was written before it.
    Failed,
}

impl RecordingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Complete => "complete",
            Self::Recovered => "recovered",
            Self::Failed => "failed",
        }
    }
}

/// A recording as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    pub id: String,
    pub label: String,
    pub status: RecordingStatus,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub size_bytes: u64,
    pub connections: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub frames: u64,
    pub proxies: Vec<String>,
    /// Bytes known not to be captured (loss markers, or dropped after a write error).
    pub lost_bytes: u64,
    /// Bytes at the end of a recovered file that did not form a whole frame.
    pub truncated_bytes: u64,
    pub error: Option<String>,
    pub agent_name: String,
    /// A flight recorder in progress keeps only this last window of traffic.
    pub ring: Option<Duration>,
}

/// Where a replay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayState {
    /// Waiting for its scheduled start.
    Scheduled,
    Running,
    Finished,
    Stopped,
    Failed,
}

impl ReplayState {
    /// Whether the replay is over: its report is final.
    pub fn ended(self) -> bool {
        matches!(self, Self::Finished | Self::Stopped | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }
}
