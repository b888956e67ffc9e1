//! The per-connection relay: connect upstream (after a connect-delay fault,
//! if any), run both directions (`pump`) and the connection-wide fault
//! timers until both sides are done, then say why it ended.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span};

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
    let span = info_span!("conn", proxy = %proxy.id, conn = conn_id, client = %peer);
    async move {
        let started = Instant::now();
        let faults = proxy.faults.connection();
        if let Some(d) = faults.active().and_then(|s| s.connect_delay) {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(d) => {}
            }
        }
        let upstream = match connect_upstream(&proxy.upstream, &cancel).await {
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
        for tap in taps.iter() {
            tap.send(&meta, meta.opened, TapKind::Open).await;
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
        let now = Instant::now();
        for tap in taps.iter() {
            tap.send(&meta, now, TapKind::Close(reason.clone())).await;
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

async fn connect_upstream(upstream: &str, cancel: &CancellationToken) -> Result<TcpStream, String> {
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

/// Runs both directions concurrently until both have ended, plus the
/// connection-wide fault timers; returns the close reason.
async fn pump_both(
    proxy: &Proxy,
    bus: &EventBus,
    meta: &Arc<ConnMeta>,
    faults: &ConnFaults,
    client: TcpStream,
    upstream: TcpStream,
    cancel: &CancellationToken,
) -> String {
    let (mut client_r, mut client_w) = client.into_split();
    let (mut upstream_r, mut upstream_w) = upstream.into_split();
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
    if let (Ok(client), Ok(upstream)) = (client_r.reunite(client_w), upstream_r.reunite(upstream_w))
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
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
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
        let spec = faults.active();
        let reset_at = spec
            .as_ref()
            .and_then(|s| s.reset_after)
            .map(|d| (opened + d, true, d));
        let close_at = spec
            .as_ref()
            .filter(|s| s.black_hole)
            .and_then(|s| s.black_hole_close_after)
            .map(|d| (opened + d, false, d));
        let next = [reset_at, close_at]
            .into_iter()
            .flatten()
            .min_by_key(|(at, ..)| *at);
        let wait = async {
            match next {
                Some((at, ..)) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = conn_cancel.cancelled() => return,
            r = rx.changed() => if r.is_err() { return },
            () = wait => {
                if let Some((_, reset, d)) = next {
                    let what = if reset { "reset" } else { "black hole closed" };
                    let _ = end.set((format!("fault: {what} after {}", humantime::format_duration(d)), reset));
                    conn_cancel.cancel();
                }
                return;
            }
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
#[cfg(test)]
mod size_probe {
    #[tokio::test]
    async fn print_sizes() {
        use crate::proxy::running::{NewProxy, Proxy};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let la = l.local_addr().unwrap();
        let c = tokio::net::TcpStream::connect(la).await.unwrap();
        let proxy = std::sync::Arc::new(Proxy::new(NewProxy {
            id: "p".into(),
            name: "p".into(),
            listen: la,
            upstream: "127.0.0.1:1".into(),
            cancel: Default::default(),
            write_order: Default::default(),
            faults: Default::default(),
            max_connections: 10,
        }));
        let bus = crate::events::EventBus::new();
        let f = super::relay(proxy.clone(), bus.clone(), 1, c, la, Default::default());
        eprintln!("relay future: {} bytes", std::mem::size_of_val(&f));
        let faults = proxy.faults.connection();
        let (ct, ol) = (Default::default(), Default::default());
        let ol2 = std::sync::OnceLock::new();
        let t = super::fault_timers(&faults, std::time::Instant::now(), &ct, &ol);
        eprintln!("timers future: {} bytes", std::mem::size_of_val(&t));
        let (mut a, _b) = tokio::net::TcpStream::connect(la)
            .await
            .unwrap()
            .into_split();
        let (_c, mut d) = tokio::net::TcpStream::connect(la)
            .await
            .unwrap()
            .into_split();
        let meta = std::sync::Arc::new(crate::proxy::ConnMeta::new(1, "p".into(), la, la));
        let cancel = tokio_util::sync::CancellationToken::new();
        let flow = super::Flow {
            proxy: &proxy,
            bus: &bus,
            meta: &meta,
            dir: crate::format::Direction::C2s,
            cancel: &cancel,
        };
        let mut df = faults.direction(crate::format::Direction::C2s);
        eprintln!(
            "run future: {}",
            std::mem::size_of_val(&flow.run(&mut a, &mut d, &mut df))
        );
        let mut buf = bytes::BytesMut::new();
        eprintln!(
            "read_chunk: {}",
            std::mem::size_of_val(&flow.read_chunk(&mut a, &mut buf))
        );
        eprintln!(
            "direct: {}",
            std::mem::size_of_val(&flow.direct(&mut d, &mut buf, std::time::Instant::now()))
        );
        eprintln!(
            "half_close: {}",
            std::mem::size_of_val(&flow.half_close(std::time::Instant::now()))
        );
        let c1 = tokio::net::TcpStream::connect(la).await.unwrap();
        let c2 = tokio::net::TcpStream::connect(la).await.unwrap();
        eprintln!(
            "pump_both: {}",
            std::mem::size_of_val(&super::pump_both(
                &proxy, &bus, &meta, &faults, c1, c2, &cancel
            ))
        );
        let flow2 = super::Flow {
            proxy: &proxy,
            bus: &bus,
            meta: &meta,
            dir: crate::format::Direction::C2s,
            cancel: &cancel,
        };
        eprintln!(
            "run_direction: {}",
            std::mem::size_of_val(&super::run_direction(flow2, &mut a, &mut d, &faults, &ol2))
        );
        eprintln!(
            "connect_upstream: {}",
            std::mem::size_of_val(&super::connect_upstream("x", &cancel))
        );
        eprintln!("DirFaults: {}", std::mem::size_of_val(&df));
    }
}
