//! Running one pass of a replay: the recordings are read as the pass goes
//! (`source`), and each event is handed to the task of its connection (one
//! per connection and copy, spawned at its OPEN), within the look-ahead
//! budget. In `causal` mode every copy also has its gates, fed here in log
//! order, so a connection's action knows what every earlier event was.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use bytes::Bytes;

use super::budget::{Budget, Hold};
use super::gates::{Expect, Gates};
use super::options::Mode;
pub use super::pass::{Item, Outcomes, Pass, Queued, SharedGates};
use super::report::ConnReport;
use super::script::{Action, Event, EventKind};
use super::source::{self};
use super::task::Start;
use super::units;
use crate::rewrite::SharedCaptures;

/// The dispatcher's handle on one running connection task.
struct Handle {
    steps: mpsc::UnboundedSender<Queued>,
    /// Recorded server chunks for `verify`.
    expected: Option<mpsc::UnboundedSender<(Bytes, Hold)>>,
}

/// One copy's connections and gates.
struct Copy {
    handles: HashMap<usize, Handle>,
    gates: Option<Arc<SharedGates>>,
    /// Values of `scope = "replay"` captures, shared by the copy's
    /// connections.
    captures: Arc<SharedCaptures>,
}

impl Pass {
    /// Hands a recorded server chunk to a verifying connection. When the
    /// look-ahead budget has no room for it within `--server-timeout`
    /// (servers far behind the recording hold it all), the connection
    /// stops verifying instead, and reports that as its divergence: a
    /// server behind must not stop the reading of what could let it catch
    /// up. False when the replay was stopped.
    async fn feed_expected(&self, h: &mut Handle, payload: &Bytes, budget: &Budget) -> bool {
        let Some(tx) = &h.expected else {
            return true;
        };
        let room = async {
            let bytes = budget.chunk(payload.len(), &self.cancel).await?;
            budget.entry(&bytes, &self.cancel).await
        };
        let hold = tokio::time::timeout(self.opts.server_timeout, room).await;
        match hold {
            Ok(Some(hold)) => {
                if tx.send((payload.clone(), hold)).is_err() {
                    h.expected = None;
                }
            }
            Ok(None) => return false,
            Err(_) => h.expected = None,
        }
        true
    }

    /// Runs the pass to its end; reports go to `outcomes` as connections end.
    pub async fn run(self: Arc<Self>) {
        let max_idle = self
            .opts
            .max_idle
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let framing = units::framing_of(self.opts.rules.as_deref());
        let mut events = source::stream(self.files.clone(), self.plan.clone(), max_idle, framing);
        let budget = Budget::default();
        let causal = self.opts.mode == Mode::Causal;
        let mut copies: Vec<Copy> = (0..self.opts.multiply)
            .map(|_| Copy {
                handles: HashMap::new(),
                captures: Arc::default(),
                gates: causal.then(|| {
                    Arc::new(SharedGates::new(Gates::new(
                        crate::timer::now(),
                        self.opts.server_timeout,
                    )))
                }),
            })
            .collect();
        let mut tasks = JoinSet::new();
        'read: loop {
            let batch = tokio::select! {
                _ = self.cancel.cancelled() => break,
                b = events.recv() => b,
            };
            let batch = match batch {
                None => break,
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    self.outcomes
                        .error(format!("reading the recordings failed: {e}"));
                    break;
                }
            };
            for ev in batch {
                if !self.dispatch(ev, &mut copies, &mut tasks, &budget).await {
                    break 'read;
                }
                while let Some(r) = tasks.try_join_next() {
                    self.collect(r);
                }
            }
        }
        drop(events);
        // Tasks whose recording ended without a CLOSE finish on their own
        // once their queue is closed.
        drop(copies);
        while let Some(r) = tasks.join_next().await {
            self.collect(r);
        }
    }

    fn collect(&self, r: Result<ConnReport, tokio::task::JoinError>) {
        match r {
            Ok(report) => self.outcomes.connection(report),
            Err(e) => tracing::error!(error = %e, "replay task failed"),
        }
    }

    /// Hands one event to every copy; false when the replay was stopped.
    async fn dispatch(
        self: &Arc<Self>,
        ev: Event,
        copies: &mut [Copy],
        tasks: &mut JoinSet<ConnReport>,
        budget: &Budget,
    ) -> bool {
        // A step's bytes are held until it is taken; expected server
        // bytes only by a verifying connection (`feed_expected`).
        let len = match &ev.kind {
            EventKind::Step {
                action: Action::Send(b),
                ..
            } => b.len(),
            _ => 0,
        };
        let Some(bytes) = budget.chunk(len, &self.cancel).await else {
            return false;
        };
        let verify = self.opts.verify;
        for (copy, c) in copies.iter_mut().enumerate() {
            let copy = copy as u32;
            match &ev.kind {
                EventKind::Open => {
                    let (steps_tx, steps_rx) = mpsc::unbounded_channel();
                    let (exp_tx, exp_rx) = if verify {
                        let (t, r) = mpsc::unbounded_channel();
                        (Some(t), Some(r))
                    } else {
                        (None, None)
                    };
                    if let Some(g) = &c.gates {
                        g.with(|gt| {
                            gt.open(ev.conn, crate::timer::now());
                            gt.push(ev.conn, ev.g, None, crate::timer::now())
                        });
                    }
                    let me = self.clone();
                    let start = Start {
                        copy,
                        conn: ev.conn,
                        g: ev.g,
                        ts_ns: ev.ts_ns,
                        steps: steps_rx,
                        expected: exp_rx,
                        gates: c.gates.clone(),
                        captures: c.captures.clone(),
                    };
                    tasks.spawn(async move { me.script(start).await });
                    c.handles.insert(
                        ev.conn,
                        Handle {
                            steps: steps_tx,
                            expected: exp_tx,
                        },
                    );
                }
                EventKind::Step {
                    step,
                    s2c_before,
                    action,
                } => {
                    if !c.handles.contains_key(&ev.conn) {
                        continue;
                    }
                    let Some(hold) = budget.entry(&bytes, &self.cancel).await else {
                        return false;
                    };
                    if let Some(g) = &c.gates {
                        g.with(|gt| gt.push(ev.conn, ev.g, None, crate::timer::now()));
                    }
                    let q = Queued {
                        g: ev.g,
                        ts_ns: ev.ts_ns,
                        step: *step,
                        s2c_before: *s2c_before,
                        item: Item::Step(action.clone()),
                        _hold: hold,
                    };
                    if matches!(action, Action::Close) {
                        if let Some(h) = c.handles.remove(&ev.conn) {
                            let _ = h.steps.send(q);
                        }
                    } else if let Some(h) = c.handles.get(&ev.conn) {
                        let _ = h.steps.send(q);
                    }
                }
                EventKind::Expect {
                    payload,
                    total,
                    answer_ns,
                } => {
                    if let Some(h) = c.handles.get_mut(&ev.conn)
                        && !self.feed_expected(h, payload, budget).await
                    {
                        return false;
                    }
                    if self.opts.rules.is_some()
                        && let Some(h) = c.handles.get(&ev.conn)
                    {
                        let Some(hold) = budget.entry(&None, &self.cancel).await else {
                            return false;
                        };
                        let _ = h.steps.send(Queued {
                            g: ev.g,
                            ts_ns: ev.ts_ns,
                            step: 0,
                            s2c_before: 0,
                            item: Item::Recorded(payload.clone()),
                            _hold: hold,
                        });
                    }
                    if let Some(g) = &c.gates {
                        let expect = Expect {
                            bytes: *total,
                            answer: self.opts.scaled(*answer_ns),
                        };
                        let given_up =
                            g.with(|gt| gt.push(ev.conn, ev.g, Some(expect), crate::timer::now()));
                        if let Some(r) = given_up {
                            self.relaxed(copy, ev.conn, r, None);
                        }
                    }
                }
            }
        }
        true
    }
}
