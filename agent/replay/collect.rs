//! The report collector: the engine hands it every finished connection and
//! every released causal gate; it keeps the totals of all of them and the
//! detail of only the worst `REPORT_CONNECTIONS` connections and the first
//! `KEPT_RELAXATIONS` relaxations. Its memory is fixed, so a replay of
//! 300,000 connections reports as cheaply as one of ten, and its report
//! stays far below the gRPC message limit.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::lateness::Lateness;
use super::report::{ConnReport, Omitted, Relaxation, ReplayReport, UdpCounts};

/// Most connections a report lists one by one; the rest are summed.
pub const REPORT_CONNECTIONS: usize = 1_000;
/// Most relaxations a report lists; all are counted.
pub const KEPT_RELAXATIONS: usize = 100;

/// How bad a connection went, most important first: failed, diverged,
/// closed early, server timeouts, relaxations, then the latest chunk.
type Severity = (bool, bool, bool, u64, u64, u64);

fn severity(c: &ConnReport) -> Severity {
    (
        c.error.is_some(),
        c.divergence.is_some(),
        c.closed_early.is_some(),
        c.server_timeouts,
        c.relaxations,
        c.lateness.max_us(),
    )
}

/// A connection with its severity computed once. `Greater` means worse:
/// listed earlier and kept longer. Among equals the lower (copy,
/// recording, connection, pass) counts as worse, so the list is stable.
struct Ranked {
    severity: Severity,
    conn: ConnReport,
}

impl Ranked {
    fn key(&self) -> (u32, &str, u64, u32) {
        let c = &self.conn;
        (c.copy, &c.recording, c.rec_conn, c.pass)
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.severity
            .cmp(&other.severity)
            .then_with(|| other.key().cmp(&self.key()))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// A replay's report as its connections finish.
#[derive(Default)]
pub struct Collector {
    /// The worst connections so far; the top is the mildest of them, the
    /// first to leave when a worse one comes.
    kept: BinaryHeap<Reverse<Ranked>>,
    total: u64,
    divergences: u64,
    closed_early: u64,
    server_timeouts: u64,
    lateness: Lateness,
    omitted: Omitted,
    relaxations: u64,
    relaxed: Vec<Relaxation>,
    udp: Option<UdpCounts>,
    udp_sessions: u64,
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One finished connection (one copy, one pass): always counted in the
    /// totals; its detail is kept only if it is among the worst
    /// `REPORT_CONNECTIONS`.
    pub fn add(&mut self, c: ConnReport) {
        self.total += 1;
        self.divergences += u64::from(c.divergence.is_some());
        self.closed_early += u64::from(c.closed_early.is_some());
        self.server_timeouts += c.server_timeouts;
        self.lateness.extend(&c.lateness);
        if let Some(u) = &c.udp {
            self.udp.get_or_insert_default().add(u);
            self.udp_sessions += 1;
        }
        let new = Ranked {
            severity: severity(&c),
            conn: c,
        };
        if self.kept.len() < REPORT_CONNECTIONS {
            self.kept.push(Reverse(new));
            return;
        }
        let out = match self.kept.peek_mut() {
            Some(mut mildest) if new > mildest.0 => std::mem::replace(&mut mildest.0, new),
            _ => new,
        };
        self.omit(&out.conn);
    }

    fn omit(&mut self, c: &ConnReport) {
        let o = &mut self.omitted;
        o.count += 1;
        o.failed += u64::from(c.error.is_some());
        o.divergences += u64::from(c.divergence.is_some());
        o.closed_early += u64::from(c.closed_early.is_some());
        o.server_timeouts += c.server_timeouts;
        o.bytes_sent += c.bytes_sent;
        o.bytes_received += c.bytes_received;
    }

    /// Counted always; listed up to `KEPT_RELAXATIONS`, first come first kept.
    pub fn relaxation(&mut self, r: Relaxation) {
        self.relaxations += 1;
        if self.relaxed.len() < KEPT_RELAXATIONS {
            self.relaxed.push(r);
        }
    }

    /// Server timeouts of the finished connections.
    pub fn server_timeouts(&self) -> u64 {
        self.server_timeouts
    }

    /// Relaxations reported so far.
    pub fn relaxations(&self) -> u64 {
        self.relaxations
    }

    /// Fills the totals of `r` (divergences, closed_early, server_timeouts,
    /// relaxations, lateness, connections_total, omitted) but none of its
    /// lists: what a listing needs.
    pub fn fill_totals(&self, r: &mut ReplayReport) {
        r.divergences = self.divergences;
        r.closed_early = self.closed_early;
        r.server_timeouts = self.server_timeouts;
        r.relaxations = self.relaxations;
        r.lateness = self.lateness.summary();
        r.connections_total = self.total;
        r.omitted = self.omitted;
        r.udp = self.udp;
        r.udp_sessions = self.udp_sessions;
    }

    /// Fills `r`: the totals, the listed relaxations and the kept
    /// connections, worst first.
    pub fn fill(&self, r: &mut ReplayReport) {
        self.fill_totals(r);
        r.relaxed = self.relaxed.clone();
        let mut worst: Vec<&Ranked> = self.kept.iter().map(|k| &k.0).collect();
        worst.sort_unstable_by(|a, b| b.cmp(a));
        r.connections = worst.into_iter().map(|k| k.conn.clone()).collect();
    }
}

#[cfg(test)]
mod tests;
