//! TCP proxies: the accept loop (`listener`), the per-connection relay
//! (`relay`) and its two directions (`pump`, with `shaping` for the fault
//! queue and `buffer` for the read buffers), one running proxy's state
//! (`running`) and the agent's set of proxies (`registry`).

mod buffer;
mod conn;
mod listener;
mod pump;
mod registry;
pub mod relay;
mod running;
mod shaping;

pub use conn::ConnMeta;
pub(crate) use registry::validate_host_port;
pub use registry::{DEFAULT_MAX_CONNECTIONS, Proxies, ProxySpec};
pub use running::{Proxy, ProxyInfo};
