//! One running proxy: its identity, counters, open connections and the
//! recordings tapping it. The connection table and the tap list share one
//! lock so that a recording starting and a connection opening or closing
//! always agree on which connections the recording must describe.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::ConnMeta;
use crate::faults::{FaultSpec, ProxyFaults};
use crate::fds::FdBudget;
use crate::format::{Direction, ProxyMeta};
use crate::histogram::{AtomicHistogram, HistogramSnapshot};
use crate::tap::{Tap, TapTable};

/// Where a proxy came from. Proxies started over the API (and those
/// restored) are saved in the data directory; a config file's are not, the
/// file starts them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A StartProxy call.
    #[default]
    Api,
    /// A `[[proxy]]` table of the config file.
    Config,
    /// The data directory's saved proxies, at agent start.
    Restored,
}

/// A running proxy. Shared by its accept loop, its connections and the registry.
#[derive(Debug)]
pub struct Proxy {
    pub id: Arc<str>,
    pub name: String,
    pub listen: SocketAddr,
    /// As given: host:port, resolved again for every client connection.
    pub upstream: String,
    pub started_at: SystemTime,
    /// Whether it came from the API, the config file or the saved proxies.
    pub origin: Origin,
    pub(crate) cancel: CancellationToken,
    pub(crate) counters: Counters,
    /// Agent-wide lock taken, while recording, around "write a client chunk
    /// upstream and log it", so the order of client chunks in a recording is
    /// the order they reached the servers. Causal replay depends on it.
    pub(crate) write_order: Arc<Mutex<()>>,
    /// The live fault profile its connections follow.
    pub faults: Arc<ProxyFaults>,
    /// Most concurrent clients, counted from accept (a client waiting for
    /// its upstream connect counts); more are closed at once and counted in
    /// `refused`.
    pub max_connections: u64,
    /// One permit per client, from accept to close (connect phase included):
    /// the accept loop takes it and the connection's task holds it until
    /// dropped, so `max_connections` bounds the sockets a proxy holds.
    pub(crate) slots: Arc<Semaphore>,
    /// The agent-wide budget of data-path file descriptors: a client is
    /// let in only with `FDS_PER_CONNECTION` of it, so clients can never
    /// take the descriptors the control plane needs.
    pub(crate) fds: FdBudget,
    /// Its open connections and the recordings tapping it.
    pub(super) table: TapTable,
}

/// Monotonic counters read by listings and the per-second stats.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub active: AtomicU64,
    pub total: AtomicU64,
    pub failed: AtomicU64,
    /// Clients closed at once because `max_connections` was reached or the
    /// agent's file-descriptor budget was spent (the close event says which).
    pub refused: AtomicU64,
    pub bytes_c2s: AtomicU64,
    pub bytes_s2c: AtomicU64,
    /// Chunks (reads handed on) each way: with the bytes, the mean chunk
    /// size a dashboard shows.
    pub chunks_c2s: AtomicU64,
    pub chunks_s2c: AtomicU64,
    /// Delays a fault profile applied to chunks, per direction (c2s, s2c),
    /// recorded as each chunk is released.
    pub fault_delay: [AtomicHistogram; 2],
}

impl Counters {
    /// Counts one chunk of `n` bytes.
    pub fn add_bytes(&self, dir: Direction, n: u64) {
        match dir {
            Direction::C2s => {
                self.bytes_c2s.fetch_add(n, Ordering::Relaxed);
                self.chunks_c2s.fetch_add(1, Ordering::Relaxed);
            }
            Direction::S2c => {
                self.bytes_s2c.fetch_add(n, Ordering::Relaxed);
                self.chunks_s2c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts the delay a fault profile gave a chunk of `dir`.
    pub fn add_fault_delay(&self, dir: Direction, delay: std::time::Duration) {
        self.fault_delay[dir_index(dir)].record(delay);
    }
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

/// A proxy's counters at one moment, for the metrics exporter: what
/// listings show plus chunk counts and fault delay histograms.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyMeters {
    pub id: String,
    pub name: String,
    pub active_connections: u64,
    pub total_connections: u64,
    pub failed_connections: u64,
    pub refused_connections: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub chunks_c2s: u64,
    pub chunks_s2c: u64,
    pub fault_delay_c2s: HistogramSnapshot,
    pub fault_delay_s2c: HistogramSnapshot,
}

/// A point-in-time view of a proxy for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInfo {
    pub id: String,
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: String,
    pub active_connections: u64,
    pub total_connections: u64,
    pub failed_connections: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub started_at: SystemTime,
    pub recordings: Vec<String>,
    pub faults: Arc<FaultSpec>,
    pub refused_connections: u64,
    pub max_connections: u64,
    /// Started again from the data directory's saved proxies at agent start.
    pub restored: bool,
    /// For a UDP proxy: what only datagrams have. Its connection counters
    /// count sessions, `failed_connections` the sends its upstream refused.
    pub udp: Option<UdpInfo>,
}

/// What a UDP proxy's listing adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpInfo {
    pub idle_timeout: std::time::Duration,
    pub datagrams_c2s: u64,
    pub datagrams_s2c: u64,
    /// Client datagrams dropped because their session's queue was full.
    pub dropped_c2s: u64,
    /// What the fault profile did to each direction.
    pub faults_c2s: crate::faults::datagram::DatagramCounts,
    pub faults_s2c: crate::faults::datagram::DatagramCounts,
}

/// What a new proxy is made of, as decided by the registry.
pub(crate) struct NewProxy {
    pub id: Arc<str>,
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: String,
    pub cancel: CancellationToken,
    pub write_order: Arc<Mutex<()>>,
    pub faults: FaultSpec,
    pub max_connections: u64,
    pub origin: Origin,
    pub fds: FdBudget,
}

impl Proxy {
    /// How a recording's header describes it.
    pub fn meta(&self) -> ProxyMeta {
        ProxyMeta {
            id: self.id.to_string(),
            name: self.name.clone(),
            listen: self.listen.to_string(),
            upstream: self.upstream.clone(),
            transport: crate::domain::Transport::Tcp,
        }
    }

    pub(crate) fn new(p: NewProxy) -> Self {
        Self {
            id: p.id,
            name: p.name,
            listen: p.listen,
            upstream: p.upstream,
            started_at: SystemTime::now(),
            origin: p.origin,
            cancel: p.cancel,
            counters: Counters::default(),
            write_order: p.write_order,
            faults: Arc::new(ProxyFaults::new(p.faults)),
            max_connections: p.max_connections,
            // A limit beyond what a semaphore holds (2^61 permits) is no
            // limit in practice: clamping it changes nothing.
            slots: Arc::new(Semaphore::new(
                usize::try_from(p.max_connections)
                    .unwrap_or(usize::MAX)
                    .min(Semaphore::MAX_PERMITS),
            )),
            fds: p.fds,
            table: TapTable::default(),
        }
    }

    /// The recordings to hand the next chunk to.
    pub(crate) fn taps(&self) -> Arc<[Tap]> {
        self.table.taps()
    }

    /// Adds a connection to the table; returns the taps that must hear of it.
    pub(crate) fn register(&self, conn: &Arc<ConnMeta>) -> Arc<[Tap]> {
        self.table.register(conn)
    }

    /// Removes a connection; returns the taps that must hear it closed.
    pub(crate) fn unregister(&self, id: u64) -> Arc<[Tap]> {
        self.table.unregister(id)
    }

    /// Its counters as of now; no lock is taken.
    pub fn meters(&self) -> ProxyMeters {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyMeters {
            id: self.id.to_string(),
            name: self.name.clone(),
            active_connections: load(&c.active),
            total_connections: load(&c.total),
            failed_connections: load(&c.failed),
            refused_connections: load(&c.refused),
            bytes_c2s: load(&c.bytes_c2s),
            bytes_s2c: load(&c.bytes_s2c),
            chunks_c2s: load(&c.chunks_c2s),
            chunks_s2c: load(&c.chunks_s2c),
            fault_delay_c2s: c.fault_delay[0].snapshot(),
            fault_delay_s2c: c.fault_delay[1].snapshot(),
        }
    }

    pub fn info(&self) -> ProxyInfo {
        let recordings = self.table.recording_ids();
        let c = &self.counters;
        ProxyInfo {
            id: self.id.to_string(),
            name: self.name.clone(),
            listen: self.listen,
            upstream: self.upstream.clone(),
            active_connections: c.active.load(Ordering::Relaxed),
            total_connections: c.total.load(Ordering::Relaxed),
            failed_connections: c.failed.load(Ordering::Relaxed),
            bytes_c2s: c.bytes_c2s.load(Ordering::Relaxed),
            bytes_s2c: c.bytes_s2c.load(Ordering::Relaxed),
            started_at: self.started_at,
            recordings,
            faults: self.faults.current(),
            refused_connections: c.refused.load(Ordering::Relaxed),
            max_connections: self.max_connections,
            restored: self.origin == Origin::Restored,
            udp: None,
        }
    }
}
