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
mod table;

pub use conn::ConnMeta;
pub use table::TapTable;

use std::sync::Arc;
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
    pub at: Instant,
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
}

/// Hands every tap in `taps` the same message for `conn` (an open, a
/// close, a datagram), each waiting for room in its recorder's queue.
pub async fn tell_all(taps: &[Tap], conn: &Arc<ConnMeta>, at: Instant, kind: impl Fn() -> TapKind) {
    for tap in taps {
        tap.send(conn, at, kind()).await;
    }
}

/// A proxy's handle on one recording.
#[derive(Debug, Clone)]
pub struct Tap {
    pub recording_id: Arc<str>,
    tx: mpsc::Sender<Intake>,
    /// Permits for payload bytes in flight ([`TAP_QUEUE_BYTES`]); closed by
    /// the recorder when it ends, so no proxy waits on a recorder that is gone.
    budget: Arc<Semaphore>,
}

/// The queue between the proxies and a new recorder: the tap proxies send
/// into, the receiving side, and the byte budget (the recorder closes it
/// when it ends).
pub fn queue(recording_id: &str) -> (Tap, mpsc::Receiver<Intake>, Arc<Semaphore>) {
    let (tx, rx) = mpsc::channel(TAP_QUEUE);
    let budget = Arc::new(Semaphore::new(TAP_QUEUE_BYTES));
    let tap = Tap {
        recording_id: recording_id.into(),
        tx,
        budget: budget.clone(),
    };
    (tap, rx, budget)
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
    /// Queues `kind` for `conn`, waiting while the recorder's queue is full.
    /// A recorder that has ended drops the message: the recording has stopped.
    pub async fn send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) {
        let w = weight(&kind);
        let permit = if w > 0 {
            match self.budget.clone().acquire_many_owned(w).await {
                Ok(p) => Some(p),
                // The recorder has ended.
                Err(_) => return,
            }
        } else {
            None
        };
        let msg = TapMsg {
            conn: conn.clone(),
            at,
            kind,
            permit,
        };
        let _ = self.tx.send(Intake::Tap(msg)).await;
    }

    /// Queues without waiting. Gives the message back when the queue is
    /// full, for the caller to `send` later (never dropped).
    pub fn try_send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) -> Option<TapKind> {
        let w = weight(&kind);
        let permit = if w > 0 {
            match self.budget.clone().try_acquire_many_owned(w) {
                Ok(p) => Some(p),
                Err(TryAcquireError::NoPermits) => return Some(kind),
                Err(TryAcquireError::Closed) => return None,
            }
        } else {
            None
        };
        let msg = TapMsg {
            conn: conn.clone(),
            at,
            kind,
            permit,
        };
        match self.tx.try_send(Intake::Tap(msg)) {
            Ok(()) => None,
            // Its permit goes back as the message is taken apart.
            Err(mpsc::error::TrySendError::Full(Intake::Tap(m))) => Some(m.kind),
            // The recording has ended: nothing to keep.
            Err(_) => None,
        }
    }

    /// Sends a message of the recorder's owner (tick, stop), waiting for room.
    /// `false` when the recorder has ended.
    pub async fn control(&self, msg: Intake) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Like `control`, without waiting: a full queue wakes the recorder
    /// anyway. `false` only when the recorder has ended.
    pub fn try_control(&self, msg: Intake) -> bool {
        !matches!(
            self.tx.try_send(msg),
            Err(mpsc::error::TrySendError::Closed(_))
        )
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
        let (tap, mut rx, budget) = queue("r");
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
        let (tap, _rx, budget) = queue("r");
        let c = conn();
        for _ in 0..TAP_QUEUE {
            assert!(tap.try_send(&c, Instant::now(), data(1)).is_none());
        }
        assert!(tap.try_send(&c, Instant::now(), data(1000)).is_some());
        assert_eq!(budget.available_permits(), TAP_QUEUE_BYTES - TAP_QUEUE);
    }
}
