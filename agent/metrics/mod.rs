//! Prometheus metrics (`reel-agent --metrics-listen ADDR`): a collector
//! that reads the engine's counters at every scrape (`collect`), the small
//! HTTP server that answers `GET /metrics` (`server`), and binding its
//! address under the control plane's exposure rule (`bind`). The engine
//! knows nothing of the exporter crate; only this module does.

mod bind;
mod collect;
mod server;

pub use bind::{BindError, bind};
pub use collect::{PREFIX, registry};
pub use server::{MAX_SCRAPE_CONNECTIONS, METRICS_PATH, REQUEST_HEADER_TIMEOUT, serve};
