//! The registry's UDP side: its UDP proxies, found and listed, and starting
//! one: the same checks as a TCP one where they apply (addresses, name, no
//! upstream leading back into the agent's own UDP listeners), then the relay
//! engine under the registry's ids and names. Fault profiles: a UDP proxy
//! takes latency, bandwidth, direction, seed and the datagram fields and
//! refuses the rest by name; a TCP proxy refuses the datagram fields.
//! Changing a running UDP proxy's profile reaches its sessions at once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use tracing::info;

use super::ProxyInfo;
use super::loops::{self, OwnAddr};
use super::registry::Proxies;
use super::spec::ProxySpec;
use super::udp::{NewUdp, UdpRunning};
use crate::error::{Error, Result};
use crate::events::EventBody;
use crate::faults::FaultSpec;
use crate::udp::DEFAULT_IDLE_TIMEOUT;
impl Proxies {
    pub(super) fn udp_map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<UdpRunning>>> {
        self.udp.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The UDP proxy with this id or name, if one is.
    pub(super) fn find_udp(&self, id_or_name: &str) -> Option<Arc<UdpRunning>> {
        self.udp_map()
            .values()
            .find(|p| *p.id == *id_or_name || p.name == id_or_name)
            .cloned()
    }

    /// Every UDP proxy, in start order.
    pub fn udp(&self) -> Vec<Arc<UdpRunning>> {
        let mut all: Vec<_> = self.udp_map().values().cloned().collect();
        all.sort_by_key(|p| p.started_at);
        all
    }

    /// Binds and starts a UDP proxy.
    ///
    /// # Errors
    /// As `start` for TCP; `InvalidArgument` naming `faults` for a field out
    /// of range or a TCP-only one, `idle_timeout` when it is zero.
    pub(super) async fn start_udp(&self, spec: ProxySpec) -> Result<ProxyInfo> {
        spec.check_addresses_and_limits()?;
        super::registry::validate_faults(&spec.faults)?;
        spec.faults
            .check_for_udp()
            .map_err(|e| Error::invalid("faults", e))?;
        let idle_timeout = spec.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
        if idle_timeout.is_zero() {
            return Err(Error::invalid("idle_timeout", "must be more than 0"));
        }
        let upstream_addrs = loops::resolve(&spec.upstream).await;
        let (id, name) = {
            let map = self.map();
            let id = format!("p{}", self.next_proxy.fetch_add(1, Ordering::Relaxed));
            let name = spec.name.clone().unwrap_or_else(|| id.clone());
            if self.name_taken(&map, &name) {
                return Err(Error::ProxyExists(name));
            }
            (id, name)
        };
        let running = UdpRunning::start(NewUdp {
            id: id.as_str().into(),
            name,
            listen: spec.listen.clone(),
            upstream: spec.upstream.clone(),
            idle_timeout,
            max_sessions: spec
                .max_connections
                .unwrap_or_else(|| self.default_max_connections.load(Ordering::Relaxed)),
            origin: spec.origin,
            faults: spec.faults.clone(),
            session_ids: self.conn_ids.clone(),
            fds: self.fd_budget(),
            bus: self.bus.clone(),
            cancel: self.cancel.child_token(),
        })
        .await?;
        // Checked once bound, so port 0 is known: a datagram to ourselves
        // would loop for ever.
        let own: Vec<OwnAddr> = self
            .udp_map()
            .values()
            .map(|p| OwnAddr {
                addr: p.listen(),
                what: format!("the listen address of UDP proxy {:?}", p.name),
            })
            .chain(std::iter::once(OwnAddr {
                addr: running.listen(),
                what: "this proxy's own listen address".into(),
            }))
            .collect();
        if let Some((reached, o)) = loops::find_loop(&upstream_addrs, &own) {
            running.stop();
            return Err(Error::invalid(
                "upstream",
                format!(
                    "{:?} leads back into this agent: {reached} reaches {} ({})",
                    spec.upstream, o.what, o.addr
                ),
            ));
        }
        {
            // Again under the locks: a proxy of the same name may have
            // started while this one was binding.
            let map = self.map();
            if self.name_taken(&map, &running.name) {
                running.stop();
                return Err(Error::ProxyExists(running.name.clone()));
            }
            self.udp_map().insert(id, running.clone());
        }
        info!(proxy = %running.id, listen = %running.listen(), upstream = %running.upstream,
              faults = %running.faults(), "UDP proxy started");
        self.save();
        self.bus.publish(
            Some(&running.id),
            EventBody::ProxyStarted {
                listen: running.listen(),
                upstream: running.upstream.clone(),
            },
        );
        Ok(running.info())
    }

    /// Replaces a UDP proxy's fault profile (already validated).
    ///
    /// # Errors
    /// `InvalidArgument` naming `faults` for a TCP-only field.
    pub(super) fn update_udp_faults(
        &self,
        proxy: &UdpRunning,
        faults: FaultSpec,
    ) -> Result<ProxyInfo> {
        faults
            .check_for_udp()
            .map_err(|e| Error::invalid("faults", e))?;
        proxy.set_faults(faults);
        info!(proxy = %proxy.id, faults = %proxy.faults(), "faults updated");
        self.save();
        Ok(proxy.info())
    }
}
