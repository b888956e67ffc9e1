//! One file per command group. Each command fans out over the selected agents
//! and returns typed results; `output` prints them.

pub(crate) mod agents;
pub(crate) mod export;
pub(crate) mod faults;
pub(crate) mod import;
pub(crate) mod proxy;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod rules;
pub(crate) mod stats;
pub(crate) mod watch;
