//! `reelctl replay REC...`: runs in steps, each on every agent still in the
//! running: upload the local files named as REC where they are missing
//! (`local`), copy the recordings where they are missing (`--spread`),
//! measure the clocks (`--at`), start, then follow every replay until it
//! ends (`follow`) while an `Observer` shows progress.

use reel::proto::ReplayReport;
use serde::Serialize;

use super::follow::{self, Board, Interrupt, Totals};
use super::local;
use super::report::ReportExt;
use super::request::{ReplayUsageError, request};
use super::spread::{self, Copied, Pushed, Shard};
use crate::args::ReplayStartArgs;
use crate::clock::{self, Estimate};
use crate::fleet::{self, Outcome, Report, map_ok, ready_all};
use crate::schedule::{self, Coordinated, Skew};
use crate::settings::Settings;

/// How often the observer hears about progress.
const PROGRESS_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// What a running replay tells the user as it goes; `output` implements it.
pub(crate) trait Observer {
    /// Recordings were copied to agents that lacked them (local files, or
    /// `--spread`).
    fn pushed(&self, pushed: &[Pushed]);
    /// The summed progress of every agent, often.
    fn progress(&self, totals: Totals);
    /// Ctrl-C: the replays are being stopped.
    fn interrupted(&self);
    /// Waiting is over; reports follow.
    fn done(&self);
}

/// One agent's replay, followed to its end.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReplayOutcome {
    #[serde(flatten)]
    pub(crate) report: ReplayReport,
    /// With `--at`: the start on the local clock and the clock offset.
    #[serde(flatten)]
    pub(crate) coordinated: Option<Coordinated>,
    /// With `--spread`: this agent's share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shard: Option<Shard>,
    /// With `--spread` or local files: recordings copied to this agent
    /// before the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pushed: Option<Vec<Copied>>,
    /// Whether divergences fail the run.
    #[serde(skip)]
    pub(crate) verify: bool,
    /// Ctrl-C stopped it.
    #[serde(skip)]
    pub(crate) interrupted: bool,
}

impl ReplayOutcome {
    /// Why this agent's replay fails the run; empty when it does not.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = self.report.problems(self.verify);
        if self.interrupted {
            problems.insert(0, format!("replay {} stopped by Ctrl-C", self.report.id));
        }
        problems
    }
}

/// `replay --detach`: what was started where.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DetachedReplay {
    pub(crate) id: String,
    pub(crate) state: &'static str,
    #[serde(flatten)]
    pub(crate) coordinated: Option<Coordinated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shard: Option<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pushed: Option<Vec<Copied>>,
}

/// What `replay` did: followed every replay, or started them and left.
#[derive(Debug)]
pub(crate) enum Replayed {
    Waited {
        report: Report<ReplayOutcome>,
        /// With `--at`.
        skew: Option<Skew>,
    },
    Detached {
        report: Report<DetachedReplay>,
        skew: Option<Skew>,
    },
}

/// An agent ready to start, with what the earlier steps found.
struct Ready {
    pushed: Option<Vec<Copied>>,
    estimate: Option<Estimate>,
    shard: Option<Shard>,
}

/// An agent whose replay was accepted.
struct Started {
    report: ReplayReport,
    ready: Ready,
}

/// Runs `replay REC...`.
///
/// # Errors
/// Usage errors, found before anything starts (the deadline passing while
/// recordings are copied is found after the copies).
pub(crate) async fn run(
    settings: &Settings,
    args: &ReplayStartArgs,
    observer: &dyn Observer,
) -> Result<Replayed, ReplayUsageError> {
    let (recordings, files) =
        local::resolve(&args.recordings).map_err(ReplayUsageError::Recording)?;
    let template = request(args, &recordings)?;
    let deadline = match args.at {
        Some(at) => Some(at.deadline(clock::now_unix_ns())?),
        None => None,
    };
    let ready = ready_all(settings);
    let (copied, mut pushed) = if files.is_empty() {
        (map_ok(ready, |()| Vec::new()), Vec::new())
    } else {
        local::upload_missing(settings, ready, &files).await
    };
    let copied = if args.spread {
        let (copied, spread) = spread::distribute(settings, copied, &template.recordings).await;
        pushed.extend(spread);
        copied
    } else {
        copied
    };
    if !pushed.is_empty() {
        observer.pushed(&pushed);
    }
    let copied = if args.spread || !files.is_empty() {
        map_ok(copied, Some)
    } else {
        map_ok(copied, |_| None)
    };
    let measured = match deadline {
        Some(_) => clock::measure_all(settings, copied).await,
        None => map_ok(copied, |copied| (copied, None)),
    };
    if let Some(deadline) = deadline {
        schedule::still_ahead(deadline, clock::now_unix_ns())?;
    }
    let shards = if args.spread {
        let ok: Vec<bool> = measured.iter().map(|o| o.result.is_ok()).collect();
        spread::assign_shards(&ok)
    } else {
        vec![None; measured.len()]
    };
    let prepared: Report<Ready> = measured
        .into_iter()
        .zip(shards)
        .map(|(o, shard)| Outcome {
            agent: o.agent,
            result: o.result.map(|(pushed, estimate)| Ready {
                pushed,
                estimate,
                shard,
            }),
        })
        .collect();
    let started = fleet::then_all(settings, prepared, |agent, ready| {
        let mut request = template.clone();
        if let Some(shard) = ready.shard {
            request.shard_index = shard.index;
            request.shard_count = shard.count;
        }
        if let (Some(deadline), Some(estimate)) = (deadline, ready.estimate) {
            request.start_at_unix_ns = schedule::agent_deadline(deadline, estimate.offset_ns);
        }
        async move {
            let report = agent
                .unary(|mut client| async move { client.start_replay(request).await })
                .await?;
            Ok(Started { report, ready })
        }
    })
    .await;
    if args.detach {
        let report = map_ok(started, |s| DetachedReplay {
            state: s.report.state_word(),
            id: s.report.id,
            coordinated: s
                .ready
                .estimate
                .map(|e| Coordinated::new(s.report.started_at_unix_ns, e.offset_ns)),
            shard: s.ready.shard,
            pushed: s.ready.pushed,
        });
        let skew = deadline.map(|_| Skew::of(report.iter().filter_map(detached_start)));
        return Ok(Replayed::Detached { report, skew });
    }
    let report = wait_all(settings, started, args.verify, observer).await;
    let skew = deadline.map(|_| {
        Skew::of(
            report
                .iter()
                .filter_map(|o| o.result.as_ref().ok()?.coordinated.as_ref()),
        )
    });
    Ok(Replayed::Waited { report, skew })
}

fn detached_start(outcome: &Outcome<DetachedReplay>) -> Option<&Coordinated> {
    outcome.result.as_ref().ok()?.coordinated.as_ref()
}

/// Follows every started replay to its end, feeding the observer.
async fn wait_all(
    settings: &Settings,
    started: Report<Started>,
    verify: bool,
    observer: &dyn Observer,
) -> Report<ReplayOutcome> {
    let board = Board::new(started.len());
    let (interrupt, listener) = Interrupt::listen();
    let indexed: Report<(usize, Started)> = started
        .into_iter()
        .enumerate()
        .map(|(i, o)| Outcome {
            agent: o.agent,
            result: o.result.map(|s| (i, s)),
        })
        .collect();
    let follow_all = fleet::then_all(settings, indexed, |agent, (index, started)| {
        let board = board.clone();
        let interrupt = interrupt.clone();
        async move {
            let followed =
                follow::follow(&agent, started.report, index, &board, &interrupt).await?;
            let ready = started.ready;
            Ok(ReplayOutcome {
                coordinated: ready
                    .estimate
                    .map(|e| Coordinated::new(followed.report.started_at_unix_ns, e.offset_ns)),
                report: followed.report,
                shard: ready.shard,
                pushed: ready.pushed,
                verify,
                interrupted: followed.interrupted,
            })
        }
    });
    tokio::pin!(follow_all);
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    let mut told = false;
    let report = loop {
        tokio::select! {
            report = &mut follow_all => break report,
            () = interrupt.stop.cancelled(), if !told => {
                told = true;
                observer.interrupted();
            }
            _ = tick.tick() => observer.progress(board.sum()),
        }
    };
    listener.abort();
    observer.progress(board.sum());
    observer.done();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_replay_always_fails() {
        let view = super::super::report::tests::sample();
        let outcome = ReplayOutcome {
            report: view,
            coordinated: None,
            shard: None,
            pushed: None,
            verify: false,
            interrupted: false,
        };
        assert!(outcome.problems().is_empty());
        let outcome = ReplayOutcome {
            interrupted: true,
            ..outcome
        };
        assert_eq!(outcome.problems(), ["replay rp-1 stopped by Ctrl-C"]);
    }

    #[test]
    fn outcome_json_adds_coordination_shard_and_copies() {
        let outcome = ReplayOutcome {
            report: super::super::report::tests::sample(),
            coordinated: Some(Coordinated::new(1_000_000_000_250_000, 250_000)),
            shard: Some(Shard { index: 1, count: 2 }),
            pushed: Some(vec![Copied {
                id: "r1".into(),
                from: "h:1".into(),
                size_bytes: 42,
            }]),
            verify: true,
            interrupted: false,
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["id"], "rp-1");
        assert_eq!(json["clock_offset_us"], 250);
        assert_eq!(json["started_at_local"], "1970-01-12T13:46:40.000000000Z");
        assert_eq!(json["shard"], serde_json::json!({"index": 1, "count": 2}));
        assert_eq!(json["pushed"][0]["from"], "h:1");
        assert!(json.get("verify").is_none());
    }
}
