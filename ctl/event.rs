//! Live events from an agent as typed values: converted from the protobuf
//! `Event`, serialized flat (`"kind"` plus the event's own fields) for JSON
//! Lines. The watch command produces them, `output::watch` prints them.

use reel::proto::{self, event::Body};
use serde::Serialize;

use crate::timestamp::UnixNanos;
use reel::proto::RecordingInfo;

/// One event from an agent.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WatchEvent {
    /// The agent's clock.
    pub(crate) at: UnixNanos,
    /// Proxy id; empty for events that belong to no proxy.
    pub(crate) proxy: String,
    /// The proxy's name, when reelctl could look it up (the agent's event
    /// carries only the id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) proxy_name: Option<String>,
    #[serde(flatten)]
    pub(crate) body: EventBody,
}

/// What happened, with the event's own fields.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum EventBody {
    /// A client connected to the proxy.
    ConnectionOpened {
        connection: u64,
        client: String,
        upstream: String,
    },
    /// A relayed connection ended, with its totals.
    ConnectionClosed {
        connection: u64,
        client: String,
        upstream: String,
        reason: String,
        bytes_c2s: u64,
        bytes_s2c: u64,
        duration_ms: u64,
    },
    /// One chunk relayed (only with `--raw`).
    Transfer {
        connection: u64,
        /// "c2s" or "s2c".
        direction: &'static str,
        bytes: u64,
        /// How long a fault profile held the chunk back.
        delay_us: u64,
        /// The latency the profile drew for it (the seeded schedule).
        drawn_delay_us: u64,
    },
    /// The proxy's counters, once per second.
    Stats {
        active_connections: u64,
        total_connections: u64,
        bytes_c2s_per_sec: u64,
        bytes_s2c_per_sec: u64,
        bytes_c2s: u64,
        bytes_s2c: u64,
    },
    /// A recording started, stopped or failed.
    Recording {
        /// "started", "stopped" or "failed".
        phase: &'static str,
        recording: Option<RecordingInfo>,
    },
    /// A proxy started or stopped.
    Proxy {
        /// "started" or "stopped".
        phase: &'static str,
        listen: String,
        upstream: String,
    },
    /// Progress of a replay, once per second and at its end.
    Replay {
        id: String,
        /// The engine's word for the state; "unknown" for a value this
        /// build does not know.
        state: &'static str,
        planned: u64,
        opened: u64,
        failed: u64,
        finished: u64,
        bytes_sent: u64,
        bytes_received: u64,
        expected_sent: u64,
    },
    /// Events this subscriber missed because it read too slowly.
    Lagged { missed: u64 },
}

impl WatchEvent {
    /// The typed event; `None` for a body this reelctl does not know.
    pub(crate) fn from_proto(event: proto::Event) -> Option<WatchEvent> {
        use proto::{Direction, proxy_event, recording_event};
        let body = match event.body? {
            Body::ConnectionOpened(o) => EventBody::ConnectionOpened {
                connection: o.connection,
                client: o.client,
                upstream: o.upstream,
            },
            Body::ConnectionClosed(c) => EventBody::ConnectionClosed {
                connection: c.connection,
                client: c.client,
                upstream: c.upstream,
                reason: c.reason,
                bytes_c2s: c.bytes_c2s,
                bytes_s2c: c.bytes_s2c,
                duration_ms: c.duration_ms,
            },
            Body::Transfer(t) => EventBody::Transfer {
                connection: t.connection,
                direction: match Direction::try_from(t.direction) {
                    Ok(Direction::C2s) => "c2s",
                    Ok(Direction::S2c) => "s2c",
                    _ => "unknown",
                },
                bytes: t.bytes,
                delay_us: t.delay_us,
                drawn_delay_us: t.drawn_delay_us,
            },
            Body::Stats(s) => EventBody::Stats {
                active_connections: s.active_connections,
                total_connections: s.total_connections,
                bytes_c2s_per_sec: s.bytes_c2s_per_sec,
                bytes_s2c_per_sec: s.bytes_s2c_per_sec,
                bytes_c2s: s.bytes_c2s,
                bytes_s2c: s.bytes_s2c,
            },
            Body::Recording(r) => EventBody::Recording {
                phase: match recording_event::Phase::try_from(r.phase) {
                    Ok(recording_event::Phase::Started) => "started",
                    Ok(recording_event::Phase::Stopped) => "stopped",
                    Ok(recording_event::Phase::Failed) => "failed",
                    _ => "unknown",
                },
                recording: r.recording,
            },
            Body::Proxy(p) => EventBody::Proxy {
                phase: match proxy_event::Phase::try_from(p.phase) {
                    Ok(proxy_event::Phase::Started) => "started",
                    Ok(proxy_event::Phase::Stopped) => "stopped",
                    _ => "unknown",
                },
                listen: p.listen,
                upstream: p.upstream,
            },
            Body::Lagged(l) => EventBody::Lagged { missed: l.missed },
            Body::Replay(r) => EventBody::Replay {
                id: r.id,
                state: reel::wire::replay::state(r.state).map_or("unknown", |s| s.as_str()),
                planned: r.planned,
                opened: r.opened,
                failed: r.failed,
                finished: r.finished,
                bytes_sent: r.bytes_sent,
                bytes_received: r.bytes_received,
                expected_sent: r.expected_sent,
            },
        };
        Some(WatchEvent {
            at: UnixNanos(event.at_unix_ns),
            proxy: event.proxy_id,
            proxy_name: None,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_flatten_into_json_lines() {
        let event = proto::Event {
            at_unix_ns: 1_714_564_984_000_000_000,
            proxy_id: "p1".into(),
            body: Some(Body::Transfer(proto::Transfer {
                connection: 3,
                direction: proto::Direction::C2s as i32,
                bytes: 34,
                delay_us: 1_200,
                drawn_delay_us: 1_000,
            })),
        };
        let json = serde_json::to_value(WatchEvent::from_proto(event).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "at": "2024-05-01T12:03:04.000000000Z", "proxy": "p1",
                "kind": "transfer", "connection": 3, "direction": "c2s", "bytes": 34,
                "delay_us": 1_200, "drawn_delay_us": 1_000
            })
        );
        let empty = proto::Event {
            at_unix_ns: 0,
            proxy_id: String::new(),
            body: None,
        };
        assert!(WatchEvent::from_proto(empty).is_none());
    }
}
