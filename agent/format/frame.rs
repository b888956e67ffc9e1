//! Frames: the typed events of a recording, and what decoding one yields.
//!
//! The byte layout lives in `codec`; these types are what the recorder
//! writes and what replay, stats and `reelctl` read.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::footer::Footer;
use super::layout::{DIR_C2S, DIR_S2C};

pub use crate::domain::{Direction, Transport};

/// A direction's byte in the file (`layout`'s codes).
impl Direction {
    /// The byte stored in a frame's `dir` field.
    pub fn code(self) -> u8 {
        match self {
            Direction::C2s => DIR_C2S,
            Direction::S2c => DIR_S2C,
        }
    }

    /// Parses a `dir` byte; `None` for 0 (no direction) and unknown values.
    pub fn from_code(code: u8) -> Option<Direction> {
        match code {
            DIR_C2S => Some(Direction::C2s),
            DIR_S2C => Some(Direction::S2c),
            _ => None,
        }
    }
}

/// Payload of an OPEN frame: where a connection came from and went to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenInfo {
    /// Client address as the proxy saw it.
    pub client: String,
    /// Proxy that accepted the connection (see `Header::proxies`).
    pub proxy_id: String,
    /// Upstream address the proxy connected to.
    pub upstream: String,
    /// The connection was already open when the recording started, so its
    /// earlier bytes are not in the file and a replay must not expect them.
    pub mid_session: bool,
    /// Wall-clock time the connection was accepted.
    pub opened_unix_ns: i64,
    /// `udp` for a UDP session (its traffic is DATAGRAM frames); absent
    /// for TCP.
    #[serde(skip_serializing_if = "Transport::is_tcp")]
    pub transport: Transport,
}

/// What a frame says happened.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBody {
    /// A connection opened.
    Open(OpenInfo),
    /// Bytes relayed in one direction, exactly as they were sent.
    Data {
        /// Which way they went.
        dir: Direction,
        /// The bytes.
        payload: Bytes,
    },
    /// One datagram of a UDP session, exactly as it was relayed: its
    /// boundaries are part of the traffic.
    Datagram {
        /// Which way it went.
        dir: Direction,
        /// The datagram.
        payload: Bytes,
    },
    /// The sender of `dir` shut down its write side.
    HalfClose {
        /// The direction that ended.
        dir: Direction,
    },
    /// The connection closed.
    Close {
        /// Why, for humans ("client closed", "upstream reset", ...).
        reason: String,
    },
    /// Bytes the recorder knows it did not capture.
    Loss {
        /// Which direction lost them.
        dir: Direction,
        /// How many bytes are missing.
        bytes: u64,
        /// Why ("disk full", "queue overflow", ...).
        reason: String,
    },
    /// Free text attached to the recording or a connection.
    Annotation {
        /// The text.
        text: String,
    },
}

/// One event of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Connection id within the recording; 0 for frames of no connection.
    pub conn: u64,
    /// Nanoseconds since `Header::started_at_unix_ns`.
    pub ts_ns: u64,
    /// What happened.
    pub body: FrameBody,
}

/// A complete, checksum-valid frame as decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A frame of a known kind.
    Frame(Frame),
    /// The footer; nothing but the trailer may follow it.
    Footer(Footer),
    /// A kind this build does not know (written by a newer reel); skipped.
    Unknown {
        /// The kind byte.
        kind: u8,
    },
}

/// Result of [`decode_frame`](super::decode_frame) on the bytes at a frame boundary.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A whole frame, `len` bytes long including length field and CRC.
    Item {
        /// What it holds.
        item: Item,
        /// Encoded size; the next frame starts this many bytes later.
        len: usize,
    },
    /// The buffer holds the start of a frame; `needed` bytes are required.
    NeedMore {
        /// Total bytes (from the frame start) needed to go on.
        needed: usize,
    },
    /// The frame is damaged: bad length, checksum or payload.
    Corrupted {
        /// What is wrong, for humans.
        reason: String,
    },
}
