//! What the engine knows about one relayed connection. Shared (`Arc`) between
//! the relay task, the proxy's connection table and every recording that
//! takes its traffic, so a recorder can describe a connection it first hears
//! about mid-session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use crate::domain::{Direction, Transport};

/// One client connection and its upstream.
#[derive(Debug)]
pub struct ConnMeta {
    /// Unique within the agent's lifetime, across proxies, so one recording
    /// of several proxies never sees two connections with the same id.
    pub id: u64,
    pub proxy_id: Arc<str>,
    pub client: SocketAddr,
    /// The address actually connected to (the proxy's upstream, resolved).
    pub upstream: SocketAddr,
    pub opened_at: SystemTime,
    pub opened: Instant,
    /// A UDP session's traffic is datagrams (`TapKind::Datagram`).
    pub transport: Transport,
    bytes_c2s: AtomicU64,
    bytes_s2c: AtomicU64,
}

impl ConnMeta {
    pub fn new(id: u64, proxy_id: Arc<str>, client: SocketAddr, upstream: SocketAddr) -> Self {
        Self {
            id,
            proxy_id,
            client,
            upstream,
            opened_at: SystemTime::now(),
            opened: Instant::now(),
            transport: Transport::Tcp,
            bytes_c2s: AtomicU64::new(0),
            bytes_s2c: AtomicU64::new(0),
        }
    }

    pub(crate) fn add_bytes(&self, dir: Direction, n: u64) {
        match dir {
            Direction::C2s => self.bytes_c2s.fetch_add(n, Ordering::Relaxed),
            Direction::S2c => self.bytes_s2c.fetch_add(n, Ordering::Relaxed),
        };
    }

    pub fn bytes_c2s(&self) -> u64 {
        self.bytes_c2s.load(Ordering::Relaxed)
    }

    pub fn bytes_s2c(&self) -> u64 {
        self.bytes_s2c.load(Ordering::Relaxed)
    }
}
