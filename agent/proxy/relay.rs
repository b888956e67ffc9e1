//! The per-connection relay: connect upstream, then pump bytes both ways until
//! both sides are done. Each chunk goes to the recordings first and to the
//! peer second, so a recording's order is an order the proxy really saw (a
//! server reply is logged before the client can have reacted to it).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span};

use super::{ConnMeta, Proxy};
use crate::events::{EventBody, EventBus};
use crate::format::Direction;
use crate::record::{Tap, TapKind};

/// How long one upstream connect may take before the client is turned away.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest chunk read at once, and so the largest DATA frame a relay produces.
pub const CHUNK_SIZE: usize = 64 * 1024;

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

        let reason = pump_both(&proxy, &bus, &meta, client, upstream, &cancel).await;
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

/// How one direction's pump ended.
#[derive(Debug)]
enum End {
    /// The sender finished cleanly (FIN); the shutdown was passed on.
    Eof,
    /// Reading from the sender failed (usually a reset).
    ReadFailed(io::Error),
    /// Writing to the receiver failed (it reset or went away).
    WriteFailed(io::Error),
    /// The connection was told to stop.
    Cancelled,
}

/// Runs both directions concurrently until both have ended; returns the
/// close reason.
async fn pump_both(
    proxy: &Proxy,
    bus: &EventBus,
    meta: &Arc<ConnMeta>,
    client: TcpStream,
    upstream: TcpStream,
    cancel: &CancellationToken,
) -> String {
    let (client_r, client_w) = client.into_split();
    let (upstream_r, upstream_w) = upstream.into_split();
    // When one direction fails the other must stop too; a clean EOF does not
    // stop the other direction (half-close).
    let conn_cancel = cancel.child_token();
    let first_eof = std::sync::OnceLock::new();
    let pump = |dir, from, to| {
        let conn_cancel = conn_cancel.clone();
        let first_eof = &first_eof;
        async move {
            let (end, from, to) = pump(proxy, bus, meta, dir, from, to, &conn_cancel).await;
            match end {
                End::Eof => {
                    let _ = first_eof.set(dir);
                }
                _ => conn_cancel.cancel(),
            }
            (end, from, to)
        }
    };
    let (c2s, s2c) = tokio::join!(
        pump(Direction::C2s, client_r, upstream_w),
        pump(Direction::S2c, upstream_r, client_w)
    );
    let reason = close_reason(
        &c2s.0,
        &s2c.0,
        first_eof.get().copied(),
        cancel.is_cancelled(),
    );

    // Pass a reset on as a reset, so each peer sees what the other did.
    if let (Ok(client), Ok(upstream)) = (c2s.1.reunite(s2c.2), s2c.1.reunite(c2s.2)) {
        let reset_upstream =
            matches!(c2s.0, End::ReadFailed(_)) || matches!(s2c.0, End::WriteFailed(_));
        let reset_client =
            matches!(s2c.0, End::ReadFailed(_)) || matches!(c2s.0, End::WriteFailed(_));
        if reset_upstream {
            let _ = upstream.set_zero_linger();
        }
        if reset_client {
            let _ = client.set_zero_linger();
        }
    }
    reason
}

/// Words for why a connection ended, from how each direction ended.
fn close_reason(c2s: &End, s2c: &End, first_eof: Option<Direction>, stopped: bool) -> String {
    match (c2s, s2c) {
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

/// Moves bytes from `from` to `to` until EOF, an error or cancellation.
/// Returns the halves so the caller can reunite them.
async fn pump(
    proxy: &Proxy,
    bus: &EventBus,
    meta: &Arc<ConnMeta>,
    dir: Direction,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    cancel: &CancellationToken,
) -> (End, OwnedReadHalf, OwnedWriteHalf) {
    let mut buf = BytesMut::new();
    let end = loop {
        buf.reserve(CHUNK_SIZE);
        let n = tokio::select! {
            _ = cancel.cancelled() => break End::Cancelled,
            r = from.read_buf(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => break End::ReadFailed(e),
            },
        };
        let at = Instant::now();
        let taps = proxy.taps();
        if n == 0 {
            for tap in taps.iter() {
                tap.send(meta, at, TapKind::HalfClose(dir)).await;
            }
            let _ = to.shutdown().await;
            break End::Eof;
        }
        meta.add_bytes(dir, n as u64);
        proxy.counters.add_bytes(dir, n as u64);
        if bus.wants_transfers() {
            bus.publish(
                Some(&proxy.id),
                EventBody::Transfer {
                    conn: meta.id,
                    dir,
                    bytes: n as u64,
                },
            );
        }
        let written = if taps.is_empty() {
            let r = write_all(&mut to, &buf, cancel).await;
            buf.clear();
            r
        } else {
            // Recordings get the same bytes without a copy.
            let chunk = buf.split().freeze();
            match dir {
                Direction::C2s => {
                    write_logged(proxy, meta, &taps, at, &mut to, chunk, cancel).await
                }
                // A server chunk is logged before the client can see it, so
                // whatever the client does in reaction comes after it.
                Direction::S2c => {
                    for tap in taps.iter() {
                        tap.send(meta, at, TapKind::Data(dir, chunk.clone())).await;
                    }
                    write_all(&mut to, &chunk, cancel).await
                }
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => break End::Cancelled,
            Err(e) => break End::WriteFailed(e),
        }
    };
    (end, from, to)
}

/// Writes a client chunk upstream and logs it, both under the agent's write
/// order lock when neither has to wait, so chunks of different connections
/// are logged in the order they reached the servers. When the socket or a
/// recorder queue is full, the rest is finished outside the lock: bytes are
/// never dropped, only that chunk's cross-connection order is looser.
async fn write_logged(
    proxy: &Proxy,
    meta: &Arc<ConnMeta>,
    taps: &[Tap],
    at: Instant,
    to: &mut OwnedWriteHalf,
    chunk: Bytes,
    cancel: &CancellationToken,
) -> io::Result<bool> {
    let mut pending = Vec::new();
    let written = {
        let _order = proxy.write_order.lock().unwrap_or_else(|e| e.into_inner());
        let written = match to.try_write(&chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        for tap in taps {
            if let Some(kind) = tap.try_send(meta, at, TapKind::Data(Direction::C2s, chunk.clone()))
            {
                pending.push((tap, kind));
            }
        }
        written
    };
    for (tap, kind) in pending {
        tap.send(meta, at, kind).await;
    }
    if written < chunk.len() {
        return write_all(to, &chunk[written..], cancel).await;
    }
    Ok(true)
}

/// `write_all` that gives up on cancellation; `Ok(false)` when cancelled.
async fn write_all(
    to: &mut OwnedWriteHalf,
    bytes: &[u8],
    cancel: &CancellationToken,
) -> io::Result<bool> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(false),
        r = to.write_all(bytes) => r.map(|()| true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset() -> io::Error {
        io::Error::from(io::ErrorKind::ConnectionReset)
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
