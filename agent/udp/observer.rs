//! How the agent hears of a UDP proxy's sessions and datagrams. The relay
//! calls these on its own tasks, so they must be cheap and never block:
//! publishing an event is one `try_send`. A session is named by the same
//! `ConnMeta` its recordings see (recordings are fed through the proxy's
//! `TapTable`, not through this).

use std::time::Duration;

use bytes::Bytes;

use crate::domain::Direction;
use crate::tap::ConnMeta;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No datagram either way for the idle timeout.
    Idle,
    /// The proxy stopped.
    Stopped,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Idle => "idle",
            CloseReason::Stopped => "stopped",
        }
    }
}

/// What a session did, told when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionTotals {
    pub datagrams_c2s: u64,
    pub datagrams_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub duration: Duration,
}

pub trait UdpObserver: Send + Sync + 'static {
    fn session_opened(&self, _session: &ConnMeta) {}
    fn session_closed(&self, _session: &ConnMeta, _reason: CloseReason, _totals: SessionTotals) {}
    /// A datagram as it arrived, before faults (what a recording keeps).
    fn datagram(&self, _session: &ConnMeta, _dir: Direction, _payload: &Bytes) {}
}

/// For a proxy nobody watches.
pub struct NoObserver;

impl UdpObserver for NoObserver {}
