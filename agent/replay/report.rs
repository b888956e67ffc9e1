//! What a replay reports: per connection and overall. Plain values, built by
//! the session and converted by the service.

use std::time::{Duration, SystemTime};

use super::lateness::{Lateness, LatenessSummary};
use super::verify::Divergence;

/// One replayed connection (one copy, one loop).
#[derive(Debug, Clone, Default)]
pub struct ConnReport {
    pub recording: String,
    pub rec_conn: u64,
    /// Which of the `multiply` copies.
    pub copy: u32,
    /// Which pass of `loops`.
    pub pass: u32,
    pub target: String,
    pub mid_session: bool,
    pub opened: bool,
    pub error: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub expected_sent: u64,
    pub expected_received: u64,
    pub steps_total: usize,
    pub steps_done: usize,
    pub lateness: Lateness,
    /// First difference between received and recorded server bytes (verify).
    pub divergence: Option<Divergence>,
    /// The server closed before the client's script was done: when (since
    /// the replay started) and after how many bytes.
    pub closed_early: Option<(Duration, u64)>,
    /// Waits for server bytes (reactive/causal) that ran out of time.
    pub server_timeouts: u64,
}

/// Where a replay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayState {
    /// Waiting for its scheduled start.
    Scheduled,
    Running,
    Finished,
    Stopped,
    Failed,
}

impl ReplayState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }
}

/// A replay's report; partial while it runs.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    pub id: String,
    pub state: ReplayState,
    pub mode: &'static str,
    pub speed: f64,
    pub recordings: Vec<String>,
    pub scheduled_start: Option<SystemTime>,
    /// The instant the first connection's clock started (t0).
    pub started_at: Option<SystemTime>,
    pub duration: Duration,
    /// Connections the plan holds (after shard, times multiply and loops).
    pub planned: u64,
    pub opened: u64,
    pub failed: u64,
    pub finished: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub expected_sent: u64,
    pub expected_received: u64,
    pub lateness: LatenessSummary,
    pub divergences: u64,
    pub closed_early: u64,
    pub server_timeouts: u64,
    pub connections: Vec<ConnReport>,
    pub error: Option<String>,
}

impl ReplayReport {
    /// Fills the totals from the per-connection reports.
    pub fn total_from_connections(&mut self) {
        let mut all = Lateness::default();
        self.divergences = 0;
        self.closed_early = 0;
        self.server_timeouts = 0;
        for c in &self.connections {
            all.extend(&c.lateness);
            self.divergences += u64::from(c.divergence.is_some());
            self.closed_early += u64::from(c.closed_early.is_some());
            self.server_timeouts += c.server_timeouts;
        }
        self.lateness = all.summary();
    }

    /// Whether the replay went as recorded: every connection opened and no
    /// divergence.
    pub fn clean(&self) -> bool {
        self.failed == 0 && self.divergences == 0 && self.error.is_none()
    }
}
