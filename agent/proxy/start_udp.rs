//! Starting a UDP proxy: the same checks as a TCP one where they apply
//! (addresses, name, no upstream leading back into the agent's own UDP
//! listeners), then the relay engine under the registry's ids and names.

use std::sync::atomic::Ordering;

use tracing::info;

use super::ProxyInfo;
use super::loops::{self, OwnAddr};
use super::registry::{Proxies, ProxySpec};
use super::udp::{NewUdp, UdpRunning};
use crate::error::{Error, Result};
use crate::events::EventBody;
use crate::udp::DEFAULT_IDLE_TIMEOUT;
use crate::{host_port, ids};

impl Proxies {
    /// Binds and starts a UDP proxy.
    ///
    /// # Errors
    /// As `start` for TCP; `InvalidArgument` naming `faults` when a profile
    /// is given (datagram faults are not settable through the API yet) or
    /// `idle_timeout` when it is zero.
    pub(super) async fn start_udp(&self, spec: ProxySpec) -> Result<ProxyInfo> {
        host_port::validate("upstream", &spec.upstream)?;
        host_port::validate_listen("listen", &spec.listen)?;
        if let Some(name) = &spec.name {
            ids::validate("name", name)?;
        }
        if spec.max_connections == Some(0) {
            return Err(Error::invalid("max_connections", "must be at least 1"));
        }
        if !spec.faults.is_none() {
            return Err(Error::invalid(
                "faults",
                "UDP proxies take no fault profile yet (datagram loss, duplication and \
                 reordering are coming); start it without faults",
            ));
        }
        let idle_timeout = spec.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
        if idle_timeout.is_zero() {
            return Err(Error::invalid("idle_timeout", "must be more than 0"));
        }
        let listen = tokio::net::lookup_host(spec.listen.as_str())
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| Error::invalid("listen", format!("{} has no address", spec.listen)))?;
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
            listen,
            upstream: spec.upstream.clone(),
            idle_timeout,
            max_sessions: spec
                .max_connections
                .unwrap_or_else(|| self.default_max_connections.load(Ordering::Relaxed)),
            origin: spec.origin,
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
              "UDP proxy started");
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
}
