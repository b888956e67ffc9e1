//! Network conditions: fault profiles (`spec`), their text syntax (`parse`,
//! and back: `describe`), reproducible draws (`random`), bandwidth buckets
//! (`bucket`) and the per-connection state the relay consults (`conn`). Used
//! by live proxies, the standalone delay mode and replay. `datagram` is the
//! same for UDP: loss (independent or in bursts), duplication, reordering
//! and jitter, one datagram at a time; `udp` is that part of a profile,
//! as the control plane, reelctl and the config file give it.

pub mod bucket;
mod conn;
pub mod datagram;
mod datagram_fields;
pub mod describe;
mod limits;
pub mod parse;
pub mod random;
mod spec;
pub mod udp;

pub use conn::{ConnFaults, Cut, DirFaults, ProxyFaults};
pub use datagram_fields::DatagramFields;
pub use spec::{Directions, FaultSpec, FieldError, Latency, Slicer, UnknownDirections};
