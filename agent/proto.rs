//! The generated protobuf and gRPC types of package `reel.v1`: the one place
//! that includes them. The engine never uses these; `service/` and `ctl` do.

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("reel.v1");

/// Encoded descriptor set of reel.v1, served by the reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("reel_descriptor");
