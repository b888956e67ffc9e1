//! The parts of a replay's report beyond its totals, as reelctl shows them:
//! the connections waiting now (running replays), the causal gates that were
//! relaxed, the totals of the connections the agent did not list, and what
//! each session rewriting rule did.

use reel::proto::{OmittedConnections, RelaxReason, Relaxation, ReplayWait, RuleCount};
use serde::Serialize;

/// A connection of a running replay that waits, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct WaitView {
    pub(crate) recording: String,
    pub(crate) connection: u64,
    pub(crate) copy: u32,
    pub(crate) pass: u32,
    /// The client step held back (0 = the first after the connection opened).
    pub(crate) step: u64,
    /// True: waits for its own server bytes; false: for those of
    /// `awaited_connection` (a causal gate).
    pub(crate) own: bool,
    pub(crate) awaited_connection: u64,
    /// Server bytes awaited in all on the awaited connection, and received.
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) waiting_ms: u64,
}

impl From<ReplayWait> for WaitView {
    fn from(w: ReplayWait) -> WaitView {
        WaitView {
            recording: w.recording,
            connection: w.connection,
            copy: w.copy,
            pass: w.pass,
            step: w.step,
            own: w.own,
            awaited_connection: w.awaited_connection,
            expected: w.expected,
            received: w.received,
            waiting_ms: w.waiting_ms,
        }
    }
}

/// Why a causal gate was released before its server bytes came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RelaxReasonView {
    /// The awaited server stayed silent beyond its recorded answer time.
    Silent,
    /// Every connection that could move was waiting.
    Stalled,
    /// The wait reached --server-timeout.
    Timeout,
    /// A reason this reelctl does not know (a newer agent).
    Unknown,
}

impl RelaxReasonView {
    fn of(code: i32) -> RelaxReasonView {
        match RelaxReason::try_from(code) {
            Ok(RelaxReason::Silent) => RelaxReasonView::Silent,
            Ok(RelaxReason::Stalled) => RelaxReasonView::Stalled,
            Ok(RelaxReason::Timeout) => RelaxReasonView::Timeout,
            Ok(RelaxReason::Unspecified) | Err(_) => RelaxReasonView::Unknown,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RelaxReasonView::Silent => "silent",
            RelaxReasonView::Stalled => "stalled",
            RelaxReasonView::Timeout => "timeout",
            RelaxReasonView::Unknown => "unknown",
        }
    }
}

/// One released causal gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RelaxationView {
    pub(crate) recording: String,
    /// The connection whose server bytes were awaited.
    pub(crate) awaited_connection: u64,
    pub(crate) copy: u32,
    pub(crate) pass: u32,
    /// Server bytes the recording had there at that point, and received.
    pub(crate) expected: u64,
    pub(crate) received: u64,
    /// How long the gate held.
    pub(crate) waited_us: u64,
    pub(crate) reason: RelaxReasonView,
    /// When it was released, since the replay started.
    pub(crate) at_ms: u64,
    /// The first connection the gate held back.
    pub(crate) held_connection: u64,
}

impl From<Relaxation> for RelaxationView {
    fn from(r: Relaxation) -> RelaxationView {
        RelaxationView {
            recording: r.recording,
            awaited_connection: r.awaited_connection,
            copy: r.copy,
            pass: r.pass,
            expected: r.expected,
            received: r.received,
            waited_us: r.waited_us,
            reason: RelaxReasonView::of(r.reason),
            at_ms: r.at_ms,
            held_connection: r.held_connection,
        }
    }
}

/// Totals of the connections the report does not list one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct OmittedView {
    pub(crate) count: u64,
    pub(crate) failed: u64,
    pub(crate) divergences: u64,
    pub(crate) closed_early: u64,
    pub(crate) server_timeouts: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
}

impl From<Option<OmittedConnections>> for OmittedView {
    fn from(o: Option<OmittedConnections>) -> OmittedView {
        let o = o.unwrap_or_default();
        OmittedView {
            count: o.count,
            failed: o.failed,
            divergences: o.divergences,
            closed_early: o.closed_early,
            server_timeouts: o.server_timeouts,
            bytes_sent: o.bytes_sent,
            bytes_received: o.bytes_received,
        }
    }
}

/// What one rule of the replay's rules file did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RuleCountView {
    pub(crate) table: String,
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) matched: u64,
    pub(crate) applied: u64,
    pub(crate) recorded: u64,
    pub(crate) missed: u64,
    pub(crate) ignored_bytes: u64,
}

impl From<RuleCount> for RuleCountView {
    fn from(c: RuleCount) -> RuleCountView {
        RuleCountView {
            table: reel::wire::replay::rule_table(c.table)
                .map_or("unknown", reel::replay::RuleTable::as_str)
                .to_owned(),
            index: c.index,
            name: c.name,
            matched: c.matched,
            applied: c.applied,
            recorded: c.recorded,
            missed: c.missed,
            ignored_bytes: c.ignored_bytes,
        }
    }
}
