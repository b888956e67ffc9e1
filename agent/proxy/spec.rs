//! What a proxy is asked to be (TCP or UDP), and the checks both kinds
//! make before anything binds.

use std::time::Duration;

use super::Origin;
use crate::error::{Error, Result};
use crate::faults::FaultSpec;
use crate::{host_port, ids};

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct ProxySpec {
    /// host:port to bind.
    pub listen: String,
    /// host:port to relay to.
    pub upstream: String,
    /// Defaults to the id.
    pub name: Option<String>,
    /// Network conditions for its connections.
    pub faults: FaultSpec,
    /// Most concurrent clients; `None` = the agent's default.
    pub max_connections: Option<u64>,
    /// Where the request came from; decides whether it is saved.
    pub origin: Origin,
    /// Relay UDP datagrams instead of TCP connections (`max_connections`
    /// then caps sessions).
    pub udp: bool,
    /// UDP: how long a session lives without a datagram; `None` = 60 s.
    pub idle_timeout: Option<Duration>,
}

impl ProxySpec {
    /// What TCP and UDP proxies check alike before anything binds: the
    /// addresses' syntax, the name, a limit of at least one.
    ///
    /// # Errors
    /// `InvalidArgument` naming the field.
    pub(super) fn check_addresses_and_limits(&self) -> Result<()> {
        host_port::validate("upstream", &self.upstream)?;
        host_port::validate_listen("listen", &self.listen)?;
        if let Some(name) = &self.name {
            ids::validate("name", name)?;
        }
        if self.max_connections == Some(0) {
            return Err(Error::invalid("max_connections", "must be at least 1"));
        }
        Ok(())
    }
}
