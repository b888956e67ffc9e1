//! Following a started replay on one agent until it ends: GetReplay every
//! `POLL_INTERVAL` (each poll under `--timeout`), live totals shared with
//! the progress display, and on Ctrl-C a StopReplay followed by waiting for
//! the final report. A second Ctrl-C stops waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel::proto::{GetReplayRequest, ReplayReport, StopReplayRequest};
use tokio_util::sync::CancellationToken;

use crate::commands::replay::report::ReportExt;
use crate::error::AgentError;
use crate::fleet::AgentClient;

/// Time between two GetReplay calls on one agent.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Consecutive polls that may fail on the network (lost connection, no
/// answer in time) before the agent counts as failed; a refusal counts at
/// once.
pub(crate) const POLL_FAILURES_TOLERATED: u32 = 3;

/// How long the agent may take to stop a replay, beyond `--timeout`: it
/// waits up to 5 s for the replay's connections to close before answering.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to keep polling for the final report after StopReplay.
pub(crate) const FINAL_REPORT_WAIT: Duration = Duration::from_secs(10);

/// Progress of one replay, or of all of them summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) planned: u64,
    pub(crate) finished: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) expected_sent: u64,
}

impl Totals {
    pub(crate) fn of(report: &ReplayReport) -> Totals {
        Totals {
            planned: report.planned,
            finished: report.finished,
            bytes_sent: report.bytes_sent,
            expected_sent: report.expected_sent,
        }
    }

    fn add(self, other: Totals) -> Totals {
        Totals {
            planned: self.planned.saturating_add(other.planned),
            finished: self.finished.saturating_add(other.finished),
            bytes_sent: self.bytes_sent.saturating_add(other.bytes_sent),
            expected_sent: self.expected_sent.saturating_add(other.expected_sent),
        }
    }
}

/// The latest totals of every agent, written by the followers and summed
/// for the display. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Board(Arc<Mutex<Vec<Totals>>>);

impl Board {
    pub(crate) fn new(agents: usize) -> Board {
        Board(Arc::new(Mutex::new(vec![Totals::default(); agents])))
    }

    fn set(&self, index: usize, totals: Totals) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = all.get_mut(index) {
            *slot = totals;
        }
    }

    /// The sum over every agent.
    pub(crate) fn sum(&self) -> Totals {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().fold(Totals::default(), |sum, t| sum.add(*t))
    }
}

/// Ctrl-C, as two tokens: the first press asks to stop the replays, the
/// second to stop waiting for their final reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interrupt {
    pub(crate) stop: CancellationToken,
    pub(crate) abandon: CancellationToken,
}

impl Interrupt {
    /// Listens for Ctrl-C from now on (the process no longer dies on it).
    /// The listener ends with the returned handle.
    pub(crate) fn listen() -> (Interrupt, tokio::task::JoinHandle<()>) {
        let interrupt = Interrupt::default();
        let tokens = interrupt.clone();
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            tokens.stop.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                tokens.abandon.cancel();
            }
        });
        (interrupt, listener)
    }
}

/// How following a replay ended.
#[derive(Debug)]
pub(crate) struct Followed {
    /// The final report (the last one seen when waiting was abandoned).
    pub(crate) report: ReplayReport,
    /// Ctrl-C stopped the replay.
    pub(crate) interrupted: bool,
}

/// Follows replay `started` (as StartReplay answered) on `agent` until it
/// ends, publishing its totals on `board` at `index`.
///
/// # Errors
/// The agent refused a poll (the replay vanished: agent restarted), or
/// `POLL_FAILURES_TOLERATED` polls in a row failed; the error names the
/// replay so that `replay status` can pick it up.
pub(crate) async fn follow(
    agent: &AgentClient,
    started: ReplayReport,
    index: usize,
    board: &Board,
    interrupt: &Interrupt,
) -> Result<Followed, AgentError> {
    let id = started.id.clone();
    board.set(index, Totals::of(&started));
    let mut last = started;
    let mut failures = 0;
    loop {
        if ended(&last) {
            return Ok(Followed {
                report: last,
                interrupted: false,
            });
        }
        tokio::select! {
            () = interrupt.stop.cancelled() => {
                return stop(agent, last, index, board, interrupt).await;
            }
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        match get(agent, &id).await {
            Ok(report) => {
                failures = 0;
                board.set(index, Totals::of(&report));
                last = report;
            }
            Err(error @ AgentError::Rejected(_)) => return Err(lost(&id, error)),
            Err(error) => {
                failures += 1;
                if failures >= POLL_FAILURES_TOLERATED {
                    return Err(lost(&id, error));
                }
            }
        }
    }
}

/// Stops the replay and waits (bounded) for its final report.
async fn stop(
    agent: &AgentClient,
    mut last: ReplayReport,
    index: usize,
    board: &Board,
    interrupt: &Interrupt,
) -> Result<Followed, AgentError> {
    let id = last.id.clone();
    let request = StopReplayRequest { id: id.clone() };
    let stopped = tokio::select! {
        () = interrupt.abandon.cancelled() => None,
        stopped = agent.unary_within(agent.timeout() + STOP_GRACE, |mut client| async move {
            client.stop_replay(request).await
        }) => Some(stopped.map_err(|error| lost(&id, error))?),
    };
    if let Some(report) = stopped {
        board.set(index, Totals::of(&report));
        last = report;
    }
    let give_up = tokio::time::sleep(FINAL_REPORT_WAIT);
    tokio::pin!(give_up);
    while !ended(&last) {
        tokio::select! {
            () = interrupt.abandon.cancelled() => break,
            () = &mut give_up => break,
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        if let Ok(report) = get(agent, &id).await {
            board.set(index, Totals::of(&report));
            last = report;
        }
    }
    Ok(Followed {
        report: last,
        interrupted: true,
    })
}

fn ended(report: &ReplayReport) -> bool {
    report.ended()
}

async fn get(agent: &AgentClient, id: &str) -> Result<ReplayReport, AgentError> {
    let request = GetReplayRequest { id: id.to_owned() };
    agent
        .unary(|mut client| async move { client.get_replay(request).await })
        .await
}

/// The error for a replay we can no longer follow.
fn lost(id: &str, error: AgentError) -> AgentError {
    AgentError::Local(format!(
        "lost track of replay {id} ({}); `reelctl replay status {id}` may still find it",
        error.brief()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_sums_every_agent() {
        let board = Board::new(3);
        let report = |planned, finished, sent| ReplayReport {
            planned,
            finished,
            bytes_sent: sent,
            expected_sent: 100,
            ..ReplayReport::default()
        };
        board.set(0, Totals::of(&report(4, 1, 10)));
        board.set(2, Totals::of(&report(6, 6, 100)));
        board.set(7, Totals::of(&report(1, 1, 1))); // no such agent: ignored
        assert_eq!(
            board.sum(),
            Totals {
                planned: 10,
                finished: 7,
                bytes_sent: 110,
                expected_sent: 200
            }
        );
    }
}
