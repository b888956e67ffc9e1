//! The per-connection relay: connect upstream (after a connect-delay fault,
//! if any), run both directions (`pump`) and the connection-wide fault
//! timers until both sides are done, then say why it ended.

// The long-lived futures here are written as `fn ... -> impl Future` with an
// `async move` block rather than `async fn`: an `async fn` keeps its
// parameters twice in its state (as captured and as moved locals), and every
// byte of that state stays allocated for the life of each connection
// (`size_of` of a connection's future went from 2,744 to 1,880 bytes).
#![allow(clippy::manual_async_fn)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::flow::{Leg, LegEnd};
use super::upstream::connect_upstream;
use super::{ConnMeta, Proxy};
use crate::events::{EventBody, EventBus};
use crate::faults::ConnFaults;
use crate::format::Direction;
use crate::tap::{TapKind, tell_all};

/// What an accepted client holds until its task ends: its place under the
/// proxy's `max_connections` and its descriptors of the agent's budget.
pub(crate) struct Admission {
    _slot: OwnedSemaphorePermit,
    _fds: OwnedSemaphorePermit,
}

impl Admission {
    pub(crate) fn new(slot: OwnedSemaphorePermit, fds: OwnedSemaphorePermit) -> Self {
        Self {
            _slot: slot,
            _fds: fds,
        }
    }
}

/// Relays one accepted client. Never returns an error: every outcome ends in a
/// close event with its reason.
///
/// Every byte of the returned future stays allocated for the connection's
/// whole life, so the connect phase (the client's address, the connect and
/// its timeout) is a separate boxed future, freed once connected; and no
/// tracing span is attached (an enabled one took ~500 bytes per
/// connection): the few debug events carry the connection's ids themselves.
pub(crate) fn relay(
    proxy: Arc<Proxy>,
    bus: EventBus,
    conn_id: u64,
    client: TcpStream,
    peer: SocketAddr,
    permit: Admission,
    cancel: CancellationToken,
) -> impl Future<Output = ()> {
    let connect = Box::pin(connect_phase(
        proxy.clone(),
        bus.clone(),
        conn_id,
        peer,
        cancel.clone(),
    ));
    async move {
        // Held until this task ends, however it ends: the client's slot
        // and its file descriptors.
        let _permit = permit;
        let Some((upstream, meta, faults)) = connect.await else {
            return;
        };
        // Game traffic is small messages where latency matters.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        proxy.counters.active.fetch_add(1, Ordering::Relaxed);
        proxy.counters.total.fetch_add(1, Ordering::Relaxed);
        {
            let taps = proxy.register(&meta);
            if !taps.is_empty() {
                Box::pin(tell_all(&taps, &meta, meta.opened, || TapKind::Open)).await;
            }
        }
        bus.publish(
            Some(&proxy.id),
            EventBody::ConnectionOpened {
                conn: meta.id,
                client: meta.client,
                upstream: meta.upstream.to_string(),
            },
        );

        let reason = pump_both(&proxy, &bus, &meta, &faults, client, upstream, &cancel).await;
        debug!(proxy = %proxy.id, conn = meta.id, client = %meta.client, %reason, "closed");

        let taps = proxy.unregister(meta.id);
        if !taps.is_empty() {
            Box::pin(tell_all(&taps, &meta, Instant::now(), || {
                TapKind::Close(reason.clone())
            }))
            .await;
        }
        proxy.counters.active.fetch_sub(1, Ordering::Relaxed);
        bus.publish(
            Some(&proxy.id),
            EventBody::ConnectionClosed {
                conn: meta.id,
                client: meta.client,
                upstream: meta.upstream.to_string(),
                reason,
                bytes_c2s: meta.bytes_c2s(),
                bytes_s2c: meta.bytes_s2c(),
                duration: meta.opened.elapsed(),
            },
        );
    }
}

/// Connects upstream for a client just accepted. `None` when that failed,
/// after counting it and publishing the close event.
async fn connect_phase(
    proxy: Arc<Proxy>,
    bus: EventBus,
    conn_id: u64,
    peer: SocketAddr,
    cancel: CancellationToken,
) -> Option<(TcpStream, Arc<ConnMeta>, ConnFaults)> {
    let started = Instant::now();
    let faults = proxy.faults.connection();
    let connect_delay = faults.active().and_then(|s| s.connect_delay);
    match connect_upstream(&proxy.upstream, connect_delay, &cancel).await {
        Ok((upstream, upstream_addr)) => {
            let meta = ConnMeta::new(conn_id, proxy.id.clone(), peer, upstream_addr);
            Some((upstream, Arc::new(meta), faults))
        }
        Err(e) => {
            let reason = e.to_string();
            debug!(proxy = %proxy.id, conn = conn_id, client = %peer, %reason, "upstream connect failed");
            proxy.counters.failed.fetch_add(1, Ordering::Relaxed);
            bus.publish(
                Some(&proxy.id),
                EventBody::ConnectionClosed {
                    conn: conn_id,
                    client: peer,
                    upstream: proxy.upstream.clone(),
                    reason,
                    bytes_c2s: 0,
                    bytes_s2c: 0,
                    duration: started.elapsed(),
                },
            );
            None
        }
    }
}

/// Runs both directions concurrently until both have ended, plus the
/// connection-wide fault timers; returns the close reason.
fn pump_both(
    proxy: &Proxy,
    bus: &EventBus,
    meta: &Arc<ConnMeta>,
    faults: &ConnFaults,
    mut client: TcpStream,
    mut upstream: TcpStream,
    cancel: &CancellationToken,
) -> impl Future<Output = String> {
    async move {
        // Borrowed halves: no allocation per connection.
        let (mut client_r, mut client_w) = client.split();
        let (mut upstream_r, mut upstream_w) = upstream.split();
        // When one direction fails the other must stop too; a clean EOF does not
        // stop the other direction (half-close).
        let conn_cancel = cancel.child_token();
        let first_eof = std::sync::OnceLock::new();
        let timer_end = std::sync::OnceLock::new();
        let flow = |dir| Leg {
            proxy,
            bus,
            meta,
            dir,
            cancel: &conn_cancel,
        };
        let (c2s, s2c) = (flow(Direction::C2s), flow(Direction::S2c));
        let timers = fault_timers(faults, meta.opened, &conn_cancel, &timer_end);
        let directions = async {
            let ends = tokio::join!(
                c2s.run(&mut client_r, &mut upstream_w, faults, &first_eof),
                s2c.run(&mut upstream_r, &mut client_w, faults, &first_eof),
            );
            // Both sides are done: the fault timers have nothing left to end.
            conn_cancel.cancel();
            ends
        };
        let ((c2s, s2c), ()) = tokio::join!(directions, timers);
        let timer = timer_end.get();
        let reason = match timer {
            Some((reason, _)) => reason.clone(),
            None => close_reason(&c2s, &s2c, first_eof.get().copied(), cancel.is_cancelled()),
        };

        // Pass a reset on as a reset, so each peer sees what the other did.
        {
            let fault_reset = timer.is_some_and(|(_, reset)| *reset)
                || [&c2s, &s2c]
                    .iter()
                    .any(|e| matches!(e, LegEnd::Fault { reset: true, .. }));
            let reset_upstream = fault_reset
                || matches!(c2s, LegEnd::ReadFailed(_))
                || matches!(s2c, LegEnd::WriteFailed(_));
            let reset_client = fault_reset
                || matches!(s2c, LegEnd::ReadFailed(_))
                || matches!(c2s, LegEnd::WriteFailed(_));
            if reset_upstream {
                let _ = upstream.set_zero_linger();
            }
            if reset_client {
                let _ = client.set_zero_linger();
            }
        }
        reason
    }
}

/// Ends the connection when a time-based fault fires (reset after T, black
/// hole closing after T), following profile changes; records why in `end`.
fn fault_timers(
    faults: &ConnFaults,
    opened: Instant,
    conn_cancel: &CancellationToken,
    end: &std::sync::OnceLock<(String, bool)>,
) -> impl Future<Output = ()> {
    async move {
        let mut rx = faults.subscribe();
        loop {
            let changed = match next_timer(faults, opened) {
                // Boxed: most connections never have a timer fault, and the
                // sleep would make every connection's future larger.
                Some(next) => Box::pin(timer_or_change(&mut rx, next, conn_cancel, end)).await,
                None => tokio::select! {
                    _ = conn_cancel.cancelled() => false,
                    r = rx.changed() => r.is_ok(),
                },
            };
            if !changed {
                return;
            }
        }
    }
}

/// The next time-based fault of the profile: when, whether it resets, and
/// after how long.
fn next_timer(faults: &ConnFaults, opened: Instant) -> Option<(Instant, bool, Duration)> {
    let spec = faults.active()?;
    let reset_at = spec.reset_after.map(|d| (opened + d, true, d));
    let close_at = Some(&spec)
        .filter(|s| s.black_hole)
        .and_then(|s| s.black_hole_close_after)
        .map(|d| (opened + d, false, d));
    [reset_at, close_at]
        .into_iter()
        .flatten()
        .min_by_key(|(at, ..)| *at)
}

/// Waits for a timer fault; true when the profile changed first.
async fn timer_or_change(
    rx: &mut tokio::sync::watch::Receiver<Arc<crate::faults::FaultSpec>>,
    (at, reset, d): (Instant, bool, Duration),
    conn_cancel: &CancellationToken,
    end: &std::sync::OnceLock<(String, bool)>,
) -> bool {
    tokio::select! {
        _ = conn_cancel.cancelled() => false,
        r = rx.changed() => r.is_ok(),
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {
            let what = if reset { "reset" } else { "black hole closed" };
            let _ = end.set((format!("fault: {what} after {}", humantime::format_duration(d)), reset));
            conn_cancel.cancel();
            false
        }
    }
}

/// Words for why a connection ended, from how each direction ended.
fn close_reason(c2s: &LegEnd, s2c: &LegEnd, first_eof: Option<Direction>, stopped: bool) -> String {
    match (c2s, s2c) {
        (LegEnd::Fault { reason, .. }, _) | (_, LegEnd::Fault { reason, .. }) => reason.clone(),
        (LegEnd::ReadFailed(e), _) => format!("client reset: {e}"),
        (_, LegEnd::ReadFailed(e)) => format!("upstream reset: {e}"),
        (LegEnd::WriteFailed(e), _) => format!("upstream write failed: {e}"),
        (_, LegEnd::WriteFailed(e)) => format!("client write failed: {e}"),
        _ if stopped => "proxy stopped".into(),
        (LegEnd::Eof, LegEnd::Eof) if first_eof == Some(Direction::S2c) => "upstream closed".into(),
        (LegEnd::Eof, LegEnd::Eof) => "client closed".into(),
        _ => "cancelled".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::ConnectionReset)
    }

    #[test]
    fn close_reasons_name_the_side_that_ended() {
        let c2s = Some(Direction::C2s);
        let s2c = Some(Direction::S2c);
        assert_eq!(
            close_reason(&LegEnd::Eof, &LegEnd::Eof, c2s, false),
            "client closed"
        );
        assert_eq!(
            close_reason(&LegEnd::Eof, &LegEnd::Eof, s2c, false),
            "upstream closed"
        );
        let r = close_reason(
            &LegEnd::ReadFailed(reset()),
            &LegEnd::Cancelled,
            None,
            false,
        );
        assert!(r.starts_with("client reset"), "{r}");
        let r = close_reason(
            &LegEnd::Cancelled,
            &LegEnd::ReadFailed(reset()),
            None,
            false,
        );
        assert!(r.starts_with("upstream reset"), "{r}");
        assert_eq!(
            close_reason(&LegEnd::Cancelled, &LegEnd::Cancelled, None, true),
            "proxy stopped"
        );
        let r = close_reason(&LegEnd::Eof, &LegEnd::WriteFailed(reset()), c2s, false);
        assert!(r.starts_with("client write failed"), "{r}");
    }
}
