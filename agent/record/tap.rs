//! A recording's intake: what a proxy connection hands to each recording that
//! takes its traffic. Sending waits when the recorder's queue is full, so a
//! recorder that cannot keep up slows the proxy down (backpressure) rather
//! than dropping bytes.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::format::Direction;
use crate::proxy::ConnMeta;

/// Frames queued between the proxies and one recorder. Bounds the memory a
/// recording can hold in flight (at most this many chunks of ≤ 64 KiB).
pub const TAP_QUEUE: usize = 1024;

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
}

impl Tap {
    /// Queues `kind` for `conn`, waiting while the recorder's queue is full.
    /// A recorder that has ended drops the message: the recording has stopped.
    pub async fn send(&self, conn: &Arc<ConnMeta>, at: Instant, kind: TapKind) {
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
        let msg = TapMsg {
            conn: conn.clone(),
            at,
            kind,
        };
        match self.tx.try_send(RecorderMsg::Tap(msg)) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(RecorderMsg::Tap(m))) => Some(m.kind),
            // The recording has ended: nothing to keep.
            Err(_) => None,
        }
    }
}
