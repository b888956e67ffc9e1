//! What both paths of a direction share — the plain one (`pump`) and the
//! shaped one (`shaping`), siblings that import this and not each other:
//! the direction's context (`Leg`), how it ends, its chunk sizes, counting
//! and logging a chunk that arrived, and the cancellable write and sleep.

// As in `pump`: long-lived futures as `fn -> impl Future` keep each
// connection's task small.
#![allow(clippy::manual_async_fn)]

use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::net::tcp::WriteHalf;
use tokio_util::sync::CancellationToken;

use super::{ConnMeta, Proxy};
use crate::domain::Direction;
use crate::events::{EventBody, EventBus};
use crate::tap::{Tap, TapKind};

/// Largest chunk read at once under a fault profile: a finer grain for
/// delays, bandwidth caps and byte triggers.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Largest chunk read at once otherwise, and so the largest DATA frame a
/// relay records: fewer, larger reads and writes, and fewer wake-ups of the
/// peers and the recorder (on loopback, 1-connection throughput goes from
/// ~11 to ~17 Gbit/s without a recording, ~7.4 to ~8.9 with one). What a
/// recording may hold in flight is bounded in bytes (`TAP_QUEUE_BYTES`).
pub const PLAIN_CHUNK_SIZE: usize = 4 * CHUNK_SIZE;

/// How one direction ended.
#[derive(Debug)]
pub(crate) enum LegEnd {
    /// The sender finished cleanly (FIN); the shutdown was passed on.
    Eof,
    /// Reading from the sender failed (usually a reset).
    ReadFailed(io::Error),
    /// Writing to the receiver failed (it reset or went away).
    WriteFailed(io::Error),
    /// The connection was told to stop.
    Cancelled,
    /// A fault ended the connection: with a reset, or a plain close.
    Fault { reason: String, reset: bool },
}

/// One direction of a relayed connection (a leg), and its fixed context.
pub(crate) struct Leg<'a> {
    pub proxy: &'a Proxy,
    pub bus: &'a EventBus,
    pub meta: &'a Arc<ConnMeta>,
    pub dir: Direction,
    pub cancel: &'a CancellationToken,
}

impl Leg<'_> {
    /// A transfer event (when anyone watches them): `delay` as it happened,
    /// `drawn` as the profile scheduled it.
    pub(super) fn transfer_event(&self, bytes: usize, delay: Duration, drawn: Duration) {
        if self.bus.wants_transfers() {
            self.bus.publish(
                Some(&self.proxy.id),
                EventBody::Transfer {
                    conn: self.meta.id,
                    dir: self.dir,
                    bytes: bytes as u64,
                    delay,
                    drawn,
                },
            );
        }
    }

    /// Counts a chunk just read and hands it to the recordings. Client
    /// chunks written at once are logged by `write_logged` instead.
    pub(super) async fn arrived(&self, taps: &[Tap], at: Instant, chunk: &Bytes) {
        self.meta.add_bytes(self.dir, chunk.len() as u64);
        self.proxy.counters.add_bytes(self.dir, chunk.len() as u64);
        for tap in taps {
            tap.send(self.meta, at, TapKind::Data(self.dir, chunk.clone()))
                .await;
        }
    }

    pub(super) async fn half_close(&self, at: Instant) {
        for tap in self.proxy.taps().iter() {
            tap.send(self.meta, at, TapKind::HalfClose(self.dir)).await;
        }
    }
}

/// `write_all` that gives up on cancellation; `Ok(false)` when cancelled.
/// Written as one poll loop (the socket keeps the waker), so the future of
/// every connection stays small.
pub(super) fn write_all(
    to: &mut WriteHalf<'_>,
    bytes: &[u8],
    cancel: &CancellationToken,
) -> impl Future<Output = io::Result<bool>> {
    async move {
        let mut cancelled = std::pin::pin!(cancel.cancelled());
        let mut done = 0;
        std::future::poll_fn(|cx| {
            while done < bytes.len() {
                if cancelled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(false));
                }
                match std::pin::Pin::new(&mut *to).poll_write(cx, &bytes[done..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => done += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(true))
        })
        .await
    }
}

/// Sleeps unless cancelled first; false when cancelled.
pub(super) async fn sleep_for(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
