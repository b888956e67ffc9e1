//! Proxies: for TCP, the accept loop (`listener`), the per-connection relay
//! (`relay`, reaching the upstream in `upstream`) and its two directions (`pump` for the plain path, `shaping`
//! for the fault queue, `flow` for what both share, `buffer` for the read
//! buffers, `splice` for the zero-copy path taken while nothing needs the
//! bytes), one running proxy's state
//! (`running`), binding its listen address (`bind`), the agent's set of
//! proxies (`registry`), the check that no upstream leads back into the
//! agent (`loops`), and the proxies kept in the data directory across
//! restarts (`saved` for the file, `restore` for saving and starting them
//! again). What a proxy is asked to be is `spec`. UDP proxies run the `udp`
//! relay engine as a proxy of the registry (`udp`, and `udp_registry` for
//! the registry's UDP side); `any` is a proxy of either kind, for what both
//! do alike (being recorded, listing connections).

mod any;
mod bind;
mod buffer;
mod flow;
mod listener;
mod loops;
mod pump;
mod registry;
pub mod relay;
mod restore;
mod running;
mod saved;
mod shaping;
mod spec;
mod splice;
mod udp;
mod udp_registry;
mod upstream;

pub use crate::tap::ConnMeta;
pub use any::AnyProxy;
pub use loops::UPSTREAM_LOOKUP_TIMEOUT;
pub use registry::{DEFAULT_MAX_CONNECTIONS, Origin, Proxies};
pub use restore::RestoreSummary;
pub use running::{Proxy, ProxyInfo, ProxyMeters, UdpInfo};
pub use saved::{SAVED_PROXIES_FILE, SavedError};
pub use spec::ProxySpec;
pub use splice::{set_splice, splice_enabled};
pub use udp::UdpRunning;
pub use upstream::UPSTREAM_CONNECT_TIMEOUT;
