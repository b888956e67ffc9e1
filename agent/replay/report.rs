//! What a replay reports: per connection and overall. Plain values, built by
//! the session and converted by the service; serde only for the report
//! files the agent keeps in its data directory (`store`).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::lateness::{Lateness, LatenessSummary};
use super::options::Mode;
use super::verify::Divergence;
use crate::rewrite::{RuleStats, Rules, Stats};

/// One replayed connection (one copy, one loop).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// Causal gates released before the server bytes they held this
    /// connection for had arrived.
    pub relaxations: u64,
    /// A UDP session's datagrams, beside its bytes: the unit it replays in.
    #[serde(default)]
    pub udp: Option<UdpCounts>,
}

/// What a replayed UDP session did, in datagrams. UDP may lose datagrams
/// for real: `missing` says how many, never hides it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpCounts {
    pub sent: u64,
    pub received: u64,
    /// What the recording holds each way.
    pub expected_sent: u64,
    pub expected_received: u64,
    /// Recorded server datagrams that never came: from `--verify`'s
    /// comparison, else the shortfall of `received` against the recording.
    pub missing: u64,
    /// ICMP port-unreachable reports the socket gave, on a send or a
    /// receive: each is a datagram the target refused (nothing listens on
    /// its port).
    pub refused: u64,
}

impl UdpCounts {
    /// Adds `o` to these totals.
    pub fn add(&mut self, o: &UdpCounts) {
        self.sent += o.sent;
        self.received += o.received;
        self.expected_sent += o.expected_sent;
        self.expected_received += o.expected_received;
        self.missing += o.missing;
        self.refused += o.refused;
    }
}

/// Why a causal gate stopped waiting before its server bytes came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaxReason {
    /// The awaited server stayed silent beyond its adaptive bound.
    Silent,
    /// Every connection that could move was waiting.
    Stalled,
    /// The wait reached `--server-timeout`.
    Timeout,
}

impl RelaxReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Silent => "silent",
            Self::Stalled => "stalled",
            Self::Timeout => "timeout",
        }
    }
}

/// One released causal gate: the replay stopped holding other connections
/// for server bytes of `awaited_conn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relaxation {
    pub recording: String,
    /// Recorded id of the connection whose server bytes were awaited.
    pub awaited_conn: u64,
    pub copy: u32,
    pub pass: u32,
    /// Server bytes the recording had there at that point, and received.
    pub expected: u64,
    pub received: u64,
    /// How long the gate held.
    pub waited: Duration,
    pub reason: RelaxReason,
    /// When it was released, since the replay started.
    pub at: Duration,
    /// Recorded id of the first connection the gate was holding back.
    pub held_conn: u64,
}

/// A connection of a running replay that waits, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    pub recording: String,
    pub rec_conn: u64,
    pub copy: u32,
    pub pass: u32,
    /// Index of the client step held back.
    pub step: u64,
    /// Waits for its own server bytes (else another connection's: a gate).
    pub own: bool,
    pub awaited_conn: u64,
    /// Server bytes awaited in total on the awaited connection, and received.
    pub expected: u64,
    pub received: u64,
    pub waiting: Duration,
}

pub use crate::domain::ReplayState;

/// Totals of the connections a bounded report does not list one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    pub count: u64,
    /// Connections that ended with an error.
    pub failed: u64,
    pub divergences: u64,
    pub closed_early: u64,
    pub server_timeouts: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// A replay's report; partial while it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayReport {
    pub id: String,
    pub state: ReplayState,
    pub mode: Mode,
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
    /// The worst connections, worst first, at most `REPORT_CONNECTIONS`.
    pub connections: Vec<ConnReport>,
    pub error: Option<String>,
    /// Causal gates released before their server bytes came.
    pub relaxations: u64,
    /// The first relaxations, in the order they happened.
    pub relaxed: Vec<Relaxation>,
    /// While running: connections waiting now, longest first.
    pub waits: Vec<Wait>,
    /// Connection reports in all (connections x copies x passes) so far.
    pub connections_total: u64,
    /// Totals of the connections not in `connections`.
    pub omitted: Omitted,
    /// With rules: what each rule did, over every connection so far.
    #[serde(default)]
    pub rules: Vec<RuleCount>,
    /// With rules: messages the framing could not split.
    #[serde(default)]
    pub unparsed_messages: u64,
    /// The UDP sessions' datagrams in all (finished sessions); `None` when
    /// the replay has none.
    #[serde(default)]
    pub udp: Option<UdpCounts>,
    /// UDP sessions among the finished connections.
    #[serde(default)]
    pub udp_sessions: u64,
}

/// The table of a rules file a rule is in (docs/REWRITE.md). Serialized by
/// its `as_str` name (report files keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleTable {
    #[default]
    Capture,
    Rewrite,
    Checksum,
    Ignore,
}

impl RuleTable {
    /// The table's name in a rules file.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleTable::Capture => "capture",
            RuleTable::Rewrite => "rewrite",
            RuleTable::Checksum => "checksum",
            RuleTable::Ignore => "ignore",
        }
    }
}

/// What one rule of a rules file did during a replay (see the proto's
/// `RuleCount` for each field's meaning per table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    pub table: RuleTable,
    pub index: u32,
    /// The capture's name (for a rewrite: the capture it takes from).
    pub name: String,
    pub matched: u64,
    pub applied: u64,
    pub recorded: u64,
    pub missed: u64,
    pub ignored_bytes: u64,
}

impl RuleCount {
    /// The counts of every rule of `rules`, in file order, from `stats`.
    pub fn all(rules: &Rules, stats: &Stats) -> Vec<RuleCount> {
        let one = |table: RuleTable, index: usize, name: &str, s: &RuleStats| RuleCount {
            table,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: name.to_string(),
            matched: s.matched,
            applied: s.applied + s.learned_live + s.checksums_fixed,
            recorded: s.learned_recorded,
            missed: s.missed,
            ignored_bytes: s.bytes_ignored,
        };
        let mut out = Vec::new();
        for (i, (c, s)) in rules.captures().iter().zip(&stats.capture).enumerate() {
            out.push(one(RuleTable::Capture, i, &c.name, s));
        }
        for (i, (r, s)) in rules.rewrites().iter().zip(&stats.rewrite).enumerate() {
            out.push(one(RuleTable::Rewrite, i, &r.from, s));
        }
        for (i, s) in stats.checksum.iter().enumerate() {
            out.push(one(RuleTable::Checksum, i, "", s));
        }
        for (i, s) in stats.ignore.iter().enumerate() {
            out.push(one(RuleTable::Ignore, i, "", s));
        }
        out
    }
}

impl ReplayReport {
    /// The same report without its lists (connections, relaxations, waits):
    /// what listings carry, a few hundred bytes whatever the replay's size.
    pub fn summary(&self) -> ReplayReport {
        ReplayReport {
            connections: Vec::new(),
            relaxed: Vec::new(),
            waits: Vec::new(),
            rules: Vec::new(),
            unparsed_messages: self.unparsed_messages,
            recordings: self.recordings.clone(),
            id: self.id.clone(),
            error: self.error.clone(),
            ..*self
        }
    }

    /// Whether the replay went as recorded: every connection opened and no
    /// divergence.
    pub fn clean(&self) -> bool {
        self.failed == 0 && self.divergences == 0 && self.error.is_none()
    }
}

impl ReplayReport {
    /// A report with nothing counted yet: callers set what they know.
    pub fn empty(id: &str, state: ReplayState, mode: Mode) -> ReplayReport {
        ReplayReport {
            id: id.to_string(),
            state,
            mode,
            speed: 1.0,
            recordings: Vec::new(),
            scheduled_start: None,
            started_at: None,
            duration: Duration::ZERO,
            planned: 0,
            opened: 0,
            failed: 0,
            finished: 0,
            bytes_sent: 0,
            bytes_received: 0,
            expected_sent: 0,
            expected_received: 0,
            lateness: LatenessSummary::default(),
            divergences: 0,
            closed_early: 0,
            server_timeouts: 0,
            connections: Vec::new(),
            error: None,
            relaxations: 0,
            relaxed: Vec::new(),
            waits: Vec::new(),
            connections_total: 0,
            omitted: Omitted::default(),
            rules: Vec::new(),
            unparsed_messages: 0,
            udp: None,
            udp_sessions: 0,
        }
    }

    /// A report with nothing in it yet, for tests.
    #[cfg(test)]
    pub(crate) fn blank(id: &str, state: ReplayState) -> ReplayReport {
        ReplayReport {
            recordings: vec!["r".into()],
            ..ReplayReport::empty(id, state, Mode::Fast)
        }
    }
}
