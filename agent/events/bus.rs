//! The event bus: every part of the engine publishes through it, Watch
//! streams and the delay log subscribe to it. Publishing is O(1) whatever
//! the number of subscribers: a kind nobody wants is not built, and an event
//! that is goes into one bounded queue with `try_send` (dropped and counted
//! when full); the fan-out task (`fanout`) does the per-subscriber work.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::error;

use super::event::{Event, EventBody, EventKind};
use super::fanout::{self, Delivery, Hub};
use super::filter::{Filter, KindSet};
use crate::error::{Error, Result};

/// Events waiting for the fan-out task before publishers start dropping
/// them (each drop is told to the subscribers that wanted its kind).
pub const EVENT_QUEUE: usize = 4096;
/// Events waiting for one Watch stream: what its network connection cannot
/// take yet. Beyond it the stream misses events (told as `lagged`).
pub const WATCHER_QUEUE: usize = 256;
/// Watch streams served at once unless `--max-watchers` says otherwise.
pub const DEFAULT_MAX_WATCHERS: usize = 64;

/// The bus's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusMeters {
    /// Watch streams served now.
    pub watchers: usize,
    /// `--max-watchers`.
    pub max_watchers: usize,
    /// Events the shared queue had no room for, since the start.
    pub dropped: u64,
    /// Events Watch streams (and internal subscribers) were told they
    /// missed (`lagged`), since the start.
    pub missed_told: u64,
}

/// Cheap to clone; every part of the engine publishes through one.
#[derive(Debug, Clone)]
pub struct EventBus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queue: mpsc::Sender<Arc<Event>>,
    /// The queue's receiving end until the first subscription spawns the
    /// fan-out task with it (so a bus nobody watches runs no task, and a
    /// bus can be made outside a runtime).
    idle: Mutex<Option<mpsc::Receiver<Arc<Event>>>>,
    hub: Arc<Hub>,
    /// One permit per Watch stream (`watch`); internal subscribers take none.
    watchers: Arc<Semaphore>,
    max_watchers: usize,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self::with_max_watchers(DEFAULT_MAX_WATCHERS)
    }

    /// A bus that serves at most `max_watchers` Watch streams at once.
    pub fn with_max_watchers(max_watchers: usize) -> Self {
        let (queue, rx) = mpsc::channel(EVENT_QUEUE);
        Self {
            shared: Arc::new(Shared {
                queue,
                idle: Mutex::new(Some(rx)),
                hub: Arc::new(Hub::default()),
                watchers: Arc::new(Semaphore::new(max_watchers)),
                max_watchers,
            }),
        }
    }

    /// Publishes without waiting, in O(1): an event of a kind no subscriber
    /// wants is not built, and one the queue has no room for is dropped and
    /// counted.
    pub fn publish(&self, proxy_id: Option<&Arc<str>>, body: EventBody) {
        let kind = body.kind();
        let hub = &self.shared.hub;
        if !hub.wants(kind) {
            return;
        }
        let event = Arc::new(Event::new(proxy_id.cloned(), body));
        match self.shared.queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => hub.dropped(kind),
            // The fan-out task is gone: the runtime is shutting down.
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Whether anyone wants events of `kind` right now.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.shared.hub.wants(kind)
    }

    /// Whether anyone wants per-chunk transfer events right now: while no
    /// one does, the relay does not even build them.
    pub fn wants_transfers(&self) -> bool {
        self.wants(EventKind::Transfer)
    }

    /// Its counters as of now, for the metrics exporter.
    pub fn meters(&self) -> BusMeters {
        let shared = &self.shared;
        BusMeters {
            watchers: shared
                .max_watchers
                .saturating_sub(shared.watchers.available_permits()),
            max_watchers: shared.max_watchers,
            dropped: shared.hub.dropped_total(),
            missed_told: shared.hub.missed_told(),
        }
    }

    /// An internal subscription (the delay log): not counted against the
    /// Watch limit, with room for a whole shared queue of events.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        self.join(filter, EVENT_QUEUE, None)
    }

    /// A Watch stream's subscription, one of at most `max_watchers`.
    ///
    /// # Errors
    /// `TooManyWatchers` when that many are already served.
    pub fn watch(&self, filter: Filter) -> Result<Subscription> {
        let permit = Arc::clone(&self.shared.watchers)
            .try_acquire_owned()
            .map_err(|_| Error::TooManyWatchers {
                limit: self.shared.max_watchers,
            })?;
        Ok(self.join(filter, WATCHER_QUEUE, Some(permit)))
    }

    fn join(
        &self,
        filter: Filter,
        room: usize,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Subscription {
        self.start_fan_out();
        let (tx, rx) = mpsc::channel(room);
        let kinds = filter.kinds();
        self.shared.hub.join(tx, filter);
        Subscription {
            rx,
            _interest: Interest {
                hub: Arc::clone(&self.shared.hub),
                kinds,
            },
            _permit: permit,
        }
    }

    /// Spawns the fan-out task, once. It ends when every clone of the bus
    /// is gone (its queue closes).
    fn start_fan_out(&self) {
        let mut idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                if let Some(rx) = idle.take() {
                    rt.spawn(fanout::run(rx, Arc::clone(&self.shared.hub)));
                }
            }
            Err(_) => error!(
                "event bus subscribed to outside a Tokio runtime: no event will be delivered"
            ),
        }
    }
}

/// A subscriber's end of the bus. Dropping it unsubscribes (and frees its
/// place under the Watch limit) at once.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    _interest: Interest,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Subscription {
    /// The next event or count of missed events; `None` once the bus is gone.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is lost when another branch wins a `select!`.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// Whether nothing is waiting (tests).
    #[cfg(test)]
    pub(super) fn rx_is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// `recv` for a hand-written `Stream`.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.rx.poll_recv(cx)
    }
}

/// Keeps a subscription's kinds wanted while it lives.
#[derive(Debug)]
struct Interest {
    hub: Arc<Hub>,
    kinds: KindSet,
}

impl Drop for Interest {
    fn drop(&mut self) {
        self.hub.leave(self.kinds);
    }
}
