//! `reelctl agents`: identity, version, uptime and clock offset of each agent.

use serde::Serialize;

use crate::clock;
use crate::fleet::{self, Report};
use crate::settings::Settings;

/// What one agent says about itself, with its measured clock offset.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AgentSummary {
    /// The agent's configured name (not the fleet file's).
    pub(crate) name: String,
    /// Stable across the agent's restarts.
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) uptime_ms: u64,
    /// Agent clock minus ours, from the round trip with the smallest rtt.
    pub(crate) clock_offset_us: i64,
    /// Round trip of that sample: the offset is exact within ±rtt/2.
    pub(crate) rtt_us: u64,
    /// Running proxies.
    pub(crate) proxies: u32,
    /// Recordings on disk, finished or not.
    pub(crate) recordings: u32,
    /// Shown with `-v` only.
    #[serde(skip)]
    pub(crate) data_dir: String,
}

/// Queries every agent, its clock measured as for a coordinated start.
pub(crate) async fn run(settings: &Settings) -> Report<AgentSummary> {
    let ready = fleet::indexed(fleet::ready_all(settings));
    fleet::then_all(settings, ready, |agent, (index, ())| async move {
        let (info, estimate) = clock::measure(&agent, index).await?;
        Ok(AgentSummary {
            name: info.name,
            id: info.agent_id,
            version: info.version,
            uptime_ms: info.uptime_ms,
            clock_offset_us: estimate.offset_us(),
            rtt_us: estimate.rtt_us(),
            proxies: info.proxies,
            recordings: info.recordings,
            data_dir: info.data_dir,
        })
    })
    .await
}
