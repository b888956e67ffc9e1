//! A replay's report as reelctl reads it: the agent's `ReplayReport` itself
//! (its JSON shape is set in build.rs and `reel::wire::json`), with the
//! words and defaults reelctl prints, and the rules that decide whether a
//! report fails the run.

use reel::domain::ReplayState;
use reel::proto::{self, Lateness, OmittedConnections, ReplayConnection};

use crate::plural::count;
use crate::timestamp::UnixNanos;

/// What reelctl reads off a report beyond its plain fields.
pub(crate) trait ReportExt {
    /// `None` for a state this reelctl does not know (a newer agent),
    /// treated as running.
    fn replay_state(&self) -> Option<ReplayState>;
    /// Whether the replay is over: its report is final.
    fn ended(&self) -> bool {
        self.replay_state().is_some_and(ReplayState::ended)
    }
    fn state_word(&self) -> &'static str;
    fn mode_word(&self) -> &'static str;
    /// The agent's clock; `None` when the replay started at once.
    fn scheduled_start(&self) -> Option<UnixNanos>;
    /// The agent's clock; `None` before the start.
    fn started_at(&self) -> Option<UnixNanos>;
    fn error_text(&self) -> Option<&str>;
    fn lateness_or_zero(&self) -> Lateness;
    fn omitted_or_zero(&self) -> OmittedConnections;
    /// Connections that failed: the agent's count of failed opens, or the
    /// connections that report an error (listed or not), whichever is more.
    fn failed_connections(&self) -> u64;
    /// Why this report fails the run, empty when it does not: the replay
    /// failed, connections failed, or (when `verify` counts) the server's
    /// bytes diverged. Divergences exist only when the replay verified.
    fn problems(&self, verify: bool) -> Vec<String>;
}

/// An instant from the agent, 0 meaning none.
fn instant(ns: i64) -> Option<UnixNanos> {
    (ns != 0).then_some(UnixNanos(ns))
}

impl ReportExt for proto::ReplayReport {
    fn replay_state(&self) -> Option<ReplayState> {
        reel::wire::replay::state(self.state)
    }

    fn state_word(&self) -> &'static str {
        reel::wire::json::replay_state_word(self.state)
    }

    fn mode_word(&self) -> &'static str {
        reel::wire::json::replay_mode_word(self.mode)
    }

    fn scheduled_start(&self) -> Option<UnixNanos> {
        instant(self.scheduled_start_unix_ns)
    }

    fn started_at(&self) -> Option<UnixNanos> {
        instant(self.started_at_unix_ns)
    }

    fn error_text(&self) -> Option<&str> {
        Some(self.error.as_str()).filter(|e| !e.is_empty())
    }

    fn lateness_or_zero(&self) -> Lateness {
        self.lateness.unwrap_or_default()
    }

    fn omitted_or_zero(&self) -> OmittedConnections {
        self.omitted.unwrap_or_default()
    }

    fn failed_connections(&self) -> u64 {
        let listed = self.connections.iter().filter(|c| c.failed()).count() as u64;
        self.failed.max(listed + self.omitted_or_zero().failed)
    }

    fn problems(&self, verify: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if self.replay_state() == Some(ReplayState::Failed) || self.error_text().is_some() {
            let why = self.error_text().unwrap_or("no reason given");
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

/// What reelctl reads off one replayed connection.
pub(crate) trait ConnectionExt {
    fn error_text(&self) -> Option<&str>;
    /// Whether the connection failed (could not open, or broke).
    fn failed(&self) -> bool {
        self.error_text().is_some()
    }
    /// Whether the default view lists it: failed, closed early or diverged.
    fn notable(&self) -> bool;
}

impl ConnectionExt for ReplayConnection {
    fn error_text(&self) -> Option<&str> {
        Some(self.error.as_str()).filter(|e| !e.is_empty())
    }

    fn notable(&self) -> bool {
        self.failed()
            || self.closed_early
            || self.divergence.is_some()
            || self.datagrams_missing > 0
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
        let view = sample();
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
        assert_eq!(json["connections"][0]["udp"], false);
        assert_eq!(json["connections"][0]["datagrams_missing"], 0);
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
            "datagrams_sent",
            "datagrams_received",
            "expected_datagrams_sent",
            "expected_datagrams_received",
            "datagrams_missing",
            "datagrams_refused",
            "udp_sessions",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn exit_rules() {
        let base = sample();
        let with = |f: &dyn Fn(&mut proto::ReplayReport)| {
            let mut view = base.clone();
            f(&mut view);
            view
        };
        let cases: Vec<(proto::ReplayReport, bool, usize)> = vec![
            // divergences fail only with --verify
            (base.clone(), false, 0),
            (base.clone(), true, 1),
            (with(&|v| v.divergences = 0), true, 0),
            // failed opens, or connections that broke
            (with(&|v| v.failed = 1), false, 1),
            (
                with(&|v| v.connections[0].error = "write failed".into()),
                false,
                1,
            ),
            // closed early and server timeouts are reported, not failures
            (with(&|v| v.closed_early = 2), false, 0),
            (with(&|v| v.server_timeouts = 3), false, 0),
            // the replay itself failed
            (
                with(&|v| {
                    v.state = proto::ReplayState::Failed as i32;
                    v.error = "cannot read r1".into();
                }),
                false,
                1,
            ),
            (
                with(&|v| v.state = proto::ReplayState::Stopped as i32),
                false,
                0,
            ),
        ];
        for (i, (view, verify, expected)) in cases.iter().enumerate() {
            let problems = view.problems(*verify);
            assert_eq!(problems.len(), *expected, "case {i}: {problems:?}");
        }
        let omitted = with(&|v| {
            v.omitted = Some(OmittedConnections {
                failed: 1,
                ..Default::default()
            })
        })
        .problems(false);
        assert_eq!(omitted, ["replay rp-1: 1 of 2 connections failed"]);
        let failed = with(&|v| v.failed = 1).problems(false);
        assert_eq!(failed, ["replay rp-1: 1 of 2 connections failed"]);
    }

    #[test]
    fn states() {
        use proto::ReplayState as Wire;
        for (wire, text, ended) in [
            (Wire::Scheduled as i32, "scheduled", false),
            (Wire::Running as i32, "running", false),
            (Wire::Finished as i32, "finished", true),
            (Wire::Stopped as i32, "stopped", true),
            (Wire::Failed as i32, "failed", true),
            (Wire::Unspecified as i32, "unknown", false),
            (99, "unknown", false),
        ] {
            let report = proto::ReplayReport {
                state: wire,
                ..Default::default()
            };
            assert_eq!(
                (report.state_word(), report.ended()),
                (text, ended),
                "{wire}"
            );
        }
    }
}
