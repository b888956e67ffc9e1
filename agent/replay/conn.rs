//! One replayed connection's sockets: connect (retried only before any byte
//! was sent), a reader task that counts and verifies server bytes as they
//! arrive, and the client-side actions (send, half-close, drain and close).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::budget::Hold;
use super::inbound::{Inbound, Shared};
use super::plan::ConnPlan;
use super::report::ConnReport;
use super::verify::Verifier;
use crate::faults::{ConnFaults, DirFaults};
use crate::format::Direction;
use crate::rewrite::{Framing, Rules};

/// How long connecting may keep failing before the connection is given up.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// First pause between connect attempts; doubles up to `CONNECT_BACKOFF_MAX`.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(50);
pub const CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// After the client's last step, how long the server gets to close its side
/// before the replay stops reading.
pub const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Totals shared by every connection of a replay, for live progress.
#[derive(Debug, Default)]
pub struct Progress {
    pub opened: AtomicU64,
    pub failed: AtomicU64,
    pub finished: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Waits for server bytes that ran out of time, counted when they do:
    /// a live report shows them before their connection has finished.
    pub server_timeouts: AtomicU64,
    /// Causal gates released so far, counted when released.
    pub relaxations: AtomicU64,
}

/// What the reader task learned.
struct ReadOutcome {
    inbound: Inbound,
    /// Server bytes received.
    bytes: u64,
    /// When the server closed its side, and after how many bytes.
    eof: Option<(Instant, u64)>,
    error: Option<String>,
}

/// Received bytes a verifying connection holds while the recorded ones
/// are still being read; beyond it, the socket is not read until they come.
pub const VERIFY_BACKLOG: usize = 1 << 20;

/// Told the total of server units received after every read, and `None`
/// once the server closed (causal gates: nothing more will come).
pub type Observer = Arc<dyn Fn(Option<u64>) + Send + Sync>;

/// Recorded server chunks for `verify`, in order, as the replay reads them,
/// each holding its share of the look-ahead budget until it is compared.
/// The channel closes early when the replay gave up verifying this
/// connection (its server fell too far behind the recording).
pub type Expected = mpsc::UnboundedReceiver<(Bytes, Hold)>;

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
}

/// An open replayed connection.
pub struct Live {
    writer: Option<OwnedWriteHalf>,
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

/// Connects to `target`, retrying with backoff until `CONNECT_DEADLINE`.
async fn connect(target: &str, cancel: &CancellationToken) -> Result<TcpStream, String> {
    let deadline = Instant::now() + CONNECT_DEADLINE;
    let mut pause = CONNECT_BACKOFF;
    loop {
        let attempt = tokio::time::timeout(CONNECT_DEADLINE, TcpStream::connect(target));
        let err = tokio::select! {
            _ = cancel.cancelled() => return Err("replay stopped".into()),
            r = attempt => match r {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_string(),
            },
        };
        if Instant::now() + pause > deadline {
            return Err(format!("connect to {target} failed: {err}"));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err("replay stopped".into()),
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(CONNECT_BACKOFF_MAX);
    }
}

/// Hands the verifier the recorded chunks it needs to compare what it
/// holds; waits for them only while its backlog is full. False once no
/// more will come.
/// `all`: wait for everything the backlog needs (the stream has ended).
async fn pull_expected(
    inbound: &mut Inbound,
    rx: &mut Expected,
    cancel: &CancellationToken,
    all: bool,
) -> bool {
    let needs = |i: &Inbound| i.verifier.as_ref().is_some_and(Verifier::needs_expected);
    let backlog = |i: &Inbound| i.verifier.as_ref().map_or(0, Verifier::backlog);
    let stop = |i: &mut Inbound| {
        if let Some(v) = &mut i.verifier {
            v.stop_expecting();
        }
    };
    while needs(inbound) {
        match rx.try_recv() {
            Ok((chunk, _)) => inbound.expect(chunk),
            Err(mpsc::error::TryRecvError::Empty) if all || backlog(inbound) >= VERIFY_BACKLOG => {
                tokio::select! {
                    _ = cancel.cancelled() => return true,
                    c = rx.recv() => match c {
                        Some((chunk, _)) => inbound.expect(chunk),
                        None => {
                            stop(inbound);
                            return false;
                        }
                    },
                }
            }
            Err(mpsc::error::TryRecvError::Empty) => return true,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                stop(inbound);
                return false;
            }
        }
    }
    true
}

impl Live {
    /// Opens the connection for `plan` against `target`. On failure the
    /// returned report carries the error.
    pub async fn open(
        plan: &ConnPlan,
        mut report: ConnReport,
        target: &str,
        options: OpenOptions,
        cancel: &CancellationToken,
    ) -> Result<Live, ConnReport> {
        let OpenOptions {
            verify,
            observer,
            framing,
            rewrite,
            stall,
            progress,
            t0,
            faults,
        } = options;
        if let Some(d) = faults.active().and_then(|s| s.connect_delay) {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(d) => {}
            }
        }
        let stream = match connect(target, cancel).await {
            Ok(s) => s,
            Err(e) => {
                progress.failed.fetch_add(1, Ordering::Relaxed);
                report.error = Some(e);
                return Err(report);
            }
        };
        let _ = stream.set_nodelay(true);
        progress.opened.fetch_add(1, Ordering::Relaxed);
        report.opened = true;
        let (mut r, w) = stream.into_split();
        let (tx, rx) = watch::channel(0u64);
        let verifier = verify.as_ref().map(|_| Verifier::new(plan.s2c_total));
        let inbound = Inbound::new(framing.as_ref(), rewrite, verifier);
        let mut expected = verify;
        let stop_reader = cancel.child_token();
        let cancel = stop_reader.clone();
        let reader_progress = progress.clone();
        let mut s2c = faults.direction(Direction::S2c);
        let reader = tokio::spawn(async move {
            let mut out = ReadOutcome {
                inbound,
                bytes: 0,
                eof: None,
                error: None,
            };
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut total = 0u64;
            loop {
                buf.clear();
                if let Some(rx) = &mut expected
                    && !pull_expected(&mut out.inbound, rx, &cancel, false).await
                {
                    expected = None;
                }
                if cancel.is_cancelled() {
                    break;
                }
                let n = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = r.read_buf(&mut buf) => match r {
                        Ok(n) => n,
                        Err(e) => {
                            out.error = Some(format!("read failed: {e}"));
                            break;
                        }
                    },
                };
                if n == 0 {
                    out.eof = Some((Instant::now(), total));
                    break;
                }
                total += n as u64;
                out.bytes = total;
                // Server-side latency: the bytes count as received only once
                // their delay has passed, as a client behind a slow link sees.
                if let Some(spec) = s2c.active() {
                    let delay = s2c.draw_delay(&spec);
                    let release = s2c.release(Instant::now(), delay);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(release)) => {}
                    }
                }
                reader_progress
                    .bytes_received
                    .fetch_add(n as u64, Ordering::Relaxed);
                out.inbound.received(&buf[..n]);
                let units = out.inbound.units();
                if let Some(o) = &observer {
                    o(Some(units));
                }
                tx.send_replace(units);
            }
            // Wake any waiter: no more bytes will come.
            if out.eof.is_some()
                && let Some(o) = &observer
            {
                o(None);
            }
            tx.send_modify(|_| {});
            drop(tx);
            if let Some(rx) = &mut expected {
                pull_expected(&mut out.inbound, rx, &cancel, true).await;
            }
            out
        });
        Ok(Live {
            writer: Some(w),
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
                return Ok(());
            }
            let delay = self.c2s.draw_delay(spec);
            let release = self.c2s.release(Instant::now(), delay);
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
            let Some(w) = self.writer.as_mut() else {
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

    /// Half-closes: the server sees EOF and may still answer.
    pub async fn shutdown_write(&mut self) {
        if let Some(mut w) = self.writer.take() {
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
        if !cancel.is_cancelled() {
            self.wait_received(expected, drain, cancel).await;
        }
        self.shutdown_write().await;
        // Give the server a moment to close in turn, so bytes it sends beyond
        // the recording are still seen; then stop reading.
        let mut reader = self.reader;
        let outcome = match tokio::time::timeout(drain.min(CLOSE_GRACE), &mut reader).await {
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
            if let Some(e) = o.error
                && report.error.is_none()
            {
                report.error = Some(e);
            }
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
