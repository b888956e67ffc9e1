//! One pass of a replay as its parts share it: what the dispatcher
//! (`session`) and each connection's task (`task`) both hold — the pass's
//! context, a copy's gates, the items queued for a task, where outcomes go.
//! Both import this; neither imports the other's internals.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::budget::Hold;
use super::gates::{Gates, Relaxed};
use super::options::ReplayOptions;
use super::plan::Plan;
use super::progress::Progress;
use super::report::{ConnReport, RelaxReason, Relaxation};
use super::script::Action;
use super::source::Files;
use super::waits::Waits;
use crate::faults::ProxyFaults;
use crate::fds::FdBudget;
use crate::rewrite::Stats;

/// Where a pass reports what it finds, as it finds it: the replay's
/// report keeps totals and the detail it has room for.
pub trait Outcomes: Send + Sync {
    /// A connection (one copy, one pass) is done.
    fn connection(&self, r: ConnReport);
    /// A causal gate was released early.
    fn relaxation(&self, r: Relaxation);
    /// The pass could not read on (a damaged or vanished file).
    fn error(&self, e: String);
    /// What the rewriting rules did on a connection that ended.
    fn rules(&self, stats: &Stats);
}

/// Everything a replay pass needs, shared by its tasks.
pub struct Pass {
    pub plan: Arc<Plan>,
    pub files: Files,
    pub opts: Arc<ReplayOptions>,
    pub progress: Arc<Progress>,
    /// Network conditions for the replayed connections.
    pub faults: Arc<ProxyFaults>,
    pub outcomes: Arc<dyn Outcomes>,
    pub waits: Arc<Waits>,
    pub cancel: CancellationToken,
    pub pass: u32,
    pub t0: Instant,
    /// Data-path file descriptors: one per replayed connection.
    pub fds: FdBudget,
}

/// The gates of one copy, and the waiters to wake when they change.
pub struct SharedGates {
    gates: Mutex<Gates>,
    pub notify: Notify,
}

impl SharedGates {
    pub fn new(gates: Gates) -> Self {
        Self {
            gates: Mutex::new(gates),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Gates> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the gates and wakes the waiters if what they look at
    /// changed.
    pub fn with<R>(&self, f: impl FnOnce(&mut Gates) -> R) -> R {
        let mut g = self.lock();
        let before = g.head();
        let r = f(&mut g);
        let changed = before != g.head();
        drop(g);
        if changed {
            self.notify.notify_waiters();
        }
        r
    }
}

/// What a connection's task is handed, in log order.
pub enum Item {
    /// A client step.
    Step(Action),
    /// Server bytes of the recording (with rules: their recorded values).
    Recorded(Bytes),
}

/// An item queued for its connection's task.
pub struct Queued {
    pub g: u64,
    pub ts_ns: u64,
    pub step: u64,
    pub s2c_before: u64,
    pub item: Item,
    pub _hold: Hold,
}

impl Pass {
    /// Counts and reports a released gate; `report` is the held connection's
    /// when it is known (the dispatcher gives up bytes on its own).
    pub(super) fn relaxed(
        &self,
        copy: u32,
        conn: usize,
        r: Relaxed,
        report: Option<&mut ConnReport>,
    ) {
        let (held, awaited) = (&self.plan.conns[conn], &self.plan.conns[r.conn]);
        self.progress.relaxations.fetch_add(1, Ordering::Relaxed);
        let timeout = r.reason == RelaxReason::Timeout;
        if timeout {
            self.progress
                .server_timeouts
                .fetch_add(1, Ordering::Relaxed);
        }
        if let Some(report) = report {
            report.relaxations += 1;
            report.server_timeouts += u64::from(timeout);
        }
        tracing::debug!(
            awaited = awaited.rec_conn,
            held = held.rec_conn,
            reason = r.reason.as_str(),
            waited_us = r.waited.as_micros() as u64,
            "causal gate released"
        );
        self.outcomes.relaxation(Relaxation {
            recording: awaited.recording.to_string(),
            awaited_conn: awaited.rec_conn,
            copy,
            pass: self.pass,
            expected: r.expected,
            received: r.received,
            waited: r.waited,
            reason: r.reason,
            at: crate::timer::now().saturating_duration_since(self.t0),
            held_conn: held.rec_conn,
        });
    }
}
