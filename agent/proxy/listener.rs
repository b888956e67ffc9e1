//! The accept loop of one proxy. It only accepts and spawns: the upstream
//! connect happens in the connection's own task, so a slow or dead upstream
//! never delays the next client. Each accepted client takes a permit of the
//! proxy's `slots` (its `max_connections`) and `FDS_PER_CONNECTION` of the
//! agent's file-descriptor budget, which its task holds until it ends; a
//! client that finds either spent is refused at once, counted and evented.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::relay::{self, Admission};
use super::{Proxy, ProxyInfo};
use crate::events::{EventBody, EventBus};
use crate::fds::FDS_PER_CONNECTION;

/// Pause after an accept error (e.g. out of file descriptors) before trying
/// again, so the loop does not spin while the condition lasts.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts clients until `proxy.cancel` fires. Each connection runs on
/// `tracker`, under a child token of the proxy's.
pub(crate) async fn accept_loop(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    bus: EventBus,
    conn_ids: Arc<AtomicU64>,
    tracker: TaskTracker,
) {
    let cancel = proxy.cancel.clone();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((client, peer)) => {
                // The client counts from here until its task ends, connect
                // phase included: a burst towards a slow upstream cannot
                // hold more than `max_connections` sockets.
                let conn_id = conn_ids.fetch_add(1, Ordering::Relaxed);
                let Ok(slot) = proxy.slots.clone().try_acquire_owned() else {
                    refuse(&proxy, &bus, conn_id, client, peer, Refusal::Limit);
                    continue;
                };
                // Checked after the proxy's own limit, so a proxy at its
                // limit does not take the agent's budget from the others.
                let Some(fds) = proxy.fds.try_take(FDS_PER_CONNECTION) else {
                    refuse(&proxy, &bus, conn_id, client, peer, Refusal::FdReserve);
                    continue;
                };
                let permit = Admission::new(slot, fds);
                tracker.spawn(relay::relay(
                    proxy.clone(),
                    bus.clone(),
                    conn_id,
                    client,
                    peer,
                    permit,
                    // The proxy's own token: the relay makes the one child
                    // its connection needs.
                    cancel.clone(),
                ));
            }
            Err(e) => {
                // EMFILE/ENFILE (descriptors spent outside the budget's
                // view, or host-wide) among others: the client stays in the
                // backlog, so retrying at once would spin.
                warn!(proxy = %proxy.id, error = %e, "accept failed; backing off");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    info!(proxy = %proxy.id, listen = %proxy.listen, "stopped accepting");
}

/// Why a client was turned away at accept.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The proxy holds `max_connections` clients.
    Limit,
    /// The agent's data path holds its whole file-descriptor budget.
    FdReserve,
}

/// Turns away a client: it is closed at once (accepted, then dropped, so it
/// sees EOF rather than waiting in the backlog for a slot that may never
/// come), counted in `refused` and published as a connection closed with
/// the reason. Clients already in are unaffected.
fn refuse(
    proxy: &Proxy,
    bus: &EventBus,
    conn: u64,
    client: TcpStream,
    peer: SocketAddr,
    why: Refusal,
) {
    drop(client);
    proxy.counters.refused.fetch_add(1, Ordering::Relaxed);
    let reason = match why {
        Refusal::Limit => {
            warn!(proxy = %proxy.id, %peer, limit = proxy.max_connections, "connection refused: limit reached");
            format!(
                "refused: the proxy's limit of {} connections is reached",
                proxy.max_connections
            )
        }
        // `FdBudget::try_take` logged it (once per flood, not per client).
        Refusal::FdReserve => proxy.fds.refusal(),
    };
    bus.publish(
        Some(&proxy.id),
        EventBody::ConnectionClosed {
            conn,
            client: peer,
            upstream: proxy.upstream.clone(),
            reason,
            bytes_c2s: 0,
            bytes_s2c: 0,
            duration: Duration::ZERO,
        },
    );
}

/// Publishes a proxy's per-second figures, read from `info`, until it
/// stops. TCP and UDP proxies alike (a UDP proxy's connections are its
/// sessions).
pub(crate) async fn stats_loop(
    id: Arc<str>,
    info: impl Fn() -> ProxyInfo,
    bus: EventBus,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = info();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = info();
        let datagrams = |pick: fn(&super::UdpInfo) -> u64| {
            now.udp
                .as_ref()
                .zip(last.udp.as_ref())
                .map_or(0, |(n, l)| pick(n).saturating_sub(pick(l)))
        };
        bus.publish(
            Some(&id),
            EventBody::Stats(crate::events::ProxyStats {
                active_connections: now.active_connections,
                total_connections: now.total_connections,
                bytes_c2s_per_sec: now.bytes_c2s - last.bytes_c2s,
                bytes_s2c_per_sec: now.bytes_s2c - last.bytes_s2c,
                bytes_c2s: now.bytes_c2s,
                bytes_s2c: now.bytes_s2c,
                datagrams_c2s_per_sec: datagrams(|u| u.datagrams_c2s),
                datagrams_s2c_per_sec: datagrams(|u| u.datagrams_s2c),
            }),
        );
        last = now;
    }
}
