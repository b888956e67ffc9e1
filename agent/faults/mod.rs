//! Network conditions: fault profiles (`spec`), their text syntax (`parse`,
//! and back: `describe`), reproducible draws (`random`), bandwidth buckets
//! (`bucket`) and the per-connection state the relay consults (`conn`). Used
//! by live proxies, the standalone delay mode and replay.

pub mod bucket;
mod conn;
pub mod describe;
pub mod parse;
pub mod random;
mod spec;

pub use conn::{ConnFaults, Cut, DirFaults, ProxyFaults};
pub use spec::{Directions, FaultSpec, FieldError, Latency, Slicer, UnknownDirections};
