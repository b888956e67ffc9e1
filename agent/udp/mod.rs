//! UDP proxies (issue 16): each client address is a session with its own
//! connected upstream socket, created on its first datagram and closed after
//! an idle timeout; datagram boundaries are kept exactly. `relay` is the
//! listening socket's loop, `spec` what a proxy is asked to be, `session` one client's two directions and their
//! faults, `connect` the connected upstream socket (replay's UDP sessions
//! use it too), `counters` what listings and metrics read, `observer` how
//! the rest of the agent hears of sessions and datagrams (events) without
//! the relay knowing it.

mod connect;
mod counters;
mod observer;
mod relay;
mod session;
mod spec;

pub use connect::connected_socket;
pub use counters::{UdpCounters, UdpTotals};
pub use observer::{CloseReason, NoObserver, SessionTotals, UdpObserver};
pub use relay::UdpProxy;
pub use spec::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, FaultPlan, UdpSpec};

#[cfg(test)]
mod tests;
