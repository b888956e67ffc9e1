//! Prometheus metrics (`reel-agent --metrics-listen ADDR`): a collector
//! that reads the engine's counters at every scrape (`collect`), and the
//! small HTTP server that answers `GET /metrics` (`server`). The engine
//! knows nothing of the exporter crate; only this module does.

mod collect;
mod server;

pub use collect::{PREFIX, registry};
pub use server::{MAX_SCRAPE_CONNECTIONS, METRICS_PATH, REQUEST_HEADER_TIMEOUT, serve};
