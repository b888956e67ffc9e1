//! `replay status ID`, `replay stop ID` and `replay ls`: following replays
//! that run on their own (`--detach`, or started by someone else).

use reel::proto::{GetReplayRequest, ListReplaysRequest, StopReplayRequest};
use serde::Serialize;

use super::follow::STOP_GRACE;
use reel::proto::ReplayReport;

use super::report::ReportExt;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::settings::Settings;
use crate::timestamp::UnixNanos;

/// `replay status` and `replay stop`: one replay's report.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub(crate) struct ReplayShown(pub(crate) ReplayReport);

impl ReplayShown {
    /// Once the replay has ended, the same rules as a waited replay (its
    /// divergences exist only if it verified, so they count).
    pub(crate) fn problems(&self) -> Vec<String> {
        if self.0.ended() {
            self.0.problems(true)
        } else {
            Vec::new()
        }
    }
}

/// One line of `replay ls`: the report without its connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReplaySummary {
    pub(crate) id: String,
    pub(crate) state: &'static str,
    pub(crate) mode: &'static str,
    pub(crate) speed: f64,
    pub(crate) recordings: Vec<String>,
    pub(crate) scheduled_start: Option<UnixNanos>,
    pub(crate) started_at: Option<UnixNanos>,
    pub(crate) duration_ms: u64,
    pub(crate) planned: u64,
    pub(crate) opened: u64,
    pub(crate) failed: u64,
    pub(crate) finished: u64,
    pub(crate) divergences: u64,
    pub(crate) error: Option<String>,
    /// Connection reports in all (connections x copies x passes).
    pub(crate) connections_total: u64,
    pub(crate) relaxations: u64,
}

impl From<ReplayReport> for ReplaySummary {
    fn from(r: ReplayReport) -> ReplaySummary {
        ReplaySummary {
            state: r.state_word(),
            mode: r.mode_word(),
            scheduled_start: r.scheduled_start(),
            started_at: r.started_at(),
            error: r.error_text().map(str::to_owned),
            id: r.id,
            speed: r.speed,
            recordings: r.recordings,
            duration_ms: r.duration_ms,
            planned: r.planned,
            opened: r.opened,
            failed: r.failed,
            finished: r.finished,
            divergences: r.divergences,
            connections_total: r.connections_total,
            relaxations: r.relaxations,
        }
    }
}

/// `replay ls`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReplayList {
    pub(crate) replays: Vec<ReplaySummary>,
}

/// `replay status ID` on every agent.
pub(crate) async fn status(settings: &Settings, id: &str) -> Report<ReplayShown> {
    let id = id.to_owned();
    fleet::run_all(settings, |agent| {
        let request = GetReplayRequest { id: id.clone() };
        async move {
            let report = agent
                .unary(|mut client| async move { client.get_replay(request).await })
                .await?;
            Ok(ReplayShown(report))
        }
    })
    .await
}

/// `replay stop ID` on every agent: the agent answers once the replay's
/// connections have closed (up to a few seconds), hence the longer deadline.
pub(crate) async fn stop(settings: &Settings, id: &str) -> Report<ReplayShown> {
    let id = id.to_owned();
    fleet::run_all(settings, |agent| {
        let request = StopReplayRequest { id: id.clone() };
        async move {
            let deadline = agent.timeout() + STOP_GRACE;
            let report = agent
                .unary_within(deadline, |mut client| async move {
                    client.stop_replay(request).await
                })
                .await?;
            Ok(ReplayShown(report))
        }
    })
    .await
}

/// Summaries asked for per ListReplays call; `replay ls` follows every page.
const LS_PAGE_SIZE: u32 = 100;

/// `replay ls` on every agent.
pub(crate) async fn list(settings: &Settings) -> Report<ReplayList> {
    fleet::run_all(settings, |agent| async move { list_all(&agent).await }).await
}

/// Every page of one agent's replays, newest first, one request per page.
async fn list_all(agent: &AgentClient) -> Result<ReplayList, AgentError> {
    let mut replays = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListReplaysRequest {
            page_size: LS_PAGE_SIZE,
            page_token: page_token.clone(),
        };
        let response = agent
            .unary(|mut client| async move { client.list_replays(request).await })
            .await?;
        replays.extend(response.replays.into_iter().map(ReplaySummary::from));
        if response.next_page_token.is_empty() {
            return Ok(ReplayList { replays });
        }
        if response.next_page_token == page_token {
            return Err(AgentError::Protocol(
                "ListReplays gave the same next_page_token twice".into(),
            ));
        }
        page_token = response.next_page_token;
    }
}
