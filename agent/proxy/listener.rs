//! The accept loop of one proxy. It only accepts and spawns: the upstream
//! connect happens in the connection's own task, so a slow or dead upstream
//! never delays the next client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::{Proxy, relay};
use crate::events::EventBus;

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
                // Counted before the relay task starts, so a burst cannot
                // overshoot the limit while tasks are being spawned.
                if proxy.counters.active.load(Ordering::Relaxed) >= proxy.max_connections {
                    proxy.counters.refused.fetch_add(1, Ordering::Relaxed);
                    warn!(proxy = %proxy.id, %peer, limit = proxy.max_connections, "connection refused: limit reached");
                    drop(client);
                    continue;
                }
                let conn_id = conn_ids.fetch_add(1, Ordering::Relaxed);
                tracker.spawn(relay::relay(
                    proxy.clone(),
                    bus.clone(),
                    conn_id,
                    client,
                    peer,
                    // The proxy's own token: the relay makes the one child
                    // its connection needs.
                    cancel.clone(),
                ));
            }
            Err(e) => {
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

/// Publishes the proxy's per-second figures until it stops.
pub(crate) async fn stats_loop(proxy: Arc<Proxy>, bus: EventBus, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = proxy.info();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = proxy.info();
        bus.publish(
            Some(&proxy.id),
            crate::events::EventBody::Stats(crate::events::ProxyStats {
                active_connections: now.active_connections,
                total_connections: now.total_connections,
                bytes_c2s_per_sec: now.bytes_c2s - last.bytes_c2s,
                bytes_s2c_per_sec: now.bytes_s2c - last.bytes_s2c,
                bytes_c2s: now.bytes_c2s,
                bytes_s2c: now.bytes_s2c,
            }),
        );
        last = now;
    }
}
