//! The few types every part of the engine speaks of — the proxy, the tap,
//! the recorder, replay, stats — kept at the bottom of the module graph so
//! none of them has to import another for a word they share. How a type is
//! stored in a file is the format's business (`format::frame` adds that).

use serde::{Deserialize, Serialize};

/// Which way bytes travelled through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

impl Direction {
    /// `"c2s"` or `"s2c"`, as logs and reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }
}
