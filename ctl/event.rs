//! Live events from an agent: the protobuf `Event`'s body with the instant
//! and proxy reelctl shows, serialized flat (`"kind"` plus the event's own fields) for JSON
//! Lines. The watch command produces them, `output::watch` prints them.

use reel::proto;
use serde::Serialize;

use crate::timestamp::UnixNanos;

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

/// What happened: the agent's event body itself, serialized flat with
/// `"kind"` naming it (its JSON shape is set in build.rs).
pub(crate) use reel::proto::event::Body as EventBody;

impl WatchEvent {
    /// The typed event; `None` for a body this reelctl does not know.
    pub(crate) fn from_proto(event: proto::Event) -> Option<WatchEvent> {
        Some(WatchEvent {
            at: UnixNanos(event.at_unix_ns),
            proxy: event.proxy_id,
            proxy_name: None,
            body: event.body?,
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
            body: Some(EventBody::Transfer(proto::Transfer {
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
