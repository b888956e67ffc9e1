//! A replay's report as reelctl shows it: the agent's `ReplayReport` with
//! instants as RFC 3339, divergence bytes as hex, empty strings as null; and
//! the rules that decide whether a report fails the run.

use reel::proto;
use serde::Serialize;

use super::connection::{ConnectionView, LatenessView};
use super::detail::{OmittedView, RelaxationView, RuleCountView, WaitView};
use crate::plural::count;
use crate::timestamp::UnixNanos;

/// Where a replay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReplayState {
    /// Waiting for its scheduled start.
    Scheduled,
    Running,
    /// Every connection ran its course.
    Finished,
    /// Stopped by request (StopReplay, Ctrl-C) or by the agent shutting down.
    Stopped,
    /// Could not run; `error` says why.
    Failed,
    /// A state this reelctl does not know (a newer agent); treated as running.
    Unknown,
}

impl ReplayState {
    /// The state of an agent's `ReplayState` value.
    pub(crate) fn from_wire(value: i32) -> ReplayState {
        use reel::domain::ReplayState as Engine;
        match reel::wire::replay::state(value) {
            Some(Engine::Scheduled) => ReplayState::Scheduled,
            Some(Engine::Running) => ReplayState::Running,
            Some(Engine::Finished) => ReplayState::Finished,
            Some(Engine::Stopped) => ReplayState::Stopped,
            Some(Engine::Failed) => ReplayState::Failed,
            None => ReplayState::Unknown,
        }
    }

    /// The word used in tables and JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReplayState::Scheduled => "scheduled",
            ReplayState::Running => "running",
            ReplayState::Finished => "finished",
            ReplayState::Stopped => "stopped",
            ReplayState::Failed => "failed",
            ReplayState::Unknown => "unknown",
        }
    }

    /// Whether the replay is over: its report is final.
    pub(crate) fn ended(self) -> bool {
        matches!(
            self,
            ReplayState::Finished | ReplayState::Stopped | ReplayState::Failed
        )
    }
}

/// A replay's report; partial while it runs, with `connections` once ended
/// (the worst ones, at most 1,000; `omitted` sums the rest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReplayView {
    pub(crate) id: String,
    pub(crate) state: ReplayState,
    pub(crate) mode: String,
    pub(crate) speed: f64,
    pub(crate) recordings: Vec<String>,
    /// The agent's clock; null when the replay started at once.
    pub(crate) scheduled_start: Option<UnixNanos>,
    /// The agent's clock; null before the start.
    pub(crate) started_at: Option<UnixNanos>,
    pub(crate) duration_ms: u64,
    pub(crate) planned: u64,
    pub(crate) opened: u64,
    pub(crate) failed: u64,
    pub(crate) finished: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) expected_sent: u64,
    pub(crate) expected_received: u64,
    pub(crate) lateness: LatenessView,
    pub(crate) divergences: u64,
    pub(crate) closed_early: u64,
    pub(crate) server_timeouts: u64,
    pub(crate) connections: Vec<ConnectionView>,
    pub(crate) error: Option<String>,
    /// Causal gates released before their server bytes came.
    pub(crate) relaxations: u64,
    /// The first relaxations, in the order they happened.
    pub(crate) relaxed: Vec<RelaxationView>,
    /// While running: the connections waiting now, longest first.
    pub(crate) waits: Vec<WaitView>,
    /// Connection reports in all (connections x copies x passes).
    pub(crate) connections_total: u64,
    /// Totals of the connections not in `connections`.
    pub(crate) omitted: OmittedView,
    /// With `--rules`: what each rule did.
    pub(crate) rules: Vec<RuleCountView>,
    /// With `--rules`: messages the framing could not split.
    pub(crate) unparsed_messages: u64,
}

/// The word for an agent's `ReplayMode` value (the engine's name);
/// "unknown" for one this build does not know.
pub(crate) fn mode_name(value: i32) -> &'static str {
    reel::wire::replay::mode(value).map_or("unknown", reel::replay::Mode::as_str)
}

/// An instant from the agent, 0 meaning none.
fn instant(ns: i64) -> Option<UnixNanos> {
    (ns != 0).then_some(UnixNanos(ns))
}

impl From<proto::ReplayReport> for ReplayView {
    fn from(r: proto::ReplayReport) -> ReplayView {
        ReplayView {
            id: r.id,
            state: ReplayState::from_wire(r.state),
            mode: mode_name(r.mode).to_owned(),
            speed: r.speed,
            recordings: r.recordings,
            scheduled_start: instant(r.scheduled_start_unix_ns),
            started_at: instant(r.started_at_unix_ns),
            duration_ms: r.duration_ms,
            planned: r.planned,
            opened: r.opened,
            failed: r.failed,
            finished: r.finished,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            expected_sent: r.expected_sent,
            expected_received: r.expected_received,
            lateness: r.lateness.into(),
            divergences: r.divergences,
            closed_early: r.closed_early,
            server_timeouts: r.server_timeouts,
            connections: r.connections.into_iter().map(Into::into).collect(),
            error: Some(r.error).filter(|e| !e.is_empty()),
            relaxations: r.relaxations,
            relaxed: r.relaxed.into_iter().map(Into::into).collect(),
            waits: r.waits.into_iter().map(Into::into).collect(),
            connections_total: r.connections_total,
            omitted: r.omitted.into(),
            rules: r.rules.into_iter().map(Into::into).collect(),
            unparsed_messages: r.unparsed_messages,
        }
    }
}

impl ReplayView {
    /// Connections that failed: the agent's count of failed opens, or the
    /// connections that report an error (listed or not), whichever is more.
    pub(crate) fn failed_connections(&self) -> u64 {
        let listed = self.connections.iter().filter(|c| c.failed()).count() as u64;
        self.failed.max(listed + self.omitted.failed)
    }

    /// Why this report fails the run, empty when it does not: the replay
    /// failed, connections failed, or (when `verify` counts) the server's
    /// bytes diverged. Divergences exist only when the replay verified.
    pub(crate) fn problems(&self, verify: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if self.state == ReplayState::Failed || self.error.is_some() {
            let why = self.error.as_deref().unwrap_or("no reason given");
            problems.push(format!("replay {} failed: {why}", self.id));
        }
        let failed = self.failed_connections();
        if failed > 0 {
            problems.push(format!(
                "replay {}: {failed} of {} failed",
                self.id,
                count(self.planned, "connection", "connections")
            ));
        }
        if verify && self.divergences > 0 {
            problems.push(format!(
                "replay {}: {} from the recording",
                self.id,
                count(
                    self.divergences,
                    "connection diverged",
                    "connections diverged"
                )
            ));
        }
        problems
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reel::proto::{Divergence, Lateness, ReplayConnection};
    use serde_json::json;

    /// A finished report of two connections, the second diverged.
    pub(crate) fn sample() -> proto::ReplayReport {
        let lateness = Some(Lateness {
            samples: 10,
            p50_us: 120,
            p99_us: 900,
            max_us: 1500,
        });
        proto::ReplayReport {
            id: "rp-1".into(),
            state: proto::ReplayState::Finished as i32,
            mode: proto::ReplayMode::Timed as i32,
            speed: 1.0,
            recordings: vec!["r1".into()],
            scheduled_start_unix_ns: 0,
            started_at_unix_ns: 1_714_564_984_123_456_789,
            duration_ms: 2_500,
            planned: 2,
            opened: 2,
            finished: 2,
            bytes_sent: 10,
            bytes_received: 12,
            expected_sent: 10,
            expected_received: 12,
            lateness,
            divergences: 1,
            connections: vec![
                ReplayConnection {
                    recording: "r1".into(),
                    connection: 1,
                    target: "127.0.0.1:9".into(),
                    opened: true,
                    lateness,
                    ..ReplayConnection::default()
                },
                ReplayConnection {
                    recording: "r1".into(),
                    connection: 2,
                    target: "127.0.0.1:9".into(),
                    opened: true,
                    lateness,
                    divergence: Some(Divergence {
                        offset: 4,
                        expected: b"ok\n".to_vec(),
                        received: b"no\xff".to_vec(),
                        reason: "different bytes".into(),
                    }),
                    ..ReplayConnection::default()
                },
            ],
            ..proto::ReplayReport::default()
        }
    }

    #[test]
    fn json_shape() {
        let view = ReplayView::from(sample());
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["state"], "finished");
        assert_eq!(json["scheduled_start"], serde_json::Value::Null);
        assert_eq!(json["started_at"], "2024-05-01T12:03:04.123456789Z");
        assert_eq!(
            json["lateness"],
            json!({"samples": 10, "p50_us": 120, "p99_us": 900, "max_us": 1500})
        );
        assert_eq!(json["error"], serde_json::Value::Null);
        assert_eq!(
            json["omitted"],
            json!({"count": 0, "failed": 0, "divergences": 0, "closed_early": 0,
                   "server_timeouts": 0, "bytes_sent": 0, "bytes_received": 0})
        );
        assert_eq!(
            json["connections"][1]["divergence"],
            json!({"offset": 4, "expected": "6f6b0a", "received": "6e6fff",
                   "reason": "different bytes"})
        );
        assert_eq!(
            json["connections"][0]["divergence"],
            serde_json::Value::Null
        );
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "id",
            "mode",
            "speed",
            "recordings",
            "duration_ms",
            "planned",
            "opened",
            "failed",
            "finished",
            "bytes_sent",
            "bytes_received",
            "expected_sent",
            "expected_received",
            "divergences",
            "closed_early",
            "server_timeouts",
            "relaxations",
            "relaxed",
            "waits",
            "connections_total",
            "omitted",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn exit_rules() {
        let base = ReplayView::from(sample());
        let with = |f: &dyn Fn(&mut ReplayView)| {
            let mut view = base.clone();
            f(&mut view);
            view
        };
        let cases: Vec<(ReplayView, bool, usize)> = vec![
            // divergences fail only with --verify
            (base.clone(), false, 0),
            (base.clone(), true, 1),
            (with(&|v| v.divergences = 0), true, 0),
            // failed opens, or connections that broke
            (with(&|v| v.failed = 1), false, 1),
            (
                with(&|v| v.connections[0].error = Some("write failed".into())),
                false,
                1,
            ),
            // closed early and server timeouts are reported, not failures
            (with(&|v| v.closed_early = 2), false, 0),
            (with(&|v| v.server_timeouts = 3), false, 0),
            // the replay itself failed
            (
                with(&|v| {
                    v.state = ReplayState::Failed;
                    v.error = Some("cannot read r1".into());
                }),
                false,
                1,
            ),
            (with(&|v| v.state = ReplayState::Stopped), false, 0),
        ];
        for (i, (view, verify, expected)) in cases.iter().enumerate() {
            let problems = view.problems(*verify);
            assert_eq!(problems.len(), *expected, "case {i}: {problems:?}");
        }
        let omitted = with(&|v| v.omitted.failed = 1).problems(false);
        assert_eq!(omitted, ["replay rp-1: 1 of 2 connections failed"]);
        let failed = with(&|v| v.failed = 1).problems(false);
        assert_eq!(failed, ["replay rp-1: 1 of 2 connections failed"]);
    }

    #[test]
    fn states() {
        use proto::ReplayState as Wire;
        for (wire, state, text, ended) in [
            (
                Wire::Scheduled as i32,
                ReplayState::Scheduled,
                "scheduled",
                false,
            ),
            (Wire::Running as i32, ReplayState::Running, "running", false),
            (
                Wire::Finished as i32,
                ReplayState::Finished,
                "finished",
                true,
            ),
            (Wire::Stopped as i32, ReplayState::Stopped, "stopped", true),
            (Wire::Failed as i32, ReplayState::Failed, "failed", true),
            (
                Wire::Unspecified as i32,
                ReplayState::Unknown,
                "unknown",
                false,
            ),
            (99, ReplayState::Unknown, "unknown", false),
        ] {
            let read = ReplayState::from_wire(wire);
            assert_eq!(
                (read, read.as_str(), read.ended()),
                (state, text, ended),
                "{wire}"
            );
        }
    }
}
