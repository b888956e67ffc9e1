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

/// Reads until the server closes, an error, or `cancel`.
pub(super) async fn read_loop(mut socket: OwnedReadHalf, me: Reader) -> ReadOutcome {
    let Reader {
        inbound,
        mut expected,
        observer,
        units: tx,
        mut s2c,
        progress,
        cancel,
    } = me;
    let mut out = ReadOutcome {
        inbound,
        bytes: 0,
        eof: None,
        error: None,
        datagrams: 0,
        refused: 0,
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
        // Server-side latency: the bytes count as received only once
        // their delay has passed, as a client behind a slow link sees.
        if let Some(spec) = s2c.active() {
            let delay = s2c.draw_delay(&spec);
            let release = s2c.release(crate::timer::now(), delay);
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(release)) => {}
            }
        }
        progress
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
