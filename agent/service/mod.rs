//! The gRPC layer: a thin translation between protobuf and the engine.

mod convert;
mod faults;
mod reel;
mod replay;
mod server;
mod status;
mod transfer;

pub use reel::ReelService;
pub use server::serve;
