//! A replay from its start to its final report: waits for `--at`, runs
//! the passes (`--loops`) one after the other, publishes progress once a
//! second, then writes the final report and keeps only its summary in
//! memory.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::info;

use super::collect::Collector;
use super::pass::Pass;
use super::registry::Replay;
use super::report::{ReplayReport, ReplayState};
use super::store;
use crate::events::{EventBody, EventBus, ReplayProgress};
use crate::faults::ProxyFaults;
use crate::fds::FdBudget;

/// Publishes progress once a second while `replay` runs.
async fn progress_loop(replay: Arc<Replay>, bus: EventBus, done: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = done.cancelled() => break,
            _ = every.tick() => bus.publish(None, replay.progress_event()),
        }
    }
}

impl Replay {
    /// Runs the replay from its (scheduled) start to its final report.
    pub(super) async fn run(self: Arc<Self>, bus: EventBus, fds: FdBudget) {
        let replay = self;
        let cancel = replay.cancel.clone();
        if let Some(at) = replay.opts.start_at {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = crate::timer::sleep_until_wall(at) => {}
            }
        }
        let started_at = SystemTime::now();
        let header = {
            let mut r = replay.lock();
            r.started_at = Some(started_at);
            if r.state == ReplayState::Scheduled {
                r.state = ReplayState::Running;
            }
            r.clone()
        };
        store::write(&replay.store, replay.accepted, header).await;
        let t_start = crate::timer::now();
        let done = CancellationToken::new();
        tokio::spawn(progress_loop(replay.clone(), bus.clone(), done.clone()));
        // One fault state for the whole replay, like one proxy: connection k of
        // the replay gets the same draws for the same seed.
        let faults = Arc::new(ProxyFaults::new(replay.opts.faults.clone()));
        let plan = replay.plan().unwrap_or_default();
        for pass in 0..replay.opts.loops {
            if cancel.is_cancelled() {
                break;
            }
            let p = Arc::new(Pass {
                plan: plan.clone(),
                files: replay.files.clone(),
                opts: replay.opts.clone(),
                progress: replay.progress.clone(),
                faults: faults.clone(),
                outcomes: replay.feed.clone(),
                waits: replay.waits.clone(),
                cancel: cancel.clone(),
                pass,
                t0: crate::timer::now(),
                fds: fds.clone(),
            });
            p.run().await;
            if replay.feed.error().is_some() {
                break;
            }
        }
        done.cancel();
        drop(plan);
        replay.plan.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut r = replay.lock().clone();
        replay.collector().fill(&mut r);
        replay.add_live(&mut r);
        r.duration = t_start.elapsed();
        r.waits = Vec::new();
        r.rules = replay.feed.rule_counts(replay.opts.rules.as_deref());
        r.unparsed_messages = replay.feed.unparsed();
        if let Some(e) = replay.feed.error() {
            r.error.get_or_insert(e);
        }
        r.state = if cancel.is_cancelled() {
            ReplayState::Stopped
        } else {
            ReplayState::Finished
        };
        info!(replay = %replay.id, state = r.state.as_str(), opened = r.opened, failed = r.failed,
              divergences = r.divergences, connections = r.connections_total, "replay ended");
        end(&replay, r).await;
        bus.publish(None, replay.progress_event());
    }

    fn progress_event(&self) -> EventBody {
        let r = self.summary();
        EventBody::Replay(ReplayProgress {
            id: self.id.clone(),
            state: r.state,
            planned: r.planned,
            opened: r.opened,
            failed: r.failed,
            finished: r.finished,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            expected_sent: r.expected_sent,
        })
    }
}

/// Publishes a replay's final report: written to its file, then only its
/// summary stays in memory (the whole one if the file could not be written).
async fn end(replay: &Replay, report: ReplayReport) {
    let saved = store::write(&replay.store, replay.accepted, report.clone()).await;
    {
        let mut r = replay.lock();
        *r = if saved { report.summary() } else { report };
        replay.saved.store(saved, Ordering::Release);
    }
    if saved {
        *replay.collector() = Collector::new();
    }
}
