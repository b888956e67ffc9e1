//! One direction of a relayed connection, its entry point and the plain
//! path: read a chunk, hand it to the recordings, pass it on at once. With a
//! fault profile the chunk is held in a small queue until its release
//! instant instead (`shaping`, the sibling path). What both share is in
//! `flow`. While nothing needs the bytes, the zero-copy path (`splice`)
//! moves them instead, and hands back here as soon as something does.

// The long-lived futures here are written as `fn ... -> impl Future` with an
// `async move` block rather than `async fn`: an `async fn` keeps its
// parameters twice in its state (as captured and as moved locals), and every
// byte of that state stays allocated for the life of each connection
// (`size_of` of a connection's future went from 2,744 to 1,880 bytes).
#![allow(clippy::manual_async_fn)]

use std::io;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};

use super::buffer;
use super::flow::{Leg, LegEnd, PLAIN_CHUNK_SIZE, sleep_for, write_all};
use super::shaping::Queue;
use super::splice::Gate;
use crate::domain::Direction;
use crate::faults::{ConnFaults, DirFaults};
use crate::tap::{Tap, TapKind};

impl Leg<'_> {
    /// Moves bytes from `from` to `to` until EOF, an error, a fault or
    /// cancellation. A clean EOF leaves the other direction running
    /// (half-close) and is noted in `first_eof`; any other end stops the
    /// whole connection.
    pub fn run(
        &self,
        from: &mut ReadHalf<'_>,
        to: &mut WriteHalf<'_>,
        faults: &ConnFaults,
        first_eof: &OnceLock<Direction>,
    ) -> impl Future<Output = LegEnd> {
        async move {
            // Everything the direction owns lives in this one future (no
            // wrapper around it), so each connection's task stays small.
            let mut faults = faults.direction(self.dir);
            let mut buf = BytesMut::new();
            let mut queue = Queue::default();
            let mut gate = Gate::default();
            let end = loop {
                if queue.eof && queue.held.is_empty() {
                    // Boxed, like every rare step, so the future of an idle
                    // connection stays small.
                    break Box::pin(self.pass_close(to, &faults)).await;
                }
                if queue.held.is_empty() && !faults.shaping() {
                    #[cfg(target_os = "linux")]
                    if gate.open() && self.bytes_unneeded(&faults) {
                        if let Some(end) = self
                            .spliced(from, to, &faults, &mut queue.eof, &mut gate)
                            .await
                        {
                            break end;
                        }
                        if queue.eof {
                            continue;
                        }
                    }
                    if let Some(end) = self
                        .plain_chunk(from, to, &mut faults, &mut buf, &mut queue, &mut gate)
                        .await
                    {
                        break end;
                    }
                    continue;
                }
                // Allocated once each time the profile starts shaping.
                if let Some(end) =
                    Box::pin(self.shaped(from, to, &mut faults, &mut buf, &mut queue)).await
                {
                    break end;
                }
            };
            match end {
                LegEnd::Eof => {
                    let _ = first_eof.set(self.dir);
                }
                _ => self.cancel.cancel(),
            }
            end
        }
    }

    /// Plain relaying of one chunk: read, log, write. `Some` when the
    /// direction has ended.
    fn plain_chunk(
        &self,
        from: &mut ReadHalf<'_>,
        to: &mut WriteHalf<'_>,
        faults: &mut DirFaults,
        buf: &mut BytesMut,
        queue: &mut Queue,
        gate: &mut Gate,
    ) -> impl Future<Output = Option<LegEnd>> {
        async move {
            let n = match self.read_chunk(from, buf).await {
                Ok(n) => n,
                Err(end) => return Some(end),
            };
            gate.copied(n);
            let at = Instant::now();
            if n == 0 {
                buffer::give_back(buf);
                Box::pin(self.half_close(at)).await;
                queue.eof = true;
                return None;
            }
            if faults.shaping() {
                // The profile changed while this chunk was read. Nothing
                // is held, so that change has nothing to reschedule:
                // mark it seen, or the chunk would be drawn twice.
                faults.rx.borrow_and_update();
                let chunk = buf.split().freeze();
                Box::pin(self.hold(&mut queue.held, faults, at, chunk)).await;
                return None;
            }
            if let Err(end) = self.direct(to, buf, at).await {
                return Some(end);
            }
            buffer::give_back(buf);
            None
        }
    }

    /// Waits for the sender's next bytes and reads at most `PLAIN_CHUNK_SIZE` of them
    /// into `buf`, which holds no memory while the connection is idle: a
    /// buffer is taken only once the socket is readable, and given back if
    /// that was stale.
    fn read_chunk(
        &self,
        from: &mut ReadHalf<'_>,
        buf: &mut BytesMut,
    ) -> impl Future<Output = Result<usize, LegEnd>> {
        async move {
            let mut cancelled = std::pin::pin!(self.cancel.cancelled());
            loop {
                // Readiness as a poll: the socket keeps the waker, so waiting
                // adds nothing to this future but the cancellation.
                std::future::poll_fn(|cx| {
                    if cancelled.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(LegEnd::Cancelled));
                    }
                    from.as_ref()
                        .poll_read_ready(cx)
                        .map_err(LegEnd::ReadFailed)
                })
                .await?;
                buffer::take(buf);
                // One read attempt: tokio's read clears a stale readiness (and,
                // after a short read, knows the socket is drained).
                let polled = {
                    let mut room = (&mut *buf).limit(PLAIN_CHUNK_SIZE);
                    let mut read = std::pin::pin!(from.read_buf(&mut room));
                    std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
                };
                match polled {
                    Poll::Ready(Ok(n)) => return Ok(n),
                    Poll::Ready(Err(e)) => return Err(LegEnd::ReadFailed(e)),
                    Poll::Pending => buffer::give_back(buf),
                }
            }
        }
    }

    /// Queues a chunk for every recording that has room; returns the others.
    fn try_log<'t>(&self, taps: &'t [Tap], at: Instant, chunk: &Bytes) -> Vec<(&'t Tap, TapKind)> {
        let mut pending = Vec::new();
        for tap in taps {
            if let Some(kind) = tap.try_send(self.meta, at, TapKind::Data(self.dir, chunk.clone()))
            {
                pending.push((tap, kind));
            }
        }
        pending
    }

    /// Waits for room in the recordings whose queue was full, then writes
    /// the rest of the chunk.
    async fn finish_logged(
        &self,
        to: &mut WriteHalf<'_>,
        pending: Vec<(&Tap, TapKind)>,
        rest: &[u8],
        at: Instant,
    ) -> io::Result<bool> {
        for (tap, kind) in pending {
            tap.send(self.meta, at, kind).await;
        }
        write_all(to, rest, self.cancel).await
    }

    /// Passes the sender's FIN on, after `slow_close` if a profile asks.
    async fn pass_close(&self, to: &mut WriteHalf<'_>, faults: &DirFaults) -> LegEnd {
        if let Some(d) = faults.active().and_then(|s| s.slow_close)
            && !sleep_for(d, self.cancel).await
        {
            return LegEnd::Cancelled;
        }
        let _ = to.shutdown().await;
        LegEnd::Eof
    }

    /// Writes a chunk read in plain mode, logging it on the way.
    fn direct(
        &self,
        to: &mut WriteHalf<'_>,
        buf: &mut BytesMut,
        at: Instant,
    ) -> impl Future<Output = Result<(), LegEnd>> {
        async move {
            let taps = self.proxy.taps();
            let n = buf.len();
            self.meta.add_bytes(self.dir, n as u64);
            self.proxy.counters.add_bytes(self.dir, n as u64);
            self.transfer_event(n, Duration::ZERO, Duration::ZERO);
            let written = if taps.is_empty() {
                let r = write_all(to, buf, self.cancel).await;
                buf.clear();
                r
            } else {
                // Recordings get the same bytes without a copy. The chunk is
                // queued and written at once when the queues have room and the
                // socket takes it all; otherwise the rest is finished by a boxed
                // step, so the future of every connection stays small.
                let chunk = buf.split().freeze();
                let (written, pending) = match self.dir {
                    Direction::C2s => match write_logged(self, &taps, at, to, &chunk) {
                        Ok(w) => w,
                        Err(e) => return Err(LegEnd::WriteFailed(e)),
                    },
                    // A server chunk is logged before the client can see it, so
                    // whatever the client does in reaction comes after it.
                    Direction::S2c => {
                        let pending = self.try_log(&taps, at, &chunk);
                        let written = if pending.is_empty() {
                            match to.try_write(&chunk) {
                                Ok(n) => n,
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                                Err(e) => return Err(LegEnd::WriteFailed(e)),
                            }
                        } else {
                            0
                        };
                        (written, pending)
                    }
                };
                if pending.is_empty() && written == chunk.len() {
                    Ok(true)
                } else {
                    Box::pin(self.finish_logged(to, pending, &chunk[written..], at)).await
                }
            };
            match written {
                Ok(true) => Ok(()),
                Ok(false) => Err(LegEnd::Cancelled),
                Err(e) => Err(LegEnd::WriteFailed(e)),
            }
        }
    }
}

/// Queues a client chunk for the recordings and writes what the socket takes
/// of it upstream, both under the agent's write order lock, so chunks of
/// different connections are logged in the order they reached the servers.
/// Returns the bytes written and the recordings whose queue was full; when
/// one was, nothing is written yet: the caller waits for room, then writes,
/// outside the lock. So a client chunk is in every recording before its
/// server can answer it; only that chunk's cross-connection order is looser.
fn write_logged<'t>(
    flow: &Leg<'_>,
    taps: &'t [Tap],
    at: Instant,
    to: &mut WriteHalf<'_>,
    chunk: &Bytes,
) -> io::Result<(usize, Vec<(&'t Tap, TapKind)>)> {
    let _order = flow
        .proxy
        .write_order
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let pending = flow.try_log(taps, at, chunk);
    if !pending.is_empty() {
        return Ok((0, pending));
    }
    let written = match to.try_write(chunk) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    Ok((written, pending))
}
