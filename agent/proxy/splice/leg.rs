//! A direction on the zero-copy path: wait for the sender, splice what it
//! has into the pipe, splice all of it on to the receiver, and again,
//! until something needs the bytes, the sender finishes or the direction
//! ends. Counting, transfer events, half-close and how a direction ends
//! are those of the copying path (`pump`), so nothing downstream can tell
//! which path moved the bytes.

// As in `pump`: long-lived futures as `fn -> impl Future` keep each
// connection's task small.
#![allow(clippy::manual_async_fn)]

use std::io;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::Gate;
use super::pipe::Pipe;
use crate::faults::DirFaults;
use crate::proxy::flow::{Leg, LegEnd};

impl Leg<'_> {
    /// Whether nothing needs this direction's bytes now: no recording taps
    /// the proxy and no fault profile shapes the direction. (A profile that
    /// does not shape, such as `slow_close` or `reset_after`, acts on the
    /// connection, not on its bytes, as on the copying path.)
    pub(in crate::proxy) fn bytes_unneeded(&self, faults: &DirFaults) -> bool {
        !faults.shaping() && self.proxy.taps().is_empty()
    }

    /// Relays by `splice` while nothing needs the bytes. `None` with the
    /// pipe emptied when something does (or the pipe could not be had, or
    /// the descriptor budget runs short while the sender is idle), and at
    /// the sender's EOF with `eof` set once the recordings were told;
    /// `Some` when the direction has ended otherwise.
    pub(in crate::proxy) fn spliced(
        &self,
        from: &mut ReadHalf<'_>,
        to: &mut WriteHalf<'_>,
        faults: &DirFaults,
        eof: &mut bool,
        gate: &mut Gate,
    ) -> impl Future<Output = Option<LegEnd>> {
        async move {
            let Some(pipe) = Pipe::open(&self.proxy.fds) else {
                gate.refused();
                return None;
            };
            let (from, to) = (from.as_ref(), to.as_ref());
            loop {
                // Checked before every read, the pipe being empty: bytes
                // read from here on are the copying path's to log.
                if !self.bytes_unneeded(faults) {
                    return None;
                }
                match from.try_io(Interest::READABLE, || pipe.fill(from)) {
                    Ok(0) => {
                        Box::pin(self.half_close(Instant::now())).await;
                        *eof = true;
                        return None;
                    }
                    Ok(n) => {
                        // Counted when read, as the copying path does.
                        self.meta.add_bytes(self.dir, n as u64);
                        self.proxy.counters.add_bytes(self.dir, n as u64);
                        self.transfer_event(n, Duration::ZERO, Duration::ZERO);
                        if let Err(end) = drain(&pipe, n, to, self.cancel).await {
                            return Some(end);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // An idle direction gives its pipe back when
                        // descriptors run short.
                        if self.proxy.fds.pressed(0) {
                            return None;
                        }
                        if let Err(end) = ready(from, Interest::READABLE, self.cancel).await {
                            return Some(end);
                        }
                    }
                    Err(e) => return Some(LegEnd::ReadFailed(e)),
                }
            }
        }
    }
}

/// Splices the `n` bytes in the pipe on to `to`.
fn drain(
    pipe: &Pipe,
    mut n: usize,
    to: &TcpStream,
    cancel: &CancellationToken,
) -> impl Future<Output = Result<(), LegEnd>> {
    async move {
        while n > 0 {
            match to.try_io(Interest::WRITABLE, || pipe.drain_into(to, n)) {
                Ok(0) => return Err(LegEnd::WriteFailed(io::ErrorKind::WriteZero.into())),
                Ok(k) => n -= k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready(to, Interest::WRITABLE, cancel).await?;
                }
                Err(e) => return Err(LegEnd::WriteFailed(e)),
            }
        }
        Ok(())
    }
}

/// Waits until `sock` is ready for `interest` (readable or writable) or the
/// direction is cancelled. Readiness as a poll: the socket keeps the
/// waker, so waiting adds nothing to the future but the cancellation.
fn ready(
    sock: &TcpStream,
    interest: Interest,
    cancel: &CancellationToken,
) -> impl Future<Output = Result<(), LegEnd>> {
    async move {
        let mut cancelled = std::pin::pin!(cancel.cancelled());
        std::future::poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(LegEnd::Cancelled));
            }
            if interest.is_readable() {
                sock.poll_read_ready(cx).map_err(LegEnd::ReadFailed)
            } else {
                sock.poll_write_ready(cx).map_err(LegEnd::WriteFailed)
            }
        })
        .await
    }
}
