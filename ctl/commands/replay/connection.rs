//! One replayed connection as reelctl shows it: divergence bytes as hex,
//! an empty error as null, and whether it is worth listing.

use reel::proto::{Divergence, Lateness, ReplayConnection};
use serde::{Serialize, Serializer};

use crate::download_check::hex;

/// Bytes that serialize as a lower-case hex string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hex(pub(crate) Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex(&self.0))
    }
}

/// Timing error of sent chunks against their schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct LatenessView {
    pub(crate) samples: u64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) max_us: u64,
}

impl From<Option<Lateness>> for LatenessView {
    fn from(lateness: Option<Lateness>) -> LatenessView {
        let l = lateness.unwrap_or_default();
        LatenessView {
            samples: l.samples,
            p50_us: l.p50_us,
            p99_us: l.p99_us,
            max_us: l.max_us,
        }
    }
}

/// Where a connection's server bytes first differed from the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DivergenceView {
    /// Offset in the connection's server-to-client stream.
    pub(crate) offset: u64,
    /// Recorded bytes from `offset` (a short excerpt).
    pub(crate) expected: Hex,
    /// Received bytes from `offset` (a short excerpt).
    pub(crate) received: Hex,
    pub(crate) reason: String,
}

impl From<Divergence> for DivergenceView {
    fn from(d: Divergence) -> DivergenceView {
        DivergenceView {
            offset: d.offset,
            expected: Hex(d.expected),
            received: Hex(d.received),
            reason: d.reason,
        }
    }
}

/// One replayed connection (one copy, one pass).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ConnectionView {
    pub(crate) recording: String,
    /// The connection's id in the recording.
    pub(crate) connection: u64,
    pub(crate) copy: u32,
    pub(crate) pass: u32,
    pub(crate) target: String,
    pub(crate) mid_session: bool,
    pub(crate) opened: bool,
    pub(crate) error: Option<String>,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) expected_sent: u64,
    pub(crate) expected_received: u64,
    pub(crate) lateness: LatenessView,
    pub(crate) divergence: Option<DivergenceView>,
    pub(crate) closed_early: bool,
    pub(crate) closed_early_at_ms: u64,
    pub(crate) closed_early_bytes: u64,
    pub(crate) server_timeouts: u64,
    /// Causal gates released for this connection before their bytes came.
    pub(crate) relaxations: u64,
}

impl ConnectionView {
    /// Whether the connection failed (could not open, or broke).
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Whether the default view lists it: failed, closed early or diverged.
    pub(crate) fn notable(&self) -> bool {
        self.failed() || self.closed_early || self.divergence.is_some()
    }
}

impl From<ReplayConnection> for ConnectionView {
    fn from(c: ReplayConnection) -> ConnectionView {
        ConnectionView {
            recording: c.recording,
            connection: c.connection,
            copy: c.copy,
            pass: c.pass,
            target: c.target,
            mid_session: c.mid_session,
            opened: c.opened,
            error: Some(c.error).filter(|e| !e.is_empty()),
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            expected_sent: c.expected_sent,
            expected_received: c.expected_received,
            lateness: c.lateness.into(),
            divergence: c.divergence.map(DivergenceView::from),
            closed_early: c.closed_early,
            closed_early_at_ms: c.closed_early_at_ms,
            closed_early_bytes: c.closed_early_bytes,
            server_timeouts: c.server_timeouts,
            relaxations: c.relaxations,
        }
    }
}
