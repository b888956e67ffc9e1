//! pcap interoperability: export a recording as pcapng (one complete TCP
//! flow per connection, one UDP packet per datagram of a UDP session, for
//! Wireshark and tshark), and import a pcap or pcapng capture as a
//! recording (TCP reassembly per flow, UDP sessions per client address). Behaviour and
//! limits are in `docs/ANALYSIS.md`.
//!
//! # Layout
//! - `export`: [`export_pcapng`]; `endpoints`: a connection's addresses and
//!   ISNs; `segment`: one TCP segment as bytes; `datagram`: one UDP
//!   datagram as bytes; `packets`: a flow's state and the packet writer.
//! - `import`: [`import_pcap`], [`import_pcap_file`], [`import_reader`].
//! - `capture`: streaming pcap/pcapng reader; `blocks`: pcapng packet blocks.
//! - `link`: link layer → TCP segment; `reassembly`: one direction's bytes
//!   in order; `flow`: one connection's frames; `udp_flow`: UDP sessions'
//!   frames; `filter`: [`ServerFilter`].
//! - `error`: [`PcapError`].

mod blocks;
mod capture;
mod datagram;
mod endpoints;
mod error;
mod export;
mod filter;
mod flow;
mod import;
mod link;
mod packets;
mod reassembly;
mod segment;
mod udp_flow;

#[cfg(test)]
mod tests;

pub use capture::{MAX_RECORD_LEN, Truncation};
pub use datagram::{MAX_DATAGRAM_V4, MAX_DATAGRAM_V6};
pub use error::PcapError;
pub use export::{ExportSummary, export_pcapng, export_pcapng_file};
pub use filter::ServerFilter;
pub use flow::{IMPORT_PROXY_ID, LOST_REASON};
pub use import::{ImportSummary, import_pcap, import_pcap_file, import_reader};
pub use reassembly::MAX_PENDING_BYTES;
pub use segment::{MAX_SEGMENT_V4, MAX_SEGMENT_V6};
pub use udp_flow::{IMPORT_UDP_PROXY_ID, UDP_IDLE_TIMEOUT_NS};
