//! The gRPC layer: a thin translation between protobuf and the engine.

mod convert;
mod reel;
mod server;
mod status;

pub use reel::ReelService;
pub use server::serve;
