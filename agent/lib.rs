//! reel: record and replay the TCP traffic of game servers.
pub mod proto;
