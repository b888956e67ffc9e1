//! `watch --json`: one JSON object per line, each naming its agent. Events
//! carry `"kind"` and their own fields; stream news is `agent_connected` /
//! `agent_disconnected`.

use std::io::{self, Write};

use serde::Serialize;

use crate::clock;
use crate::commands::watch::WatchItem;
use crate::event::WatchEvent;
use crate::settings::AgentTarget;
use crate::timestamp::UnixNanos;

/// A JSON line for an event: the agent, then the event's fields.
#[derive(Serialize)]
struct EventLine<'a> {
    agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(flatten)]
    event: &'a WatchEvent,
}

/// A JSON line about an agent's stream.
#[derive(Serialize)]
struct StatusLine<'a> {
    agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// Our clock.
    at: UnixNanos,
    #[serde(flatten)]
    status: Status<'a>,
}

/// What a status line says about the stream.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Status<'a> {
    /// The stream is open (again).
    AgentConnected,
    /// The stream failed or ended; the next try is in `retry_in_ms`.
    AgentDisconnected { error: &'a str, retry_in_ms: u64 },
}

/// Writes one update as a JSON line.
///
/// # Errors
/// The writer's.
pub(crate) fn write_line(
    out: &mut dyn Write,
    agent: &AgentTarget,
    item: &WatchItem,
) -> io::Result<()> {
    let (address, name) = (agent.address.as_str(), agent.name.as_deref());
    match item {
        WatchItem::Event(event) => serde_json::to_writer(
            &mut *out,
            &EventLine {
                agent: address,
                name,
                event,
            },
        )?,
        WatchItem::Connected => serde_json::to_writer(
            &mut *out,
            &StatusLine {
                agent: address,
                name,
                at: UnixNanos(clock::now_unix_ns()),
                status: Status::AgentConnected,
            },
        )?,
        WatchItem::Disconnected {
            error, retry_in, ..
        } => serde_json::to_writer(
            &mut *out,
            &StatusLine {
                agent: address,
                name,
                at: UnixNanos(clock::now_unix_ns()),
                status: Status::AgentDisconnected {
                    error,
                    retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                },
            },
        )?,
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;
    use std::time::Duration;

    fn agents() -> [AgentTarget; 2] {
        [
            AgentTarget {
                address: "10.0.0.1:7700".into(),
                name: None,
            },
            AgentTarget {
                address: "10.0.0.2:7700".into(),
                name: Some("web".into()),
            },
        ]
    }

    #[test]
    fn json_lines() {
        let mut out = Vec::new();
        let event = WatchEvent {
            at: UnixNanos(0),
            proxy: "p1".into(),
            proxy_name: Some("game".into()),
            body: EventBody::Lagged(reel::proto::Lagged { missed: 7 }),
        };
        write_line(&mut out, &agents()[1], &WatchItem::Event(event)).unwrap();
        let item = WatchItem::Disconnected {
            error: "cannot reach agent: connection refused".into(),
            retry_in: Duration::from_millis(200),
            was_connected: false,
        };
        write_line(&mut out, &agents()[0], &item).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"agent": "10.0.0.2:7700", "name": "web",
                "at": "1970-01-01T00:00:00.000000000Z", "proxy": "p1", "proxy_name": "game",
                "kind": "lagged", "missed": 7})
        );
        assert_eq!(lines[1]["kind"], "agent_disconnected");
        assert_eq!(lines[1]["retry_in_ms"], 200);
        assert_eq!(lines[1]["error"], "cannot reach agent: connection refused");
        assert!(lines[1]["at"].is_string());
    }
}
