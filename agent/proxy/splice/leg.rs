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

use tokio::io::{Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::futures::Notified;
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
    /// pipe emptied (and given back) when something does, when no pipe
    /// could be had, or when the descriptor budget runs short while the
    /// sender is idle; `None` at the sender's EOF with `eof` set once the
    /// recordings were told; `Some` when the direction has ended otherwise.
    pub(in crate::proxy) fn spliced(
        &self,
        from: &mut ReadHalf<'_>,
        to: &mut WriteHalf<'_>,
        faults: &DirFaults,
        eof: &mut bool,
        gate: &mut Gate,
    ) -> impl Future<Output = Option<LegEnd>> {
        async move {
            let (from, to) = (from.as_ref(), to.as_ref());
            // Made once the sender has bytes: an idle direction holds none.
            let mut pipe = None;
            loop {
                // Checked before every read, the pipe being empty: bytes
                // read from here on are the copying path's to log.
                if !self.bytes_unneeded(faults) {
                    return None;
                }
                let Some(pipe) = &pipe else {
                    if let Err(end) = has_bytes(from, self.cancel).await {
                        return Some(end);
                    }
                    pipe = Pipe::open(&self.proxy.fds);
                    if pipe.is_none() {
                        gate.refused();
                        return None;
                    }
                    continue;
                };
                match from.try_io(Interest::READABLE, || pipe.fill(from)) {
                    Ok(0) => {
                        Box::pin(self.half_close(Instant::now())).await;
                        *eof = true;
                        return None;
                    }
                    Ok(n) => {
                        gate.copied(n);
                        // Counted when read, as the copying path does.
                        self.meta.add_bytes(self.dir, n as u64);
                        self.proxy.counters.add_bytes(self.dir, n as u64);
                        self.transfer_event(n, Duration::ZERO, Duration::ZERO);
                        if let Err(end) = drain(pipe, n, to, self.cancel).await {
                            return Some(end);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The sender caught up after small chunks: the
                        // flow is no longer bulk; copying waits for it.
                        if !gate.stays() {
                            return None;
                        }
                        // An idle direction gives its pipe back when
                        // clients leave the descriptor budget short.
                        let short = self.proxy.fds.short();
                        if self.proxy.fds.pressed(0) {
                            return None;
                        }
                        match idle(from, short, self.cancel).await {
                            Ok(true) => {}
                            Ok(false) => return None,
                            Err(end) => return Some(end),
                        }
                    }
                    Err(e) if unsupported(&e) => {
                        // Nothing was read: the copying path takes over.
                        super::refuse_everywhere(&e);
                        return None;
                    }
                    Err(e) => return Some(LegEnd::ReadFailed(e)),
                }
            }
        }
    }
}

/// Whether `splice` itself is refused here (a sandbox such as gVisor or a
/// seccomp filter, a kernel without it), not the socket.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::InvalidInput
    )
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

/// Waits, holding the pipe, until the sender is readable (`true`) or the
/// descriptor budget runs short (`false`: the pipe is to be given back).
fn idle<'a>(
    sock: &'a TcpStream,
    short: Notified<'a>,
    cancel: &'a CancellationToken,
) -> impl Future<Output = Result<bool, LegEnd>> + 'a {
    async move {
        let mut short = std::pin::pin!(short);
        let mut readable = std::pin::pin!(ready(sock, Interest::READABLE, cancel));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = readable.as_mut().poll(cx) {
                return Poll::Ready(r.map(|()| true));
            }
            short.as_mut().poll(cx).map(|()| Ok(false))
        })
        .await
    }
}

/// Waits until the sender has bytes (or has finished), peeking at one:
/// readiness alone can be stale (a socket just accepted reads as ready),
/// and a pipe is worth making only for bytes that are there.
fn has_bytes(
    sock: &TcpStream,
    cancel: &CancellationToken,
) -> impl Future<Output = Result<(), LegEnd>> {
    async move {
        let mut cancelled = std::pin::pin!(cancel.cancelled());
        let mut byte = [0u8; 1];
        std::future::poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(LegEnd::Cancelled));
            }
            let mut buf = ReadBuf::new(&mut byte);
            sock.poll_peek(cx, &mut buf)
                .map(|r| r.map(drop).map_err(LegEnd::ReadFailed))
        })
        .await
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
