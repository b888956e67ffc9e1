//! Live totals of a replay, counted by its connections as things happen,
//! so a report of a running replay shows them before any connection ends.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::histogram::AtomicHistogram;

/// Totals shared by every connection of a replay, for live progress.
#[derive(Debug, Default)]
pub struct Progress {
    pub opened: AtomicU64,
    pub failed: AtomicU64,
    pub finished: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Waits for server bytes that ran out of time, counted when they do:
    /// a live report shows them before their connection has finished.
    pub server_timeouts: AtomicU64,
    /// Causal gates released so far, counted when released.
    pub relaxations: AtomicU64,
    /// The agent's lateness histogram (shared by every replay, so that it
    /// only grows), fed beside the replay's own report.
    pub lateness: Arc<AtomicHistogram>,
}
