//! The switches for tests that need something cargo does not bring (Redis,
//! Wireshark's tools, root): one definition in `reel::fixtures`, shared
//! with the unit tests.

#[allow(unused_imports)]
pub use reel::fixtures::{Need, enabled, open_files};
