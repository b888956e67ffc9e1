//! The event bus: live events for Watch subscribers. Publishing never waits:
//! a broadcast channel keeps the newest `EVENT_QUEUE` events, and a subscriber
//! that falls behind learns how many it missed instead of slowing a proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;

use crate::format::Direction;
use crate::record::RecordingInfo;

/// Events kept for slow subscribers before they start missing some.
pub const EVENT_QUEUE: usize = 4096;

/// One live event.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: SystemTime,
    /// The proxy it belongs to; `None` for agent-wide events.
    pub proxy_id: Option<Arc<str>>,
    pub body: EventBody,
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

/// Progress of a replay, published every second and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    pub id: String,
    pub state: crate::replay::ReplayState,
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
}

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingPhase {
    Started,
    Stopped,
    Failed,
}

/// Cheap to clone; every part of the engine publishes through one.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    /// Subscribers that asked for per-chunk transfer events. While it is 0 the
    /// relay does not even build them.
    transfer_watchers: Arc<AtomicUsize>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(EVENT_QUEUE);
        Self {
            tx,
            transfer_watchers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Publishes without waiting; with no subscriber the event is dropped.
    pub fn publish(&self, proxy_id: Option<&Arc<str>>, body: EventBody) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let event = Event {
            at: SystemTime::now(),
            proxy_id: proxy_id.cloned(),
            body,
        };
        // An error only means every subscriber left meanwhile.
        let _ = self.tx.send(Arc::new(event));
    }

    /// Whether anyone wants per-chunk transfer events right now.
    pub fn wants_transfers(&self) -> bool {
        self.transfer_watchers.load(Ordering::Relaxed) > 0
    }

    /// A new subscription; `transfers` registers interest in per-chunk events
    /// for as long as the returned subscription lives.
    pub fn subscribe(&self, transfers: bool) -> Subscription {
        let rx = self.tx.subscribe();
        if transfers {
            self.transfer_watchers.fetch_add(1, Ordering::Relaxed);
        }
        Subscription {
            rx,
            transfer_guard: transfers.then(|| TransferGuard(self.transfer_watchers.clone())),
        }
    }
}

/// A subscriber's end of the bus.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Event>>,
    transfer_guard: Option<TransferGuard>,
}

impl Subscription {
    /// Splits into the receiver and the guard that must live as long as it.
    pub fn into_parts(self) -> (broadcast::Receiver<Arc<Event>>, Option<TransferGuard>) {
        (self.rx, self.transfer_guard)
    }
}

/// Keeps the transfer-watcher count up while held.
#[derive(Debug)]
pub struct TransferGuard(Arc<AtomicUsize>);

impl Drop for TransferGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_event() -> EventBody {
        EventBody::Stats(ProxyStats::default())
    }

    #[tokio::test]
    async fn slow_subscriber_lags_instead_of_blocking() {
        let bus = EventBus::new();
        let (mut rx, _) = bus.subscribe(false).into_parts();
        for _ in 0..EVENT_QUEUE + 10 {
            bus.publish(None, stats_event());
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected lag, got {other:?}"),
        }
    }

    #[test]
    fn transfer_interest_follows_subscriptions() {
        let bus = EventBus::new();
        assert!(!bus.wants_transfers());
        let plain = bus.subscribe(false);
        assert!(!bus.wants_transfers());
        let sub = bus.subscribe(true);
        assert!(bus.wants_transfers());
        drop(sub);
        drop(plain);
        assert!(!bus.wants_transfers());
    }
}
