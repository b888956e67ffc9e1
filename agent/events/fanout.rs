//! The one task that hands events to subscribers, off the data path.
//!
//! Publishers put each event into one bounded queue and go on; this task
//! takes them off in batches and offers each to every subscriber whose
//! filter wants it, with a `try_send` into that subscriber's own bounded
//! queue. A subscriber whose queue is full loses the event: the loss is
//! counted and told to it, in order, as one `Missed(n)` as soon as its queue
//! has room. So a subscriber that never reads costs one capacity check per
//! batch, never slows this task, and never slows another subscriber.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::event::{Event, EventKind};
use super::filter::{Filter, KindSet};

/// Events taken off the shared queue at once.
const BATCH: usize = 256;
/// Shortest time between two passes. A pass that comes sooner waits, and
/// takes everything published meanwhile: a busy subscriber is woken at most
/// 50 times a second with everything since the last time (one HTTP/2 frame
/// for a Watch stream, instead of a write per event), while an event after
/// a quiet spell goes out at once. This also bounds how late an event is.
pub const PASS_EVERY: Duration = Duration::from_millis(20);
/// How often a count of missed events still waiting for room in a
/// subscriber's queue is offered again when no new event comes.
const MISSED_RETRY: Duration = Duration::from_millis(100);

const KINDS: usize = EventKind::ALL.len();

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<Event>),
    /// This many events it wanted were lost (it read too slowly, or the
    /// shared queue overflowed) between the previous delivery and the next.
    Missed(u64),
}

/// What publishers, subscribers and the fan-out task share. Counters only:
/// the list of subscribers is the task's alone.
#[derive(Debug, Default)]
pub(super) struct Hub {
    /// Subscriptions per kind; a kind nobody wants is not even built.
    interest: [AtomicUsize; KINDS],
    /// Events dropped per kind because the shared queue was full.
    dropped: [AtomicU64; KINDS],
    /// Every event the shared queue had no room for since the start (the
    /// per-kind counts above are taken by each pass).
    dropped_total: AtomicU64,
    /// Events subscribers were told they missed (`Missed(n)` delivered),
    /// since the start.
    missed_told: AtomicU64,
    /// New subscribers, until the task takes them in (at its next pass).
    joining: Mutex<Vec<Slot>>,
}

impl Hub {
    pub(super) fn wants(&self, kind: EventKind) -> bool {
        self.interest[kind.index()].load(Ordering::Acquire) > 0
    }

    /// Counts an event the shared queue had no room for.
    pub(super) fn dropped(&self, kind: EventKind) {
        self.dropped[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Events dropped by the shared queue since the start.
    pub(super) fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Events subscribers were told they missed, since the start.
    pub(super) fn missed_told(&self) -> u64 {
        self.missed_told.load(Ordering::Relaxed)
    }

    /// Registers a subscriber: it is offered events from the task's next pass.
    pub(super) fn join(&self, tx: mpsc::Sender<Delivery>, filter: Filter) {
        let kinds = filter.kinds();
        {
            let mut joining = self.joining.lock().unwrap_or_else(|e| e.into_inner());
            // Subscribers that left before the task took them in (no event
            // came meanwhile) are forgotten here, so churn cannot pile up.
            joining.retain(|s| !s.tx.is_closed());
            joining.push(Slot {
                tx,
                filter,
                missed: 0,
            });
        }
        for k in kinds.iter() {
            self.interest[k.index()].fetch_add(1, Ordering::Release);
        }
    }

    /// Undoes `join`'s interest when a subscription ends.
    pub(super) fn leave(&self, kinds: KindSet) {
        for k in kinds.iter() {
            self.interest[k.index()].fetch_sub(1, Ordering::Release);
        }
    }

    fn take_joining(&self) -> Vec<Slot> {
        std::mem::take(&mut *self.joining.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_dropped(&self) -> [u64; KINDS] {
        std::array::from_fn(|i| self.dropped[i].swap(0, Ordering::Relaxed))
    }
}

/// The task's view of one subscriber.
#[derive(Debug)]
struct Slot {
    tx: mpsc::Sender<Delivery>,
    filter: Filter,
    /// Lost events not yet told.
    missed: u64,
}

impl Slot {
    /// Offers one wanted event; false once the subscriber is gone.
    fn offer(&mut self, event: &Arc<Event>, hub: &Hub) -> bool {
        if !self.tell_missed(hub) {
            return !self.tx.is_closed();
        }
        match self.tx.try_send(Delivery::Event(Arc::clone(event))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.missed += 1;
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// Queues the count of lost events, if any; false (and the event being
    /// offered counted lost too) when there is no room for it.
    fn tell_missed(&mut self, hub: &Hub) -> bool {
        if self.missed == 0 {
            return true;
        }
        match self.tx.try_send(Delivery::Missed(self.missed)) {
            Ok(()) => {
                hub.missed_told.fetch_add(self.missed, Ordering::Relaxed);
                self.missed = 0;
                true
            }
            Err(_) => {
                self.missed += 1;
                false
            }
        }
    }

    /// Offers the batch; false once the subscriber is gone.
    fn take(&mut self, batch: &[Arc<Event>], per_kind: &[u64; KINDS], hub: &Hub) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        if self.tx.capacity() == 0 {
            // Full: everything it wants in this batch is lost, counted
            // without looking at each event when the filter allows.
            self.missed += if self.filter.any_proxy() {
                self.filter
                    .kinds()
                    .iter()
                    .map(|k| per_kind[k.index()])
                    .sum()
            } else {
                batch.iter().filter(|e| self.filter.matches(e)).count() as u64
            };
            return true;
        }
        for event in batch {
            if self.filter.matches(event) && !self.offer(event, hub) {
                return false;
            }
        }
        true
    }

    /// Adds the shared queue's losses of the kinds it wants. They are not
    /// told apart by proxy, so a subscriber of some proxies may be told of
    /// losses on others: the count is an upper bound then.
    fn count_dropped(&mut self, dropped: &[u64; KINDS]) {
        self.missed += self
            .filter
            .kinds()
            .iter()
            .map(|k| dropped[k.index()])
            .sum::<u64>();
    }
}

/// Runs until every publisher (every clone of the bus) is gone.
pub(super) async fn run(mut queue: mpsc::Receiver<Arc<Event>>, hub: Arc<Hub>) {
    let mut slots: Vec<Slot> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_pass = tokio::time::Instant::now();
    loop {
        let waiting = slots.iter().any(|s| s.missed > 0);
        // `None`: only the retry timer fired; `Some(0)`: every publisher left.
        let got = tokio::select! {
            n = queue.recv_many(&mut batch, BATCH) => Some(n),
            () = tokio::time::sleep(MISSED_RETRY), if waiting => None,
        };
        if got == Some(0) {
            break;
        }
        if got.is_some() {
            tokio::time::sleep_until(last_pass + PASS_EVERY).await;
            // At most one queue's worth, so publishers cannot keep it here.
            for _ in 0..queue.max_capacity() {
                match queue.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
        }
        last_pass = tokio::time::Instant::now();
        slots.extend(hub.take_joining());
        // Drops happened after every event still queued was published: they
        // are told once the queue has been drained, so in their place.
        let dropped = if queue.is_empty() {
            hub.take_dropped()
        } else {
            [0; KINDS]
        };
        let mut per_kind = [0u64; KINDS];
        for e in &batch {
            per_kind[e.kind().index()] += 1;
        }
        slots.retain_mut(|slot| {
            if !slot.take(&batch, &per_kind, &hub) {
                return false;
            }
            slot.count_dropped(&dropped);
            // Lost events are told as soon as there is room, even if no
            // further event comes for this subscriber.
            if slot.missed > 0 && slot.tx.capacity() > 0 {
                slot.tell_missed(&hub);
            }
            true
        });
        batch.clear();
    }
}
