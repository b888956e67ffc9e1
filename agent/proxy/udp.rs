//! A UDP proxy as the agent runs it: the `udp` relay engine with an
//! identity in the registry, its sessions published on the event bus as
//! connections (opened, closed with the reason `idle` or `stopped`), and the
//! per-second stats every proxy has (`listener::stats_loop`).

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::ProxyInfo;
use crate::domain::{Direction, Transport};
use crate::error::Result;
use crate::events::{EventBody, EventBus};
use crate::faults::FaultSpec;
use crate::format::ProxyMeta;
use crate::tap::{ConnMeta, TapTable};
use crate::udp::{CloseReason, FaultPlan, SessionTotals, UdpObserver, UdpProxy, UdpSpec};

/// A running UDP proxy.
pub struct UdpRunning {
    pub id: Arc<str>,
    pub name: String,
    /// As given; resolved when a session opens.
    pub upstream: String,
    pub started_at: SystemTime,
    pub idle_timeout: Duration,
    pub max_sessions: u64,
    /// Whether it came from the API, the config file or the saved proxies.
    pub origin: super::Origin,
    /// Its sessions and the recordings tapping it (the relay's sessions
    /// feed them).
    pub(super) table: Arc<TapTable>,
    /// The profile in force, as given (the engine holds it split by
    /// direction).
    faults: Mutex<Arc<FaultSpec>>,
    proxy: UdpProxy,
    cancel: CancellationToken,
}

impl std::fmt::Debug for UdpRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpRunning")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("listen", &self.listen())
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// What the registry decided for a new UDP proxy.
pub(super) struct NewUdp {
    pub id: Arc<str>,
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub idle_timeout: Duration,
    pub max_sessions: u64,
    pub origin: super::Origin,
    /// Checked by the registry: no TCP-only field.
    pub faults: FaultSpec,
    pub session_ids: Arc<AtomicU64>,
    pub fds: crate::fds::FdBudget,
    pub bus: EventBus,
    pub cancel: CancellationToken,
}

impl UdpRunning {
    /// Binds and starts relaying; its stats are published every second.
    ///
    /// # Errors
    /// `Bind` when the address cannot be bound.
    pub(super) async fn start(new: NewUdp) -> Result<Arc<UdpRunning>> {
        let mut spec = UdpSpec::new(new.listen, new.upstream.clone());
        spec.idle_timeout = new.idle_timeout;
        spec.max_sessions = new.max_sessions;
        spec.session_ids = new.session_ids;
        spec.fds = new.fds;
        spec.proxy_id = new.id.clone();
        let table = spec.taps.clone();
        let plan = plan_of(&new.faults);
        (spec.c2s, spec.s2c, spec.seed) = (plan.c2s, plan.s2c, plan.seed);
        let observer = Arc::new(Publisher {
            proxy: new.id.clone(),
            bus: new.bus.clone(),
        });
        let proxy = UdpProxy::start(spec, observer).await?;
        let running = Arc::new(UdpRunning {
            id: new.id,
            name: new.name,
            upstream: new.upstream,
            started_at: SystemTime::now(),
            idle_timeout: new.idle_timeout,
            max_sessions: new.max_sessions,
            origin: new.origin,
            table,
            faults: Mutex::new(Arc::new(new.faults)),
            proxy,
            cancel: new.cancel,
        });
        tokio::spawn(super::listener::stats_loop(
            running.id.clone(),
            {
                let running = running.clone();
                move || running.info()
            },
            new.bus,
            running.cancel.clone(),
        ));
        Ok(running)
    }

    /// How a recording's header describes it.
    pub fn meta(&self) -> ProxyMeta {
        ProxyMeta {
            id: self.id.to_string(),
            name: self.name.clone(),
            listen: self.listen().to_string(),
            upstream: self.upstream.clone(),
            transport: Transport::Udp,
        }
    }

    /// The fault profile in force.
    pub fn faults(&self) -> Arc<FaultSpec> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the fault profile (checked by the registry): new sessions
    /// start with it, running ones follow from their next datagram.
    pub(super) fn set_faults(&self, faults: FaultSpec) {
        let mut current = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        self.proxy.set_faults(plan_of(&faults));
        *current = Arc::new(faults);
    }

    pub fn listen(&self) -> SocketAddr {
        self.proxy.listen
    }

    /// Stops it: every session ends (reason `stopped`, evented) and the
    /// socket closes, right after this returns.
    pub(super) fn stop(&self) {
        self.cancel.cancel();
        self.proxy.cancel();
    }

    /// Its metrics, in a TCP proxy's terms: sessions as connections,
    /// datagrams as chunks; no fault delays yet.
    pub fn meters(&self) -> super::ProxyMeters {
        let t = self.proxy.counters.totals();
        super::ProxyMeters {
            id: self.id.to_string(),
            name: self.name.clone(),
            active_connections: t.sessions_active,
            total_connections: t.sessions_total,
            failed_connections: t.upstream_unreachable,
            refused_connections: t.sessions_refused,
            bytes_c2s: t.bytes_c2s,
            bytes_s2c: t.bytes_s2c,
            chunks_c2s: t.datagrams_c2s,
            chunks_s2c: t.datagrams_s2c,
            fault_delay_c2s: crate::histogram::HistogramSnapshot::empty(),
            fault_delay_s2c: crate::histogram::HistogramSnapshot::empty(),
        }
    }

    /// The proxy as listings show it: sessions in the connection counters,
    /// upstream sends refused (ICMP port unreachable) as failed.
    pub fn info(&self) -> ProxyInfo {
        let t = self.proxy.counters.totals();
        ProxyInfo {
            id: self.id.to_string(),
            name: self.name.clone(),
            listen: self.listen(),
            upstream: self.upstream.clone(),
            active_connections: t.sessions_active,
            total_connections: t.sessions_total,
            failed_connections: t.upstream_unreachable,
            bytes_c2s: t.bytes_c2s,
            bytes_s2c: t.bytes_s2c,
            started_at: self.started_at,
            recordings: self.table.recording_ids(),
            faults: self.faults(),
            refused_connections: t.sessions_refused,
            max_connections: self.max_sessions,
            restored: self.origin == super::Origin::Restored,
            udp: Some(super::running::UdpInfo {
                idle_timeout: self.idle_timeout,
                datagrams_c2s: t.datagrams_c2s,
                datagrams_s2c: t.datagrams_s2c,
                dropped_c2s: t.dropped_c2s,
                faults_c2s: t.faults_c2s,
                faults_s2c: t.faults_s2c,
            }),
        }
    }
}

/// A profile as the relay engine takes it: split by direction.
fn plan_of(faults: &FaultSpec) -> FaultPlan {
    FaultPlan {
        c2s: faults.datagram_spec(Direction::C2s),
        s2c: faults.datagram_spec(Direction::S2c),
        seed: faults.seed,
    }
}

/// Sessions as connection events, so `watch`, `top` and the delay log see
/// UDP clients come and go like TCP ones.
struct Publisher {
    proxy: Arc<str>,
    bus: EventBus,
}

impl UdpObserver for Publisher {
    fn session_opened(&self, s: &ConnMeta) {
        self.bus.publish(
            Some(&self.proxy),
            EventBody::ConnectionOpened {
                conn: s.id,
                client: s.client,
                upstream: s.upstream.to_string(),
            },
        );
    }

    fn session_closed(&self, s: &ConnMeta, reason: CloseReason, t: SessionTotals) {
        self.bus.publish(
            Some(&self.proxy),
            EventBody::ConnectionClosed {
                conn: s.id,
                client: s.client,
                upstream: s.upstream.to_string(),
                reason: reason.as_str().to_owned(),
                bytes_c2s: t.bytes_c2s,
                bytes_s2c: t.bytes_s2c,
                duration: t.duration,
            },
        );
    }

    fn datagram(&self, s: &ConnMeta, dir: Direction, payload: &Bytes) {
        self.bus.publish(
            Some(&self.proxy),
            EventBody::Transfer {
                conn: s.id,
                dir,
                bytes: payload.len() as u64,
                delay: Duration::ZERO,
                drawn: Duration::ZERO,
            },
        );
    }
}
