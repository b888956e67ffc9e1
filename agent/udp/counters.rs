//! A UDP proxy's counters: plain atomics the relay bumps and listings,
//! per-second stats and metrics read, so reading them costs the data path
//! nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::Direction;
use crate::faults::datagram::DatagramCounts;

#[derive(Debug, Default)]
pub struct UdpCounters {
    pub sessions_active: AtomicU64,
    pub sessions_total: AtomicU64,
    /// First datagrams of new clients turned away at the session cap.
    pub sessions_refused: AtomicU64,
    pub datagrams_c2s: AtomicU64,
    pub datagrams_s2c: AtomicU64,
    pub bytes_c2s: AtomicU64,
    pub bytes_s2c: AtomicU64,
    /// Client datagrams dropped because their session's queue was full (a
    /// session that cannot keep up never holds the others back).
    pub dropped_c2s: AtomicU64,
    /// Sends the upstream refused (ICMP port unreachable on the connected
    /// socket): the server is not there.
    pub upstream_unreachable: AtomicU64,
    /// What the fault profile did, summed over sessions, per direction
    /// (c2s, s2c).
    pub faults: [FaultCounters; 2],
}

/// What the faults did to one direction.
#[derive(Debug, Default)]
pub struct FaultCounters {
    pub lost: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
    /// Over the bandwidth queue's bound.
    pub dropped: AtomicU64,
}

impl FaultCounters {
    fn read(&self) -> DatagramCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DatagramCounts {
            seen: 0,
            lost: get(&self.lost),
            duplicated: get(&self.duplicated),
            reordered: get(&self.reordered),
            dropped: get(&self.dropped),
        }
    }
}

/// The counters read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpTotals {
    pub sessions_active: u64,
    pub sessions_total: u64,
    pub sessions_refused: u64,
    pub datagrams_c2s: u64,
    pub datagrams_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub dropped_c2s: u64,
    pub upstream_unreachable: u64,
    /// Summed over both directions.
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Per direction (`seen` is not kept: it is `datagrams_*`).
    pub faults_c2s: DatagramCounts,
    pub faults_s2c: DatagramCounts,
}

impl UdpCounters {
    /// One datagram relayed in `dir`.
    pub(super) fn relayed(&self, dir: Direction, bytes: usize) {
        let (n, b) = match dir {
            Direction::C2s => (&self.datagrams_c2s, &self.bytes_c2s),
            Direction::S2c => (&self.datagrams_s2c, &self.bytes_s2c),
        };
        n.fetch_add(1, Ordering::Relaxed);
        b.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// What a session's faults just did to `dir`.
    pub(super) fn add_faults(&self, dir: Direction, c: DatagramCounts) {
        let f = &self.faults[match dir {
            Direction::C2s => 0,
            Direction::S2c => 1,
        }];
        f.lost.fetch_add(c.lost, Ordering::Relaxed);
        f.duplicated.fetch_add(c.duplicated, Ordering::Relaxed);
        f.reordered.fetch_add(c.reordered, Ordering::Relaxed);
        f.dropped.fetch_add(c.dropped, Ordering::Relaxed);
    }

    pub fn totals(&self) -> UdpTotals {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (c2s, s2c) = (self.faults[0].read(), self.faults[1].read());
        UdpTotals {
            sessions_active: get(&self.sessions_active),
            sessions_total: get(&self.sessions_total),
            sessions_refused: get(&self.sessions_refused),
            datagrams_c2s: get(&self.datagrams_c2s),
            datagrams_s2c: get(&self.datagrams_s2c),
            bytes_c2s: get(&self.bytes_c2s),
            bytes_s2c: get(&self.bytes_s2c),
            dropped_c2s: get(&self.dropped_c2s),
            upstream_unreachable: get(&self.upstream_unreachable),
            lost: c2s.lost + s2c.lost,
            duplicated: c2s.duplicated + s2c.duplicated,
            reordered: c2s.reordered + s2c.reordered,
            faults_c2s: c2s,
            faults_s2c: s2c,
        }
    }
}
