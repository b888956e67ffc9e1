//! What the bus carries: one live event, its kind (what a Watch filter
//! matches it by) and a slot for its wire form, rendered once for every
//! subscriber that reads it.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crate::domain::{RecordingInfo, ReplayState};
use crate::format::Direction;

/// One live event.
pub struct Event {
    pub at: SystemTime,
    /// The proxy it belongs to; `None` for agent-wide events.
    pub proxy_id: Option<Arc<str>>,
    pub body: EventBody,
    /// The event as a subscriber's stream sends it (the gRPC layer's proto),
    /// built by the first subscriber that reads the event and shared by the
    /// others. Kept here, type-erased, so the engine never names the wire
    /// type, and lazily, so an event nobody reads (filtered out, or dropped
    /// for a subscriber that does not read) is never converted at all.
    rendered: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl Event {
    pub fn new(proxy_id: Option<Arc<str>>, body: EventBody) -> Self {
        Self {
            at: SystemTime::now(),
            proxy_id,
            body,
            rendered: OnceLock::new(),
        }
    }

    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    /// This event rendered by `render`, which runs at most once per event
    /// however many subscribers ask (concurrent callers wait for the first).
    /// Every caller should pass the same renderer: one asking for another
    /// type gets a fresh, uncached rendering.
    pub fn rendered<T: Any + Send + Sync>(&self, render: impl Fn(&Event) -> T) -> Arc<T> {
        let any = self
            .rendered
            .get_or_init(|| Arc::new(render(self)) as Arc<dyn Any + Send + Sync>);
        match Arc::clone(any).downcast::<T>() {
            Ok(t) => t,
            Err(_) => Arc::new(render(self)),
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("at", &self.at)
            .field("proxy_id", &self.proxy_id)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// What a subscriber filters by: one kind per family of events. The Watch
/// API's `EventKind` maps onto it one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Connection,
    Transfer,
    Stats,
    Recording,
    Proxy,
    Replay,
}

impl EventKind {
    /// Every kind, in a fixed order (the index of per-kind counters).
    pub const ALL: [EventKind; 6] = [
        EventKind::Connection,
        EventKind::Transfer,
        EventKind::Stats,
        EventKind::Recording,
        EventKind::Proxy,
        EventKind::Replay,
    ];

    /// Position in [`EventKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub enum EventBody {
    ConnectionOpened {
        conn: u64,
        client: SocketAddr,
        upstream: String,
    },
    ConnectionClosed {
        conn: u64,
        client: SocketAddr,
        upstream: String,
        reason: String,
        bytes_c2s: u64,
        bytes_s2c: u64,
        duration: Duration,
    },
    Transfer {
        conn: u64,
        dir: Direction,
        bytes: u64,
        /// How long a fault profile held the chunk back.
        delay: Duration,
        /// The latency the profile drew for it: the seeded schedule, the
        /// same on any host under any load. `delay` is at least this
        /// (later when the host is busy, or to keep the stream's order).
        drawn: Duration,
    },
    Stats(ProxyStats),
    Recording {
        phase: RecordingPhase,
        info: Box<RecordingInfo>,
    },
    ProxyStarted {
        listen: SocketAddr,
        upstream: String,
    },
    ProxyStopped {
        listen: SocketAddr,
        upstream: String,
    },
    Replay(ReplayProgress),
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::ConnectionOpened { .. } | EventBody::ConnectionClosed { .. } => {
                EventKind::Connection
            }
            EventBody::Transfer { .. } => EventKind::Transfer,
            EventBody::Stats(_) => EventKind::Stats,
            EventBody::Recording { .. } => EventKind::Recording,
            EventBody::ProxyStarted { .. } | EventBody::ProxyStopped { .. } => EventKind::Proxy,
            EventBody::Replay(_) => EventKind::Replay,
        }
    }
}

/// Progress of a replay, published every second and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    pub id: String,
    pub state: ReplayState,
    pub planned: u64,
    pub opened: u64,
    pub failed: u64,
    pub finished: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub expected_sent: u64,
}

/// Per-second figures of one proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub active_connections: u64,
    pub total_connections: u64,
    pub bytes_c2s_per_sec: u64,
    pub bytes_s2c_per_sec: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    /// A UDP proxy's datagrams in the last second, each way; 0 for TCP.
    pub datagrams_c2s_per_sec: u64,
    pub datagrams_s2c_per_sec: u64,
}

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingPhase {
    Started,
    Stopped,
    Failed,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn kinds_index_their_position() {
        for (i, k) in EventKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn an_event_is_rendered_once_for_all_readers() {
        let calls = AtomicUsize::new(0);
        let render = |e: &Event| {
            calls.fetch_add(1, Ordering::Relaxed);
            format!("{:?}", e.kind())
        };
        let ev = Event::new(None, EventBody::Stats(ProxyStats::default()));
        let a = ev.rendered(render);
        let b = ev.rendered(render);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, "Stats");
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // Another type is rendered afresh, never mistaken for the cached one.
        assert_eq!(*ev.rendered(|_| 7u32), 7);
    }
}
