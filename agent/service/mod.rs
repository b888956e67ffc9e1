//! The gRPC layer: a thin translation between protobuf and the engine.

pub mod analyze;
pub mod auth;
mod convert;
mod reel;
mod replay;
mod server;
mod status;
mod stored;
mod transfer;
mod watch;

pub use reel::ReelService;
pub use server::{CONTROL_PORT, ServeOptions, TlsFiles, serve};
