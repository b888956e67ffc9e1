//! The per-connection relay: connect upstream (after a connect-delay fault,
//! if any), run both directions (`pump`) and the connection-wide fault
//! timers until both sides are done, then say why it ended.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span};

use super::pump::{End, Flow};
use super::{ConnMeta, Proxy};
use crate::events::{EventBody, EventBus};
use crate::faults::ConnFaults;
use crate::format::Direction;
use crate::record::TapKind;

/// How long one upstream connect may take before the client is turned away.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Relays one accepted client. Never returns an error: every outcome ends in a
/// close event with its reason.
pub(crate) async fn relay(
    proxy: Arc<Proxy>,
    bus: EventBus,
    conn_id: u64,
    client: TcpStream,
    peer: SocketAddr,
    cancel: CancellationToken,
) {
    // Debug level, like every event inside it: at the default level it
    // costs nothing, where an enabled span takes ~500 bytes per connection.
    let span = debug_span!("conn", proxy = %proxy.id, conn = conn_id, client = %peer);
    async move {
        let started = Instant::now();
        let faults = proxy.faults.connection();
        let connect_delay = faults.active().and_then(|s| s.connect_delay);
        // Boxed: the connect steps are short-lived, and inline they would
        // make the future of every connection larger for its whole life.
        let connected = Box::pin(connect_upstream(&proxy.upstream, connect_delay, &cancel)).await;
        let upstream = match connected {
            Ok(s) => s,
            Err(reason) => {
                debug!(%reason, "upstream connect failed");
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
                return;
            }
        };
        let upstream_addr = match upstream.peer_addr() {
            Ok(a) => a,
            Err(e) => {
                debug!(error = %e, "upstream vanished right after connect");
                proxy.counters.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        // Game traffic is small messages where latency matters.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);

        let meta = Arc::new(ConnMeta::new(
            conn_id,
            proxy.id.clone(),
            peer,
            upstream_addr,
        ));
        proxy.counters.active.fetch_add(1, Ordering::Relaxed);
        proxy.counters.total.fetch_add(1, Ordering::Relaxed);
        let taps = proxy.register(&meta);
        if !taps.is_empty() {
            Box::pin(tell_taps(taps, &meta, meta.opened, || TapKind::Open)).await;
        }
        bus.publish(
            Some(&proxy.id),
            EventBody::ConnectionOpened {
                conn: conn_id,
                client: peer,
                upstream: upstream_addr.to_string(),
            },
        );

        let reason = pump_both(&proxy, &bus, &meta, &faults, client, upstream, &cancel).await;
        debug!(%reason, "closed");

        let taps = proxy.unregister(conn_id);
        if !taps.is_empty() {
            Box::pin(tell_taps(taps, &meta, Instant::now(), || {
                TapKind::Close(reason.clone())
            }))
            .await;
        }
        proxy.counters.active.fetch_sub(1, Ordering::Relaxed);
        bus.publish(
            Some(&proxy.id),
            EventBody::ConnectionClosed {
                conn: conn_id,
                client: peer,
                upstream: upstream_addr.to_string(),
                reason,
                bytes_c2s: meta.bytes_c2s(),
                bytes_s2c: meta.bytes_s2c(),
                duration: meta.opened.elapsed(),
            },
        );
    }
    .instrument(span)
    .await
}

/// Connects to the upstream, after the connect-delay fault if there is one;
/// `Err` with the close reason.
async fn connect_upstream(
    upstream: &str,
    delay: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<TcpStream, String> {
    if let Some(d) = delay {
        tokio::select! {
            _ = cancel.cancelled() => return Err("proxy stopped before upstream connected".into()),
            _ = tokio::time::sleep(d) => {}
        }
    }
    tokio::select! {
        _ = cancel.cancelled() => Err("proxy stopped before upstream connected".into()),
        r = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(upstream)) => match r {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("upstream connect failed: {upstream}: {e}")),
            Err(_) => Err(format!(
                "upstream connect failed: {upstream}: timed out after {}s",
                UPSTREAM_CONNECT_TIMEOUT.as_secs()
            )),
        },
    }
}

/// Hands every recording the connection's open or close.
async fn tell_taps(
    taps: Arc<[crate::record::Tap]>,
    meta: &Arc<ConnMeta>,
    at: Instant,
    kind: impl Fn() -> TapKind,
) {
    for tap in taps.iter() {
        tap.send(meta, at, kind()).await;
    }
}

/// Runs both directions concurrently until both have ended, plus the
/// connection-wide fault timers; returns the close reason.
async fn pump_both(
    proxy: &Proxy,
    bus: &EventBus,
    meta: &Arc<ConnMeta>,
    faults: &ConnFaults,
    mut client: TcpStream,
    mut upstream: TcpStream,
    cancel: &CancellationToken,
) -> String {
    // Borrowed halves: no allocation per connection.
    let (mut client_r, mut client_w) = client.split();
    let (mut upstream_r, mut upstream_w) = upstream.split();
    // When one direction fails the other must stop too; a clean EOF does not
    // stop the other direction (half-close).
    let conn_cancel = cancel.child_token();
    let first_eof = std::sync::OnceLock::new();
    let timer_end = std::sync::OnceLock::new();
    let flow = |dir| Flow {
        proxy,
        bus,
        meta,
        dir,
        cancel: &conn_cancel,
    };
    let timers = fault_timers(faults, meta.opened, &conn_cancel, &timer_end);
    let directions = async {
        let ends = tokio::join!(
            run_direction(
                flow(Direction::C2s),
                &mut client_r,
                &mut upstream_w,
                faults,
                &first_eof
            ),
            run_direction(
                flow(Direction::S2c),
                &mut upstream_r,
                &mut client_w,
                faults,
                &first_eof
            ),
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
                .any(|e| matches!(e, End::Fault { reset: true, .. }));
        let reset_upstream =
            fault_reset || matches!(c2s, End::ReadFailed(_)) || matches!(s2c, End::WriteFailed(_));
        let reset_client =
            fault_reset || matches!(s2c, End::ReadFailed(_)) || matches!(c2s, End::WriteFailed(_));
        if reset_upstream {
            let _ = upstream.set_zero_linger();
        }
        if reset_client {
            let _ = client.set_zero_linger();
        }
    }
    reason
}

/// One direction; a clean EOF leaves the other direction running
/// (half-close), any other end stops the whole connection.
async fn run_direction(
    flow: Flow<'_>,
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    faults: &ConnFaults,
    first_eof: &std::sync::OnceLock<Direction>,
) -> End {
    let mut dir_faults = faults.direction(flow.dir);
    let end = flow.run(from, to, &mut dir_faults).await;
    match end {
        End::Eof => {
            let _ = first_eof.set(flow.dir);
        }
        _ => flow.cancel.cancel(),
    }
    end
}

/// Ends the connection when a time-based fault fires (reset after T, black
/// hole closing after T), following profile changes; records why in `end`.
async fn fault_timers(
    faults: &ConnFaults,
    opened: Instant,
    conn_cancel: &CancellationToken,
    end: &std::sync::OnceLock<(String, bool)>,
) {
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
fn close_reason(c2s: &End, s2c: &End, first_eof: Option<Direction>, stopped: bool) -> String {
    match (c2s, s2c) {
        (End::Fault { reason, .. }, _) | (_, End::Fault { reason, .. }) => reason.clone(),
        (End::ReadFailed(e), _) => format!("client reset: {e}"),
        (_, End::ReadFailed(e)) => format!("upstream reset: {e}"),
        (End::WriteFailed(e), _) => format!("upstream write failed: {e}"),
        (_, End::WriteFailed(e)) => format!("client write failed: {e}"),
        _ if stopped => "proxy stopped".into(),
        (End::Eof, End::Eof) if first_eof == Some(Direction::S2c) => "upstream closed".into(),
        (End::Eof, End::Eof) => "client closed".into(),
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
            close_reason(&End::Eof, &End::Eof, c2s, false),
            "client closed"
        );
        assert_eq!(
            close_reason(&End::Eof, &End::Eof, s2c, false),
            "upstream closed"
        );
        let r = close_reason(&End::ReadFailed(reset()), &End::Cancelled, None, false);
        assert!(r.starts_with("client reset"), "{r}");
        let r = close_reason(&End::Cancelled, &End::ReadFailed(reset()), None, false);
        assert!(r.starts_with("upstream reset"), "{r}");
        assert_eq!(
            close_reason(&End::Cancelled, &End::Cancelled, None, true),
            "proxy stopped"
        );
        let r = close_reason(&End::Eof, &End::WriteFailed(reset()), c2s, false);
        assert!(r.starts_with("client write failed"), "{r}");
    }
}
