//! A proxy of either kind, for what TCP and UDP proxies do alike: being
//! recorded, and listing their connections (UDP sessions).

use std::sync::Arc;

use super::{Proxies, Proxy, UdpRunning};
use crate::error::Result;
use crate::format::ProxyMeta;
use crate::tap::{ConnMeta, Tap, TapTable};

/// A running TCP or UDP proxy.
#[derive(Debug, Clone)]
pub enum AnyProxy {
    Tcp(Arc<Proxy>),
    Udp(Arc<UdpRunning>),
}

impl AnyProxy {
    pub fn id(&self) -> &Arc<str> {
        match self {
            AnyProxy::Tcp(p) => &p.id,
            AnyProxy::Udp(p) => &p.id,
        }
    }

    /// How a recording's header describes it.
    pub fn meta(&self) -> ProxyMeta {
        match self {
            AnyProxy::Tcp(p) => p.meta(),
            AnyProxy::Udp(p) => p.meta(),
        }
    }

    /// Its open connections (a UDP proxy's sessions) and the recordings
    /// tapping it.
    fn table(&self) -> &TapTable {
        match self {
            AnyProxy::Tcp(p) => &p.table,
            AnyProxy::Udp(p) => &p.table,
        }
    }

    /// Starts feeding `tap`; returns the connections (sessions) already
    /// open, which the recording describes as mid-session.
    pub fn attach(&self, tap: Tap) -> Vec<Arc<ConnMeta>> {
        self.table().attach(tap)
    }

    /// Stops feeding the recording `recording_id`.
    pub fn detach(&self, recording_id: &str) {
        self.table().detach(recording_id);
    }

    /// Its open connections (sessions).
    pub fn connections(&self) -> Vec<Arc<ConnMeta>> {
        self.table().connections()
    }

    fn started_at(&self) -> std::time::SystemTime {
        match self {
            AnyProxy::Tcp(p) => p.started_at,
            AnyProxy::Udp(p) => p.started_at,
        }
    }
}

impl Proxies {
    /// The TCP or UDP proxy with this id or name.
    ///
    /// # Errors
    /// `UnknownProxy` when none matches.
    pub fn find_any(&self, id_or_name: &str) -> Result<AnyProxy> {
        if let Some(p) = self.find_udp(id_or_name) {
            return Ok(AnyProxy::Udp(p));
        }
        self.find(id_or_name).map(AnyProxy::Tcp)
    }

    /// Every running proxy, TCP and UDP, in start order.
    pub fn all_any(&self) -> Vec<AnyProxy> {
        let mut all: Vec<AnyProxy> = self.all().into_iter().map(AnyProxy::Tcp).collect();
        all.extend(self.udp().into_iter().map(AnyProxy::Udp));
        all.sort_by_key(AnyProxy::started_at);
        all
    }
}
