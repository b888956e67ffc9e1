//! The reading side of a replayed connection: a task that reads the
//! server's bytes as they come, delays them by the replay's s2c faults,
//! hands them to `Inbound` (units, live values, verify), publishes the
//! units received for the waits, and feeds the verifier the recorded
//! chunks it needs, waiting for them only while its backlog is full.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::budget::Hold;
use super::inbound::Inbound;
use super::progress::Progress;
use super::verifier::Verify;
use crate::faults::DirFaults;

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

/// What the reader task learned.
pub(super) struct ReadOutcome {
    pub(super) inbound: Inbound,
    /// Server bytes received.
    pub(super) bytes: u64,
    /// When the server closed its side, and after how many bytes.
    pub(super) eof: Option<(Instant, u64)>,
    pub(super) error: Option<String>,
    /// UDP: datagrams received, and ICMP port-unreachable errors the
    /// socket reported while reading.
    pub(super) datagrams: u64,
    pub(super) refused: u64,
}

/// What the reader task works with.
pub(super) struct Reader {
    pub inbound: Inbound,
    pub expected: Option<Expected>,
    pub observer: Option<Observer>,
    /// Units received so far, for the waits; dropped when reading ends.
    pub units: watch::Sender<u64>,
    /// The replay's faults on what the server sends.
    pub s2c: DirFaults,
    pub progress: Arc<Progress>,
    pub cancel: CancellationToken,
}

/// What every read of a reader goes through, TCP bytes or UDP datagrams
/// alike: the recorded data the verifier needs before the read, the s2c
/// delay, the counting and publishing after it, and the end.
pub(super) struct ReadSide {
    expected: Option<Expected>,
    observer: Option<Observer>,
    tx: watch::Sender<u64>,
    s2c: DirFaults,
    progress: Arc<Progress>,
    pub(super) cancel: CancellationToken,
}

impl Reader {
    /// The outcome to fill in, and what each read goes through.
    pub(super) fn start(self) -> (ReadOutcome, ReadSide) {
        let out = ReadOutcome {
            inbound: self.inbound,
            bytes: 0,
            eof: None,
            error: None,
            datagrams: 0,
            refused: 0,
        };
        let side = ReadSide {
            expected: self.expected,
            observer: self.observer,
            tx: self.units,
            s2c: self.s2c,
            progress: self.progress,
            cancel: self.cancel,
        };
        (out, side)
    }
}

impl ReadSide {
    /// Before a read: hands the verifier the recorded data it needs.
    pub(super) async fn before_read(&mut self, out: &mut ReadOutcome) {
        if let Some(rx) = &mut self.expected
            && !pull_expected(&mut out.inbound, rx, &self.cancel, false).await
        {
            self.expected = None;
        }
    }

    /// After a read of `data`: counted as received only once its s2c delay
    /// has passed (as a client behind a slow link sees it), then handed to
    /// `Inbound` and its units published. False when cancelled meanwhile.
    pub(super) async fn received(&mut self, out: &mut ReadOutcome, data: &[u8]) -> bool {
        if let Some(spec) = self.s2c.active() {
            let delay = self.s2c.draw_delay(&spec);
            let release = self.s2c.release(crate::timer::now(), delay);
            tokio::select! {
                _ = self.cancel.cancelled() => return false,
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(release)) => {}
            }
        }
        self.progress
            .bytes_received
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        out.inbound.received(data);
        let units = out.inbound.units();
        if let Some(o) = &self.observer {
            o(Some(units));
        }
        self.tx.send_replace(units);
        true
    }

    /// Reading is over: the waits wake (no more units will come), the
    /// causal gates hear of a server that closed, and the verifier gets
    /// every recorded piece still to compare.
    pub(super) async fn finish(mut self, mut out: ReadOutcome) -> ReadOutcome {
        if out.eof.is_some()
            && let Some(o) = &self.observer
        {
            o(None);
        }
        self.tx.send_modify(|_| {});
        drop(self.tx);
        if let Some(rx) = &mut self.expected {
            pull_expected(&mut out.inbound, rx, &self.cancel, true).await;
        }
        out
    }
}

/// Reads until the server closes, an error, or `cancel`.
pub(super) async fn read_loop(mut socket: OwnedReadHalf, me: Reader) -> ReadOutcome {
    let (mut out, mut side) = me.start();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut total = 0u64;
    loop {
        buf.clear();
        side.before_read(&mut out).await;
        if side.cancel.is_cancelled() {
            break;
        }
        let n = tokio::select! {
            _ = side.cancel.cancelled() => break,
            r = socket.read_buf(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    out.error = Some(format!("read failed: {e}"));
                    break;
                }
            },
        };
        if n == 0 {
            out.eof = Some((crate::timer::now(), total));
            break;
        }
        total += n as u64;
        out.bytes = total;
        if !side.received(&mut out, &buf[..n]).await {
            break;
        }
    }
    side.finish(out).await
}

/// Hands the verifier the recorded chunks it needs to compare what it
/// holds; waits for them only while its backlog is full. False once no
/// more will come.
/// `all`: wait for everything the backlog needs (the stream has ended).
pub(super) async fn pull_expected(
    inbound: &mut Inbound,
    rx: &mut Expected,
    cancel: &CancellationToken,
    all: bool,
) -> bool {
    let needs = |i: &Inbound| i.verifier.as_ref().is_some_and(Verify::needs_expected);
    let backlog = |i: &Inbound| i.verifier.as_ref().map_or(0, Verify::backlog);
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
