//! A recording's intake: what a proxy connection hands to each recording that
//! takes its traffic. Proxies write into it and recorders read from it, and
//! it knows neither: the agent root attaches a recording's tap to the
//! proxies it names. Sending waits when the recorder's queue is full, so a
//! recorder that cannot keep up slows the proxy down (backpressure) rather
//! than dropping bytes.
//!
//! The queue is bounded twice: by messages (`TAP_QUEUE`) and by payload
//! bytes (`TAP_QUEUE_BYTES`). A message carries the permit for its bytes;
//! the recorder holds it until the bytes are written, then drops it, so the
//! budget cannot drift the way counting permits by hand could.

mod conn;
mod stamp;
mod table;

pub use conn::ConnMeta;
pub use stamp::Stamp;
pub use table::TapTable;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc};

use crate::domain::Direction;

/// Messages queued between the proxies and one recorder.
pub const TAP_QUEUE: usize = 1024;
/// Payload bytes queued between the proxies and one recorder, whatever the
/// chunk sizes: what bounds the memory a recording holds in flight.
pub const TAP_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// One thing that happened on a connection, stamped when the proxy saw it.
#[derive(Debug)]
pub struct TapMsg {
    pub conn: Arc<ConnMeta>,
    /// Nanoseconds since the recording started, from the recording's
    /// [`Stamp`]: unique and in the order messages were queued, the
    /// sequence number segments are merged by.
    pub ts_ns: u64,
    pub kind: TapKind,
    /// The budget this message's payload holds until the recorder lets go
    /// of it; `None` for messages without payload.
    pub permit: Option<OwnedSemaphorePermit>,
}

#[derive(Debug)]
pub enum TapKind {
    /// The connection exists (sent at open, and for connections already open
    /// when a recording starts).
    Open,
    Data(Direction, Bytes),
    /// One datagram of a UDP session.
    Datagram(Direction, Bytes),
    /// The sender of `Direction` shut down its write side.
    HalfClose(Direction),
    Close(String),
}

/// What a recorder's queue carries, in order: the proxies' messages, and
/// from its owner a periodic wake-up and the request to finish. One queue
/// for all three, so a stop comes after every message sent before it.
#[derive(Debug)]
pub enum Intake {
    Tap(TapMsg),
    /// Periodic wake-up so buffered frames reach the disk while traffic is idle.
    Tick,
    /// Finish the file, ended for `reason`.
    Stop {
        reason: String,
    },
    /// Seal the open segment now and say so (a flight recorder's dump).
    Seal(tokio::sync::oneshot::Sender<()>),
}

/// Hands every tap in `taps` the same message for `conn` (an open, a
/// close, a datagram), each waiting for room in its recorder's queue.
pub async fn tell_all(taps: &[Tap], conn: &Arc<ConnMeta>, at: Instant, kind: impl Fn() -> TapKind) {
    for tap in taps {
        tap.send(conn, at, kind()).await;
    }
}

/// A proxy's handle on one recording: one queue per writer lane (a
/// connection always goes to the same lane, so its frames stay in order
/// in one segment stream), and the recording's clock.
#[derive(Debug, Clone)]
pub struct Tap {
    pub recording_id: Arc<str>,
    lanes: Arc<[Lane]>,
    clock: Arc<Stamp>,
}

#[derive(Debug)]
struct Lane {
    tx: mpsc::Sender<Intake>,
    /// Permits for payload bytes in flight ([`TAP_QUEUE_BYTES`]); closed by
    /// the recorder when it ends, so no proxy waits on a recorder that is gone.
    budget: Arc<Semaphore>,
    /// Held while a message is stamped and queued, so the lane's queue is
    /// in stamp order (the order its segments are merged by).
    order: Mutex<()>,
}

/// A writer lane's end of the queue: what its recorder reads, and the byte
/// budget it closes when it ends.
#[derive(Debug)]
pub struct LaneIntake {
    pub rx: mpsc::Receiver<Intake>,
    pub budget: Arc<Semaphore>,
}

/// The queues between the proxies and a new recording's `lanes` recorders
/// (at least one), and its clock, whose 0 is `start`.
pub fn queue(recording_id: &str, lanes: usize, start: Instant) -> (Tap, Vec<LaneIntake>) {
    let mut ends = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..lanes.max(1) {
        let (tx, rx) = mpsc::channel(TAP_QUEUE);
        let budget = Arc::new(Semaphore::new(TAP_QUEUE_BYTES));
        senders.push(Lane {
            tx,
            budget: budget.clone(),
            order: Mutex::new(()),
        });
        ends.push(LaneIntake { rx, budget });
    }
    let tap = Tap {
        recording_id: recording_id.into(),
        lanes: senders.into(),
        clock: Arc::new(Stamp::new(start)),
    };
    (tap, ends)
}

/// Payload bytes `kind` holds in flight (permits are counted in `u32`;
/// chunks are far smaller than the budget).
fn weight(kind: &TapKind) -> u32 {
    match kind {
        TapKind::Data(_, b) | TapKind::Datagram(_, b) => u32::try_from(b.len()).unwrap_or(u32::MAX),
        _ => 0,
    }
}

impl Tap {
    fn lane(&self, conn: &ConnMeta) -> &Lane {
        // `lanes` is never empty (`queue` makes at least one).
        let i = usize::try_from(conn.id % self.lanes.len() as u64).unwrap_or(0);
        &self.lanes[i]
    }

    /// How many writer lanes the recording has.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Queues `kind` for `conn`, waiting while the recorder's queue is full.
    /// A recorder that has ended drops the message: the recording has stopped.
    pub async fn send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) {
        let lane = self.lane(conn);
        let w = weight(&kind);
        let permit = if w > 0 {
            match lane.budget.clone().acquire_many_owned(w).await {
                Ok(p) => Some(p),
                // The recorder has ended.
                Err(_) => return,
            }
        } else {
            None
        };
        let Ok(slot) = lane.tx.reserve().await else {
            return;
        };
        let _order = lane.order.lock().unwrap_or_else(|e| e.into_inner());
        slot.send(Intake::Tap(TapMsg {
            conn: conn.clone(),
            ts_ns: self.clock.next(at),
            kind,
            permit,
        }));
    }

    /// Queues without waiting. Gives the message back when the queue is
    /// full, for the caller to `send` later (never dropped).
    pub fn try_send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) -> Option<TapKind> {
        let lane = self.lane(conn);
        let w = weight(&kind);
        let permit = if w > 0 {
            match lane.budget.clone().try_acquire_many_owned(w) {
                Ok(p) => Some(p),
                Err(TryAcquireError::NoPermits) => return Some(kind),
                Err(TryAcquireError::Closed) => return None,
            }
        } else {
            None
        };
        let slot = match lane.tx.try_reserve() {
            Ok(slot) => slot,
            // Its permit goes back as it is dropped.
            Err(mpsc::error::TrySendError::Full(())) => return Some(kind),
            // The recording has ended: nothing to keep.
            Err(mpsc::error::TrySendError::Closed(())) => return None,
        };
        let _order = lane.order.lock().unwrap_or_else(|e| e.into_inner());
        slot.send(Intake::Tap(TapMsg {
            conn: conn.clone(),
            ts_ns: self.clock.next(at),
            kind,
            permit,
        }));
        None
    }

    /// Sends a message of the recording's owner (tick, stop) to every
    /// lane, waiting for room. `false` when a recorder has ended.
    pub async fn control(&self, msg: impl Fn() -> Intake) -> bool {
        let mut all = true;
        for lane in self.lanes.iter() {
            all &= lane.tx.send(msg()).await.is_ok();
        }
        all
    }

    /// Like `control`, without waiting: a full queue wakes the recorder
    /// anyway. `false` only when every recorder has ended.
    pub fn try_control(&self, msg: impl Fn() -> Intake) -> bool {
        let mut any = false;
        for lane in self.lanes.iter() {
            any |= !matches!(
                lane.tx.try_send(msg()),
                Err(mpsc::error::TrySendError::Closed(_))
            );
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Arc<ConnMeta> {
        Arc::new(ConnMeta::new(
            1,
            "p1".into(),
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
        ))
    }

    fn data(len: usize) -> TapKind {
        TapKind::Data(Direction::C2s, Bytes::from(vec![0u8; len]))
    }

    #[tokio::test]
    async fn queued_bytes_are_bounded_and_given_back_by_the_recorder() {
        let (tap, mut ends) = queue("r", 1, Instant::now());
        let LaneIntake { mut rx, budget } = ends.remove(0);
        let c = conn();
        let chunk = TAP_QUEUE_BYTES / 4;
        for _ in 0..4 {
            assert!(tap.try_send(&c, Instant::now(), data(chunk)).is_none());
        }
        // The budget is spent: the chunk comes back, nothing is dropped.
        let back = tap.try_send(&c, Instant::now(), data(1));
        assert!(matches!(back, Some(TapKind::Data(_, ref b)) if b.len() == 1));
        // Messages without payload are bounded by the queue alone.
        assert!(tap.try_send(&c, Instant::now(), TapKind::Open).is_none());
        // The recorder writes one chunk and lets go of its bytes.
        drop(rx.recv().await.expect("a queued message"));
        assert!(tap.try_send(&c, Instant::now(), data(chunk)).is_none());
        // A recorder that ended: sending neither waits nor keeps anything.
        budget.close();
        assert!(tap.try_send(&c, Instant::now(), data(1)).is_none());
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tap.send(&c, Instant::now(), data(1)),
        )
        .await
        .expect("send gives up on a closed budget");
    }

    #[tokio::test]
    async fn a_full_message_queue_returns_the_bytes_it_took() {
        let (tap, mut ends) = queue("r", 1, Instant::now());
        let LaneIntake { rx: _rx, budget } = ends.remove(0);
        let c = conn();
        for _ in 0..TAP_QUEUE {
            assert!(tap.try_send(&c, Instant::now(), data(1)).is_none());
        }
        assert!(tap.try_send(&c, Instant::now(), data(1000)).is_some());
        assert_eq!(budget.available_permits(), TAP_QUEUE_BYTES - TAP_QUEUE);
    }

    #[tokio::test]
    async fn a_connection_keeps_to_one_lane_and_each_lane_is_in_stamp_order() {
        let (tap, mut ends) = queue("r", 3, Instant::now());
        let conns: Vec<_> = (1..=6)
            .map(|id| {
                Arc::new(ConnMeta::new(
                    id,
                    "p1".into(),
                    "127.0.0.1:5000".parse().unwrap(),
                    "127.0.0.1:6000".parse().unwrap(),
                ))
            })
            .collect();
        for round in 0..10 {
            for c in &conns {
                let kind = data(round + 1);
                if round % 2 == 0 {
                    assert!(tap.try_send(c, Instant::now(), kind).is_none());
                } else {
                    tap.send(c, Instant::now(), kind).await;
                }
            }
        }
        let mut all = Vec::new();
        for (lane, end) in ends.iter_mut().enumerate() {
            let mut last = 0;
            while let Ok(Intake::Tap(m)) = end.rx.try_recv() {
                assert_eq!(
                    m.conn.id % 3,
                    lane as u64,
                    "conn {} on lane {lane}",
                    m.conn.id
                );
                assert!(m.ts_ns > last, "lane {lane} in stamp order");
                last = m.ts_ns;
                all.push(m.ts_ns);
            }
        }
        assert_eq!(all.len(), 60);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 60, "no two messages share a stamp");
    }
}
