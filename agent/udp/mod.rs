//! UDP proxies (issue 16): each client address is a session with its own
//! connected upstream socket, created on its first datagram and closed after
//! an idle timeout; datagram boundaries are kept exactly. `relay` is the
//! listening socket's loop, `session` one client's two directions and their
//! faults, `counters` what listings and metrics read, `observer` how the
//! rest of the agent hears of sessions and datagrams (events, recording
//! taps) without the relay knowing either.

mod counters;
mod observer;
mod relay;
mod session;

pub use counters::{UdpCounters, UdpTotals};
pub use observer::{CloseReason, NoObserver, SessionInfo, SessionTotals, UdpObserver};
pub use relay::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, UdpProxy, UdpSpec};

#[cfg(test)]
mod tests;
