//! Agent settings with their embedded defaults, so `reel-agent` with no
//! arguments serves the control port on 127.0.0.1:7700 with data in
//! ./reel-data; the optional config file (`file`) can set them and declare
//! proxies to start at boot.

use std::path::PathBuf;
use std::time::Duration;

pub mod file;

pub use file::{ConfigError, ConfigFile};

/// Default control address: loopback only, since the control plane can
/// record and replay player traffic.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "reel-data";
/// How long shutdown waits for connections to close before giving up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest gRPC message the control service decodes.
pub const MAX_GRPC_MESSAGE: usize = 16 * 1024 * 1024;

/// Everything the agent needs to start.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Name shown in listings; defaults to the host name.
    pub name: String,
    pub data_dir: PathBuf,
    /// Watch streams served at once (`--max-watchers`): each costs the
    /// fan-out a little per event, so their number is bounded.
    pub max_watchers: usize,
}
