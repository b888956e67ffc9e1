//! reel: record and replay the TCP traffic of game servers, across a fleet.
//!
//! # Layout
//! - `agent`: the engine's root, owning everything below for one agent.
//! - `format`: the recording file format (writer, reader, recovery); also
//!   used by `reelctl` to read local files.
//! - `domain`: the types every module shares (`Direction`), at the bottom.
//! - `tap`: what a proxy connection hands to recordings (the connection's
//!   identity, its events, the queue and its byte budget); proxies write
//!   into it and recorders read from it, so neither imports the other.
//! - `proxy`: listeners and the per-connection relay, and the running
//!   proxies saved in the data directory across restarts.
//! - `record`: recorder threads and the catalog of recordings on disk; the
//!   agent root attaches a new recording's tap to the proxies it names.
//! - `replay`: plans built from recordings, sessions that run them, reports.
//! - `rewrite`: session rewriting rules (captures, rewrites, checksums,
//!   ignores) and the framer they work on; pure, used by replay and `reelctl`.
//! - `faults`: network conditions (latency, bandwidth, resets...) for proxies.
//! - `delay`: the standalone delay mode (`reel-agent delay`, TcpDelay style).
//! - `durable`: replacing a small file atomically (reports, saved proxies).
//! - `stats`: offline analysis of recordings (one implementation for agent and ctl).
//! - `pcap`: pcapng export and pcap/pcapng import with TCP reassembly.
//! - `events`: the live event bus behind Watch (one bounded queue, one
//!   fan-out task, a bounded queue per subscriber, the `--max-watchers` limit).
//! - `fds`: the open-file limit raised at start and the budget of
//!   descriptors proxy clients may hold, the rest kept for the control plane.
//! - `histogram`: lock-free bucket counters the data path feeds (fault
//!   delays, replay lateness) for the metrics exporter to read.
//! - `metrics`: the Prometheus endpoint (`--metrics-listen`): a collector
//!   that reads the engine's counters at scrape time, and its HTTP server.
//! - `timer`: sleeps precise to tens of microseconds (timed replay, fault
//!   delays, scheduled starts of recordings and replays).
//! - `store`: the object store for recordings (`--store`): uploads of
//!   sealed segments, the fleet's listing, ranged reads of stored ones.
//! - `service`: the tonic service, a thin layer over the engine.
//! - `proto`: the generated reel.v1 types (for `service` and `reelctl`).
//! - `fixtures` (hidden): test support shared by unit and integration
//!   tests (known recordings, tshark, the switches for external tools).
//! - `wire`: conversions between engine values and reel.v1 messages that
//!   both sides of the wire need (fault profiles, replay modes and states,
//!   analyses); `service` and `reelctl` use them, the engine never does.
//! - `config`, `error`, `ids`, `host_port`, `token`: settings, the engine's
//!   error, id rules, the one `host:port` check, bearer token files.

pub mod agent;
pub mod config;
pub mod delay;
pub mod domain;
pub mod durable;
pub mod error;
pub mod events;
pub mod faults;
pub mod fds;
#[doc(hidden)]
pub mod fixtures;
pub mod format;
pub mod histogram;
pub mod host_port;
pub mod ids;
pub mod metrics;
pub mod pcap;
pub mod proto;
pub mod proxy;
pub mod record;
pub mod replay;
pub mod rewrite;
pub mod service;
pub mod stats;
pub mod store;
pub mod tap;
pub mod timer;
pub mod token;
pub mod udp;
pub mod wire;

pub use agent::Agent;
pub use error::{Error, Result};
