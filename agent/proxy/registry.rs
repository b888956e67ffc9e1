//! The set of running proxies of an agent: start, stop, find, list.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::bind::bind;
use super::loops::{self, OwnAddr};
use super::running::NewProxy;
use super::spec::ProxySpec;
use super::udp::UdpRunning;
use super::{Proxy, ProxyInfo, listener};
use crate::error::{Error, Result};
use crate::events::{EventBody, EventBus};
use crate::faults::FaultSpec;
use crate::fds::{self, FdBudget};

/// Concurrent clients per proxy unless configured otherwise: far beyond a
/// game server's usual load, low enough to stop a connection flood from
/// exhausting the agent's file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

pub use super::running::Origin;

/// All proxies of one agent. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Proxies {
    proxies: Mutex<BTreeMap<String, Arc<Proxy>>>,
    /// UDP proxies: the same ids, names and listings as the TCP ones, kept
    /// apart because faults, recordings and connection lists are TCP's.
    pub(super) udp: Mutex<BTreeMap<String, Arc<UdpRunning>>>,
    pub(super) next_proxy: AtomicU64,
    /// Connection ids, shared by every proxy (see `ConnMeta::id`).
    pub(super) conn_ids: Arc<AtomicU64>,
    /// See `Proxy::write_order`.
    write_order: Arc<Mutex<()>>,
    /// Per-proxy connection limit when a start request gives none.
    pub(super) default_max_connections: AtomicU64,
    /// Data-path file descriptors all proxies share (see `crate::fds`).
    fds: Mutex<FdBudget>,
    /// Addresses the agent listens on besides its proxies (the control
    /// port): no proxy may forward to them, nor to a proxy's listen address.
    own_addrs: Mutex<Vec<OwnAddr>>,
    /// The saved-proxies file once `keep_in` was called (see `restore`).
    pub(super) saved_path: Mutex<Option<PathBuf>>,
    /// Held while writing the file, so writes follow the changes' order.
    pub(super) save_lock: Mutex<()>,
    pub(super) bus: EventBus,
    tracker: TaskTracker,
    pub(super) cancel: CancellationToken,
}

impl Proxies {
    pub fn new(bus: EventBus, tracker: TaskTracker, cancel: CancellationToken) -> Self {
        Self {
            proxies: Mutex::default(),
            udp: Mutex::default(),
            next_proxy: AtomicU64::new(1),
            conn_ids: Arc::new(AtomicU64::new(1)),
            write_order: Arc::default(),
            default_max_connections: AtomicU64::new(DEFAULT_MAX_CONNECTIONS),
            fds: Mutex::new(FdBudget::unlimited()),
            own_addrs: Mutex::default(),
            saved_path: Mutex::default(),
            save_lock: Mutex::default(),
            bus,
            tracker,
            cancel,
        }
    }

    pub(super) fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Proxy>>> {
        self.proxies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a proxy of either kind has `name` as its name or id.
    pub(super) fn name_taken(&self, map: &BTreeMap<String, Arc<Proxy>>, name: &str) -> bool {
        map.values().any(|p| p.name == name || *p.id == *name) || self.find_udp(name).is_some()
    }

    /// Marks an address the agent itself listens on (the control port, a
    /// metrics port): a proxy whose upstream reaches it is refused.
    pub fn add_own_address(&self, addr: SocketAddr, what: &str) {
        let mut own = self.own_addrs.lock().unwrap_or_else(|e| e.into_inner());
        if !own.iter().any(|o| o.addr == addr) {
            own.push(OwnAddr {
                addr,
                what: what.to_string(),
            });
        }
    }

    /// Binds and starts a proxy.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed address or name, or (naming
    /// `upstream`) an upstream that resolves to one of the agent's own listen
    /// addresses: this proxy's (port 0 as bound), another proxy's, the
    /// control port's; `ProxyExists` for a taken name, `Bind` when the
    /// address cannot be bound (in use, not local).
    pub async fn start(&self, spec: ProxySpec) -> Result<ProxyInfo> {
        if spec.udp {
            return self.start_udp(spec).await;
        }
        if spec.idle_timeout.is_some() {
            return Err(Error::invalid(
                "idle_timeout",
                "applies to UDP proxies only (start it with udp)",
            ));
        }
        spec.check_addresses_and_limits()?;
        validate_faults(&spec.faults)?;
        spec.faults
            .check_for_tcp()
            .map_err(|e| Error::invalid("faults", e))?;
        let upstream_addrs = loops::resolve(&spec.upstream).await;
        let listener = bind(&spec.listen).await?;
        let listen = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;

        let (proxy, info) = {
            let mut map = self.map();
            let id = format!("p{}", self.next_proxy.fetch_add(1, Ordering::Relaxed));
            let name = spec.name.clone().unwrap_or_else(|| id.clone());
            if self.name_taken(&map, &name) {
                return Err(Error::ProxyExists(name));
            }
            // Under the map's lock, so two proxies started at once cannot
            // each forward to the other.
            self.refuse_loop(&map, listen, &spec.upstream, &upstream_addrs)?;
            let proxy = Arc::new(Proxy::new(NewProxy {
                id: id.as_str().into(),
                name,
                listen,
                upstream: spec.upstream.clone(),
                cancel: self.cancel.child_token(),
                write_order: self.write_order.clone(),
                faults: spec.faults.clone(),
                max_connections: spec
                    .max_connections
                    .unwrap_or_else(|| self.default_max_connections.load(Ordering::Relaxed)),
                origin: spec.origin,
                fds: self.fd_budget(),
            }));
            map.insert(id, proxy.clone());
            warn_overcommit(&map, &proxy);
            let info = proxy.info();
            (proxy, info)
        };
        info!(proxy = %proxy.id, %listen, upstream = %proxy.upstream, faults = %proxy.faults.current(), "proxy started");
        self.tracker.spawn(listener::accept_loop(
            proxy.clone(),
            listener,
            self.bus.clone(),
            self.conn_ids.clone(),
            self.tracker.clone(),
        ));
        self.tracker.spawn(listener::stats_loop(
            proxy.id.clone(),
            {
                let proxy = proxy.clone();
                move || proxy.info()
            },
            self.bus.clone(),
            proxy.cancel.clone(),
        ));
        self.bus.publish(
            Some(&proxy.id),
            EventBody::ProxyStarted {
                listen,
                upstream: proxy.upstream.clone(),
            },
        );
        self.save();
        Ok(info)
    }

    /// Stops a proxy by id or name: no more accepts, open connections closed.
    ///
    /// # Errors
    /// `UnknownProxy` when none has that id or name.
    pub fn stop(&self, id_or_name: &str) -> Result<ProxyInfo> {
        let info = self.stop_unsaved(id_or_name)?;
        self.save();
        Ok(info)
    }

    /// Stops a proxy without touching the saved proxies (agent shutdown:
    /// they are to come back at the next start).
    fn stop_unsaved(&self, id_or_name: &str) -> Result<ProxyInfo> {
        if let Some(udp) = self.find_udp(id_or_name) {
            self.udp_map().remove(&*udp.id);
            udp.stop();
            info!(proxy = %udp.id, "UDP proxy stopped");
            self.bus.publish(
                Some(&udp.id),
                EventBody::ProxyStopped {
                    listen: udp.listen(),
                    upstream: udp.upstream.clone(),
                },
            );
            return Ok(udp.info());
        }
        let proxy = {
            let mut map = self.map();
            let key = map
                .values()
                .find(|p| *p.id == *id_or_name || p.name == id_or_name)
                .map(|p| p.id.to_string())
                .ok_or_else(|| Error::UnknownProxy(id_or_name.to_string()))?;
            map.remove(&key)
                .ok_or_else(|| Error::UnknownProxy(id_or_name.to_string()))?
        };
        proxy.cancel.cancel();
        info!(proxy = %proxy.id, "proxy stopped");
        self.bus.publish(
            Some(&proxy.id),
            EventBody::ProxyStopped {
                listen: proxy.listen,
                upstream: proxy.upstream.clone(),
            },
        );
        Ok(proxy.info())
    }

    /// `InvalidArgument` naming `upstream` when one of its addresses reaches
    /// a socket of this agent: the new proxy's `listen`, a running proxy's,
    /// or one of `own_addrs`.
    fn refuse_loop(
        &self,
        map: &BTreeMap<String, Arc<Proxy>>,
        listen: SocketAddr,
        upstream: &str,
        upstream_addrs: &[SocketAddr],
    ) -> Result<()> {
        let mut own = vec![OwnAddr {
            addr: listen,
            what: "this proxy's own listen address".into(),
        }];
        own.extend(map.values().map(|p| OwnAddr {
            addr: p.listen,
            what: format!("the listen address of proxy {:?}", p.name),
        }));
        own.extend(
            self.own_addrs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        match loops::find_loop(upstream_addrs, &own) {
            None => Ok(()),
            Some((reached, o)) => Err(Error::invalid(
                "upstream",
                format!(
                    "{upstream:?} leads back into this agent: {reached} reaches {} ({}); \
                     a proxy may not forward to the agent itself (a loop would exhaust its \
                     file descriptors, the control port would be exposed)",
                    o.what, o.addr
                ),
            )),
        }
    }

    /// Makes sure no proxy id handed out from now on equals `name` (a
    /// restored proxy named like an id, `p3`, keeps its name).
    pub(super) fn skip_id(&self, name: &str) {
        if let Some(n) = name.strip_prefix('p').and_then(|n| n.parse::<u64>().ok()) {
            self.next_proxy
                .fetch_max(n.saturating_add(1), Ordering::Relaxed);
        }
    }

    /// Sets the file-descriptor budget of the proxies started from now on
    /// (the agent sets it once, before any proxy starts).
    pub fn set_fd_budget(&self, budget: FdBudget) {
        *self.fds.lock().unwrap_or_else(|e| e.into_inner()) = budget;
    }

    pub(super) fn fd_budget(&self) -> FdBudget {
        self.fds.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets the connection limit of proxies started without one.
    pub fn set_default_max_connections(&self, n: u64) {
        self.default_max_connections.store(n, Ordering::Relaxed);
    }

    /// Replaces a proxy's fault profile; its open connections (a UDP
    /// proxy's sessions) follow.
    ///
    /// # Errors
    /// `UnknownProxy`, `InvalidArgument` naming the first bad field or the
    /// fields the proxy's kind (TCP, UDP) cannot act on.
    pub fn update_faults(&self, id_or_name: &str, faults: FaultSpec) -> Result<ProxyInfo> {
        validate_faults(&faults)?;
        if let Some(udp) = self.find_udp(id_or_name) {
            return self.update_udp_faults(&udp, faults);
        }
        faults
            .check_for_tcp()
            .map_err(|e| Error::invalid("faults", e))?;
        let proxy = self.find(id_or_name)?;
        proxy.faults.update(faults);
        info!(proxy = %proxy.id, faults = %proxy.faults.current(), "faults updated");
        self.save();
        Ok(proxy.info())
    }

    /// Finds a running proxy by id or name.
    ///
    /// # Errors
    /// `UnknownProxy` when none matches.
    pub fn find(&self, id_or_name: &str) -> Result<Arc<Proxy>> {
        let found = self
            .map()
            .values()
            .find(|p| *p.id == *id_or_name || p.name == id_or_name)
            .cloned();
        match found {
            Some(p) => Ok(p),
            None if self.find_udp(id_or_name).is_some() => Err(Error::FailedPrecondition(format!(
                "proxy {id_or_name:?} is a UDP proxy: this is for TCP proxies only"
            ))),
            None => Err(Error::UnknownProxy(id_or_name.to_string())),
        }
    }

    /// Every running proxy, in start order.
    pub fn all(&self) -> Vec<Arc<Proxy>> {
        let mut all: Vec<_> = self.map().values().cloned().collect();
        all.sort_by_key(|p| p.started_at);
        all
    }

    /// Every proxy, TCP and UDP, in start order.
    pub fn list(&self) -> Vec<ProxyInfo> {
        let mut all: Vec<ProxyInfo> = self.all().iter().map(|p| p.info()).collect();
        all.extend(self.udp_map().values().map(|p| p.info()));
        all.sort_by_key(|p| p.started_at);
        all
    }

    /// Stops every proxy (agent shutdown); the saved proxies stay as they
    /// are, to be restored at the next start.
    pub fn stop_all(&self) {
        let udp: Vec<String> = self.udp_map().keys().cloned().collect();
        for id in udp {
            let _ = self.stop_unsaved(&id);
        }
        let ids: Vec<String> = self.map().keys().cloned().collect();
        for id in ids {
            let _ = self.stop_unsaved(&id);
        }
    }
}

/// Says in the log when the running proxies' connection limits, all
/// reached, would need more file descriptors than the agent's budget: the
/// clients past it will be refused, not the limits honoured.
fn warn_overcommit(map: &BTreeMap<String, Arc<Proxy>>, new: &Proxy) {
    let limits = map.values().map(|p| p.max_connections);
    if let Some(o) = fds::overcommit(new.fds.size(), limits) {
        warn!(
            proxy = %new.id,
            max_connections = new.max_connections,
            proxies = map.len(),
            needs = o.fds,
            budget = o.budget,
            "the running proxies' connection limits ({} clients in all) may need {} file \
             descriptors but {} are left for proxy clients (the open-file limit less \
             --fd-reserve {}): clients past about {} in all are refused",
            o.connections,
            o.fds,
            o.budget,
            new.fds.reserve(),
            o.budget / u64::from(fds::FDS_PER_CONNECTION),
        );
    }
}

pub(super) fn validate_faults(faults: &FaultSpec) -> Result<()> {
    faults.validate().map_err(|errors| Error::InvalidArgument {
        field: "faults",
        reason: errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    })
}
