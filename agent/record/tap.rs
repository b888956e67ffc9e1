//! A recording's intake: what a proxy connection hands to each recording that
//! takes its traffic. Sending waits when the recorder's queue is full, so a
//! recorder that cannot keep up slows the proxy down (backpressure) rather
//! than dropping bytes.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc};

use crate::format::Direction;
use crate::proxy::ConnMeta;

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
}

#[derive(Debug)]
pub enum TapKind {
    /// The connection exists (sent at open, and for connections already open
    /// when a recording starts).
    Open,
    Data(Direction, Bytes),
    /// The sender of `Direction` shut down its write side.
    HalfClose(Direction),
    Close(String),
}

/// Messages a recorder task receives, in order.
#[derive(Debug)]
pub(crate) enum RecorderMsg {
    Tap(TapMsg),
    /// Periodic wake-up so buffered frames reach the disk while traffic is idle.
    Tick,
    /// Finish the file; the reply carries the final summary or the error.
    Stop {
        reason: String,
        reply: tokio::sync::oneshot::Sender<super::recorder::StopReply>,
    },
}

/// A proxy's handle on one recording.
#[derive(Debug, Clone)]
pub struct Tap {
    pub recording_id: Arc<str>,
    pub(crate) tx: mpsc::Sender<RecorderMsg>,
    /// Permits for payload bytes in flight ([`TAP_QUEUE_BYTES`]); the
    /// recorder gives them back once it has written the bytes, and closes it
    /// when it ends.
    pub(crate) budget: Arc<Semaphore>,
}

/// The queue between the proxies and a new recorder: its sending side, its
/// receiving side, and the byte budget both share.
pub(crate) fn queue() -> (
    mpsc::Sender<RecorderMsg>,
    mpsc::Receiver<RecorderMsg>,
    Arc<Semaphore>,
) {
    let (tx, rx) = mpsc::channel(TAP_QUEUE);
    (tx, rx, Arc::new(Semaphore::new(TAP_QUEUE_BYTES)))
}

/// Payload bytes `kind` holds in flight: what a proxy takes from the budget
/// and the recorder gives back (permits are counted in `u32`; chunks are
/// far smaller than the budget).
pub(crate) fn weight(kind: &TapKind) -> u32 {
    match kind {
        TapKind::Data(_, b) => u32::try_from(b.len()).unwrap_or(u32::MAX),
        _ => 0,
    }
}

impl Tap {
    /// Queues `kind` for `conn`, waiting while the recorder's queue is full.
    /// A recorder that has ended drops the message: the recording has stopped.
    pub async fn send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) {
        let w = weight(&kind);
        if w > 0 {
            match self.budget.acquire_many(w).await {
                Ok(permit) => permit.forget(),
                // The recorder has ended.
                Err(_) => return,
            }
        }
        let msg = TapMsg {
            conn: conn.clone(),
            at,
            kind,
        };
        let _ = self.tx.send(RecorderMsg::Tap(msg)).await;
    }

    /// Queues without waiting. Gives the message back when the queue is
    /// full, for the caller to `send` later (never dropped).
    pub fn try_send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) -> Option<TapKind> {
        let w = weight(&kind);
        if w > 0 {
            match self.budget.try_acquire_many(w) {
                Ok(permit) => permit.forget(),
                Err(tokio::sync::TryAcquireError::NoPermits) => return Some(kind),
                Err(tokio::sync::TryAcquireError::Closed) => return None,
            }
        }
        let msg = TapMsg {
            conn: conn.clone(),
            at,
            kind,
        };
        match self.tx.try_send(RecorderMsg::Tap(msg)) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(RecorderMsg::Tap(m))) => {
                self.budget.add_permits(w as usize);
                Some(m.kind)
            }
            // The recording has ended: nothing to keep.
            Err(_) => None,
        }
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
        let (tx, mut rx, budget) = queue();
        let tap = Tap {
            recording_id: "r".into(),
            tx,
            budget: budget.clone(),
        };
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
        // The recorder writes one chunk and gives its bytes back.
        assert!(rx.recv().await.is_some());
        budget.add_permits(chunk);
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
        let (tx, _rx, budget) = queue();
        let tap = Tap {
            recording_id: "r".into(),
            tx,
            budget: budget.clone(),
        };
        let c = conn();
        for _ in 0..TAP_QUEUE {
            assert!(tap.try_send(&c, Instant::now(), data(1)).is_none());
        }
        assert!(tap.try_send(&c, Instant::now(), data(1000)).is_some());
        assert_eq!(budget.available_permits(), TAP_QUEUE_BYTES - TAP_QUEUE);
    }
}
