//! TCP proxies: the accept loop (`listener`), the per-connection relay
//! (`relay`) and its two directions (`pump`, with `shaping` for the fault
//! queue and `buffer` for the read buffers), one running proxy's state
//! (`running`), the agent's set of proxies (`registry`) and the check that
//! no upstream leads back into the agent (`loops`).

mod buffer;
mod conn;
mod listener;
mod loops;
mod pump;
mod registry;
pub mod relay;
mod running;
mod shaping;

pub use conn::ConnMeta;
pub use loops::UPSTREAM_LOOKUP_TIMEOUT;
pub use registry::{DEFAULT_MAX_CONNECTIONS, Proxies, ProxySpec};
pub use running::{Proxy, ProxyInfo};
