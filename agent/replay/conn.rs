//! One replayed connection's sockets: connect (`connect`: retried only
//! before any byte was sent), a reader task that counts and verifies
//! server bytes as they arrive, and the client-side actions (send,
//! half-close, drain and close).
//! A UDP session has a connected UDP socket instead (`datagram`): one send
//! per datagram, no half-close, and its end is the client's.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::connect::{Socket, open_socket};
use super::datagram::{self, Sent};
use super::inbound::{Inbound, Shared};
use super::plan::ConnPlan;
use super::progress::Progress;
use super::reader::{Expected, Observer, ReadOutcome, Reader, read_loop};
use super::report::ConnReport;
use super::verifier::Verify;
use super::verify::Verifier;
use super::verify_datagram::DatagramVerifier;
use crate::faults::{ConnFaults, DirFaults};
use crate::fds::FdBudget;
use crate::format::{Direction, Transport};
use crate::rewrite::{Framing, Rules};

/// After the client's last step, how long the server gets to close its side
/// before the replay stops reading.
pub const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// What a new connection needs besides its plan.
pub struct OpenOptions {
    /// The recorded server bytes to compare with, when verifying.
    pub verify: Option<Expected>,
    pub observer: Option<Observer>,
    /// The units waits count in (see `units`): messages of this framing.
    pub framing: Option<Framing>,
    /// The rules and this connection's rewriter, and what to bump when a
    /// live value was learned.
    pub rewrite: Option<(Arc<Rules>, Shared, watch::Sender<u64>)>,
    /// `--server-timeout`: a write without progress this long is counted.
    pub stall: Duration,
    pub progress: Arc<Progress>,
    /// When the replay started: times in the report are relative to it.
    pub t0: Instant,
    /// This connection's share of the replay's fault profile.
    pub faults: ConnFaults,
    /// The agent's data-path descriptors, shared with proxy clients.
    pub fds: FdBudget,
}

/// The client side of a replayed connection's socket.
enum Writer {
    Tcp(OwnedWriteHalf),
    /// Shared with the reader task.
    Udp(Arc<UdpSocket>),
}

/// An open replayed connection.
pub struct LiveConn {
    writer: Option<Writer>,
    /// UDP: datagrams handed to `send` so far, to name one in an error.
    datagrams_tried: u64,
    /// Whether the server's bytes are compared with the recording.
    verifying: bool,
    /// Its socket's share of the agent's file-descriptor budget.
    _fd: OwnedSemaphorePermit,
    received: watch::Receiver<u64>,
    reader: JoinHandle<ReadOutcome>,
    /// Tells the reader to stop and hand back what it learned.
    stop_reader: CancellationToken,
    pub report: ConnReport,
    /// Server bytes this connection is known to lack against the recording
    /// (from waits that timed out). Later waits expect that many fewer, so
    /// one short answer costs one timeout, not one per remaining step.
    pub shortfall: u64,
    /// Faults shaping what this connection sends.
    c2s: DirFaults,
    /// How long a write may make no progress before it counts as a
    /// server timeout (`--server-timeout`).
    stall: Duration,
    progress: Arc<Progress>,
    /// When the replay started: times in the report are relative to it.
    t0: Instant,
}

impl LiveConn {
    /// Opens the connection for `plan` against `target`. On failure the
    /// returned report carries the error.
    pub async fn open(
        plan: &ConnPlan,
        mut report: ConnReport,
        target: &str,
        options: OpenOptions,
        cancel: &CancellationToken,
    ) -> Result<LiveConn, ConnReport> {
        let OpenOptions {
            verify,
            observer,
            framing,
            rewrite,
            stall,
            progress,
            t0,
            faults,
            fds,
        } = options;
        if let Some(d) = faults.active().and_then(|s| s.connect_delay) {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(d) => {}
            }
        }
        // Like a proxy client, a replayed connection may not eat into the
        // descriptors kept for the control plane.
        let Some(fd) = fds.try_take(1) else {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            report.error = Some(fds.refusal());
            return Err(report);
        };
        let socket = open_socket(plan.transport, target, cancel).await;
        let socket = match socket {
            Ok(s) => s,
            Err(e) => {
                progress.failed.fetch_add(1, Ordering::Relaxed);
                report.error = Some(e.to_string());
                return Err(report);
            }
        };
        progress.opened.fetch_add(1, Ordering::Relaxed);
        report.opened = true;
        let (tx, rx) = watch::channel(0u64);
        let verifying = verify.is_some();
        let verifier = verify.as_ref().map(|_| match plan.transport {
            Transport::Udp => {
                Verify::Datagrams(Box::new(DatagramVerifier::new(plan.s2c_datagrams)))
            }
            Transport::Tcp => Verify::Stream(Verifier::new(plan.s2c_total)),
        });
        let inbound = Inbound::new((plan.transport, framing.as_ref()), rewrite, verifier);
        let stop_reader = cancel.child_token();
        let parts = Reader {
            inbound,
            expected: verify,
            observer,
            units: tx,
            s2c: faults.direction(Direction::S2c),
            progress: progress.clone(),
            cancel: stop_reader.clone(),
        };
        let (writer, reader) = match socket {
            Socket::Tcp(stream) => {
                let _ = stream.set_nodelay(true);
                let (r, w) = stream.into_split();
                (Writer::Tcp(w), tokio::spawn(read_loop(r, parts)))
            }
            Socket::Udp(s) => {
                let s = Arc::new(s);
                (
                    Writer::Udp(s.clone()),
                    tokio::spawn(datagram::recv_loop(s, parts)),
                )
            }
        };
        Ok(LiveConn {
            writer: Some(writer),
            datagrams_tried: 0,
            verifying,
            _fd: fd,
            received: rx,
            reader,
            stop_reader,
            report,
            shortfall: 0,
            c2s: faults.direction(Direction::C2s),
            stall,
            progress,
            t0,
        })
    }

    /// Server bytes received so far.
    pub fn received(&self) -> u64 {
        *self.received.borrow()
    }

    /// Whether the server has closed its side.
    pub fn server_closed(&self) -> bool {
        self.received.has_changed().is_err()
    }

    /// Waits until `bytes` server bytes have arrived, the server closed, or
    /// `timeout` passed. Returns whether the bytes arrived.
    pub async fn wait_received(
        &mut self,
        bytes: u64,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> bool {
        let mut rx = self.received.clone();
        let wait = rx.wait_for(|n| *n >= bytes);
        tokio::select! {
            _ = cancel.cancelled() => false,
            r = tokio::time::timeout(timeout, wait) => matches!(r, Ok(Ok(_))),
        }
    }

    /// Sends a chunk through the replay's fault profile (latency,
    /// bandwidth, slicer, black hole); a failure ends the connection's script.
    pub async fn send(&mut self, data: &[u8], cancel: &CancellationToken) -> io::Result<()> {
        let stopped = || io::Error::new(io::ErrorKind::Interrupted, "replay stopped");
        if self.writer.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "write side already shut down",
            ));
        }
        let spec = self.c2s.active();
        let mut pieces: Vec<&[u8]> = vec![data];
        if let Some(spec) = &spec {
            if self.c2s.black_hole(spec) {
                // Swallowed on the way, as a black-holed link would.
                self.report.bytes_sent += data.len() as u64;
                if let Some(u) = &mut self.report.udp {
                    u.sent += 1;
                }
                return Ok(());
            }
            let delay = self.c2s.draw_delay(spec);
            let release = self.c2s.release(crate::timer::now(), delay);
            let wait = self.c2s.bandwidth_wait(spec, data.len(), release);
            let at = tokio::time::Instant::from_std(release + wait);
            tokio::select! {
                _ = cancel.cancelled() => return Err(stopped()),
                _ = tokio::time::sleep_until(at) => {}
            }
            if let Some(s) = spec.slicer.filter(|_| spec.directions.has(Direction::C2s)) {
                pieces = data.chunks(s.size).collect();
            }
        }
        if let Some(Writer::Udp(socket)) = &self.writer {
            // A datagram is never sliced: it goes out whole or not at all.
            let socket = socket.clone();
            return self.send_datagram(&socket, data).await;
        }
        let pause = spec
            .as_ref()
            .and_then(|s| s.slicer.filter(|_| s.directions.has(Direction::C2s)))
            .map_or(Duration::ZERO, |s| s.pause);
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(stopped()),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            let Some(Writer::Tcp(w)) = self.writer.as_mut() else {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "write side already shut down",
                ));
            };
            // A server that stops reading holds the write: every
            // `stall` without progress is counted as a server timeout, so
            // a stuck replay says so (the write goes on: bytes cannot be
            // skipped mid-stream).
            let write = w.write_all(piece);
            tokio::pin!(write);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(stopped()),
                    r = &mut write => {
                        r?;
                        break;
                    }
                    _ = tokio::time::sleep(self.stall) => {
                        self.report.server_timeouts += 1;
                        self.progress.server_timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            self.report.bytes_sent += piece.len() as u64;
            self.progress
                .bytes_sent
                .fetch_add(piece.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sends one datagram of a UDP session. Port-unreachable reports are
    /// counted, and a datagram larger than the path allows is the
    /// connection's error; the session goes on after both, as a UDP client
    /// does.
    async fn send_datagram(&mut self, socket: &UdpSocket, data: &[u8]) -> io::Result<()> {
        self.datagrams_tried += 1;
        let udp = self.report.udp.get_or_insert_default();
        match datagram::send(socket, data).await? {
            Sent::Whole { bytes, refusals } => {
                udp.sent += 1;
                udp.refused += refusals;
                self.report.bytes_sent += bytes as u64;
                self.progress
                    .bytes_sent
                    .fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Sent::Refused => udp.refused += 2,
            Sent::TooLarge(e) => {
                if self.report.error.is_none() {
                    self.report.error = Some(format!(
                        "datagram {} of {} bytes not sent: larger than the path to {} allows ({e})",
                        self.datagrams_tried,
                        data.len(),
                        self.report.target
                    ));
                }
            }
        }
        Ok(())
    }

    /// Half-closes: the server sees EOF and may still answer. A UDP
    /// session has no half-close: nothing happens.
    pub async fn shutdown_write(&mut self) {
        if matches!(self.writer, Some(Writer::Tcp(_)))
            && let Some(Writer::Tcp(mut w)) = self.writer.take()
        {
            let _ = w.shutdown().await;
        }
    }

    /// Waits (bounded) for the rest of the recorded server bytes, closes,
    /// and completes the report.
    pub async fn finish(
        mut self,
        expected: u64,
        drain: Duration,
        cancel: &CancellationToken,
    ) -> ConnReport {
        let udp = matches!(self.writer, Some(Writer::Udp(_)));
        // A UDP server never closes, so a datagram already waited for in
        // vain (the shortfall) would hold the end for another full wait.
        let expected = if udp {
            expected.saturating_sub(self.shortfall)
        } else {
            expected
        };
        if !cancel.is_cancelled() {
            self.wait_received(expected, drain, cancel).await;
        }
        self.shutdown_write().await;
        // Give the server a moment to close in turn, so bytes it sends beyond
        // the recording are still seen; then stop reading. A UDP server
        // never closes: the moment is only worth it when verifying (to see
        // extra datagrams).
        let grace = if udp && !self.verifying {
            Duration::ZERO
        } else {
            drain.min(CLOSE_GRACE)
        };
        let mut reader = self.reader;
        let outcome = match tokio::time::timeout(grace, &mut reader).await {
            Ok(r) => r.ok(),
            Err(_) => {
                self.stop_reader.cancel();
                reader.await.ok()
            }
        };
        let mut report = self.report;
        if let Some(o) = outcome {
            report.bytes_received = o.bytes;
            if let Some(v) = &o.inbound.verifier {
                report.divergence = v.finish();
            }
            datagram::settle(&mut report, &o);
            if let Some((at, bytes)) = o.eof
                && report.steps_done < report.steps_total
            {
                report.closed_early = Some((at.saturating_duration_since(self.t0), bytes));
            }
        }
        self.progress.finished.fetch_add(1, Ordering::Relaxed);
        report
    }
}
