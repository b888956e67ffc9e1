//! What a UDP proxy is asked to be, and its defaults.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::faults::datagram::DatagramSpec;
use crate::fds::FdBudget;
use crate::tap::TapTable;

/// How long a session lives without a datagram either way.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Most concurrent sessions of one proxy, as `--max-connections` for TCP.
pub const DEFAULT_MAX_SESSIONS: u64 = 10_000;

/// What a UDP proxy is asked to be.
#[derive(Debug, Clone)]
pub struct UdpSpec {
    /// host:port to bind; every address it resolves to is tried in turn.
    pub listen: String,
    /// host:port, resolved when a session opens.
    pub upstream: String,
    pub idle_timeout: Duration,
    pub max_sessions: u64,
    /// The faults sessions start with (`plan`).
    pub c2s: DatagramSpec,
    pub s2c: DatagramSpec,
    /// Same seed, same traffic: the same datagrams lost, duplicated, held.
    pub seed: Option<u64>,
    /// Where session ids come from: the agent shares one counter between
    /// TCP connections and UDP sessions, so an id names one of them only.
    pub session_ids: Arc<AtomicU64>,
    /// The agent's data-path descriptors: a session's upstream socket takes
    /// one, so sessions can never take those the control plane needs.
    pub fds: FdBudget,
    /// The proxy's id, as its sessions' recordings name it.
    pub proxy_id: Arc<str>,
    /// Open sessions and the recordings tapping the proxy: each session
    /// hands them its open, its datagrams as they arrive (before faults)
    /// and its close.
    pub taps: Arc<TapTable>,
}

/// What a UDP proxy's sessions do to datagrams: each direction's faults
/// and the seed. A proxy's plan can change while it runs
/// (`UdpProxy::set_faults`); sessions follow from their next datagram.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultPlan {
    pub c2s: DatagramSpec,
    pub s2c: DatagramSpec,
    pub seed: Option<u64>,
}

impl UdpSpec {
    /// The faults it starts with.
    pub fn plan(&self) -> FaultPlan {
        FaultPlan {
            c2s: self.c2s,
            s2c: self.s2c,
            seed: self.seed,
        }
    }

    pub fn new(listen: impl Into<String>, upstream: impl Into<String>) -> UdpSpec {
        UdpSpec {
            listen: listen.into(),
            upstream: upstream.into(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            c2s: DatagramSpec::default(),
            s2c: DatagramSpec::default(),
            seed: None,
            session_ids: Arc::new(AtomicU64::new(1)),
            fds: FdBudget::unlimited(),
            proxy_id: Arc::from("udp"),
            taps: Arc::new(TapTable::default()),
        }
    }
}
