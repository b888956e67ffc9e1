//! One replayed connection of one copy: opens at its recorded offset, then
//! takes its client steps as they are read, each at its instant (paced
//! modes), after the server bytes that preceded it on this connection
//! (`reactive`, `causal`: a hard wait bounded by `--server-timeout`) and,
//! in `causal`, after every earlier event of the other connections (a soft
//! gate, see `gates`). Send instants are anchored (`t0 + ts / speed`),
//! never sums of sleeps, so error does not accumulate.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::conn::{LiveConn, OpenOptions};
use super::hold::Me;
use super::options::{Mode, ReplayOptions};
use super::outbound::{ForReader, Outbound};
use super::pass::{Item, Pass, Queued, SharedGates};
use super::plan::ConnPlan;
use super::reader::{Expected, Observer};
use super::report::{ConnReport, UdpCounts};
use super::script::Action;
use super::units;
use crate::format::Transport;
use crate::rewrite::SharedCaptures;

/// What a connection task starts with.
pub struct Start {
    pub copy: u32,
    pub conn: usize,
    /// The OPEN's place in the log and offset.
    pub g: u64,
    pub ts_ns: u64,
    pub steps: mpsc::UnboundedReceiver<Queued>,
    pub expected: Option<Expected>,
    pub gates: Option<Arc<SharedGates>>,
    /// The copy's `scope = "replay"` capture values.
    pub captures: Arc<SharedCaptures>,
}

/// Sleeps until `at` (precisely: see `timer`); false when cancelled first.
async fn sleep_until(at: Instant, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = crate::timer::sleep_until(at) => true,
    }
}

fn new_report(c: &ConnPlan, copy: u32, pass: u32, target: &str) -> ConnReport {
    ConnReport {
        recording: c.recording.to_string(),
        rec_conn: c.rec_conn,
        copy,
        pass,
        target: target.to_string(),
        mid_session: c.mid_session,
        expected_sent: c.c2s_total,
        expected_received: c.s2c_total,
        steps_total: usize::try_from(c.steps).unwrap_or(usize::MAX),
        udp: (c.transport == Transport::Udp).then(|| UdpCounts {
            expected_sent: c.c2s_datagrams,
            expected_received: c.s2c_datagrams,
            // Until the session says otherwise, every one is missing.
            missing: c.s2c_datagrams,
            ..UdpCounts::default()
        }),
        ..ConnReport::default()
    }
}

/// A connection with nowhere to go: no `--target`, and the recording
/// (an import, say) names no upstream for it.
#[derive(Debug, thiserror::Error)]
#[error("the recording names no upstream for this connection; give a target")]
struct NoTarget;

fn target_of<'a>(opts: &'a ReplayOptions, c: &'a ConnPlan) -> Result<&'a str, NoTarget> {
    match opts.target.as_deref() {
        Some(t) => Ok(t),
        None if !c.upstream.is_empty() => Ok(&c.upstream),
        None => Err(NoTarget),
    }
}

impl Pass {
    fn due(&self, ts_ns: u64) -> Instant {
        self.t0 + self.opts.scaled(ts_ns)
    }

    /// Runs one connection's script; its report when it is done.
    pub(super) async fn script(self: Arc<Self>, start: Start) -> ConnReport {
        let Start {
            copy,
            conn,
            g,
            ts_ns,
            mut steps,
            expected,
            gates,
            captures,
        } = start;
        let me = Me { copy, conn, gates };
        let transport = self.plan.conns[conn].transport;
        let (mut outbound, for_reader) = match self.opts.rules.clone() {
            Some(r) => {
                let (ob, for_reader) = Outbound::new(r, captures, transport);
                (Some(ob), Some(for_reader))
            }
            None => (None, None),
        };
        let report = self
            .run_script(
                &me,
                (g, ts_ns),
                &mut steps,
                expected,
                (outbound.as_mut(), for_reader),
            )
            .await;
        if let Some(ob) = &outbound {
            self.outcomes.rules(&ob.stats());
        }
        if let Some(gt) = &me.gates {
            gt.with(|x| x.end(conn));
        }
        self.waits.clear((self.pass, copy, conn));
        report
    }

    async fn run_script(
        &self,
        me: &Me,
        (g, ts_ns): (u64, u64),
        steps: &mut mpsc::UnboundedReceiver<Queued>,
        expected: Option<Expected>,
        (mut ob, for_reader): (Option<&mut Outbound>, Option<ForReader>),
    ) -> ConnReport {
        let c = &self.plan.conns[me.conn];
        let opts = &self.opts;
        let cancel = &self.cancel;
        let target = match target_of(opts, c) {
            Ok(t) => t.to_string(),
            Err(e) => {
                let mut r = new_report(c, me.copy, self.pass, "");
                r.error = Some(e.to_string());
                return r;
            }
        };
        let mut report = new_report(c, me.copy, self.pass, &target);
        if opts.paced() && !sleep_until(self.due(ts_ns), cancel).await {
            return report;
        }
        if !self.cross_gate(me, g, 0, &mut report).await {
            return report;
        }
        let observer: Option<Observer> = me.gates.clone().map(|gt| {
            let conn = me.conn;
            Arc::new(move |total: Option<u64>| match total {
                Some(t) => gt.with(|x| x.received(conn, t, crate::timer::now())),
                // The server closed: what it did not send will not come,
                // so this connection holds nobody any more.
                None => gt.with(|x| x.end(conn)),
            }) as Observer
        });
        let options = OpenOptions {
            verify: expected,
            observer,
            framing: units::framing_of(opts.rules.as_deref()),
            rewrite: for_reader,
            stall: opts.server_timeout,
            progress: self.progress.clone(),
            t0: self.t0,
            faults: self.faults.connection(),
            fds: self.fds.clone(),
        };
        let mut live = match LiveConn::open(c, report, &target, options, cancel).await {
            Ok(l) => l,
            Err(r) => return r,
        };
        // An action is done once it has happened (connected, written), so
        // a connection the log puts after it cannot overtake it.
        if let Some(gt) = &me.gates {
            gt.with(|x| x.acted(me.conn, g, crate::timer::now()));
        }
        loop {
            let q = match steps.try_recv() {
                Ok(q) => Some(q),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Waiting for the log to reach this connection's next
                    // step counts as waiting, for the stall rule.
                    if let Some(gt) = &me.gates {
                        gt.with(|x| x.set_waiting(me.conn, true));
                    }
                    let q = tokio::select! {
                        _ = cancel.cancelled() => break,
                        q = steps.recv() => q,
                    };
                    if let Some(gt) = &me.gates {
                        gt.with(|x| x.set_waiting(me.conn, false));
                    }
                    q
                }
            };
            // No CLOSE in the recording (it ended first): finish here.
            let Some(q) = q else { break };
            let action = match q.item {
                Item::Recorded(chunk) => {
                    if let Some(ob) = ob.as_deref_mut() {
                        ob.recorded_server(&chunk);
                    }
                    continue;
                }
                Item::Step(action) => action,
            };
            if matches!(action, Action::Send(_)) && live.server_closed() {
                break;
            }
            let due = self.due(q.ts_ns);
            // A UDP session's CLOSE is the proxy's idle timeout (or the
            // recording's stop), not something the client did: the session
            // ends after its last datagram, once the server's came.
            let paced =
                opts.paced() && !(c.transport == Transport::Udp && matches!(action, Action::Close));
            if paced && !sleep_until(due, cancel).await {
                break;
            }
            if matches!(opts.mode, Mode::Reactive | Mode::Causal)
                && !self.await_server(me, &mut live, q.step, q.s2c_before).await
            {
                break;
            }
            if !self.cross_gate(me, q.g, q.step, &mut live.report).await {
                break;
            }
            if paced {
                let late = crate::timer::now().saturating_duration_since(due);
                live.report.lateness.record(late);
                self.progress.lateness.record(late);
            }
            let go_on = match ob.as_deref_mut() {
                Some(ob) => self.take_rewritten(&mut live, ob, &action).await,
                None => self.take_step(&mut live, &action).await,
            };
            if let Some(gt) = &me.gates {
                gt.with(|x| x.acted(me.conn, q.g, crate::timer::now()));
            }
            if !go_on {
                break;
            }
        }
        if let Some(gt) = &me.gates {
            gt.with(|x| x.set_waiting(me.conn, true));
        }
        live.finish(c.s2c_units, opts.server_timeout, cancel).await
    }

    /// With rules: sends a recorded client chunk message by message, each
    /// rewritten; a message that needs live values not known yet waits for
    /// them in `reactive`/`causal` (what went before it is sent first: the
    /// server may need it to answer). False when the script must end here.
    async fn take_rewritten(
        &self,
        live: &mut LiveConn,
        ob: &mut Outbound,
        action: &Action,
    ) -> bool {
        let data = match action {
            Action::Send(data) => data,
            Action::ShutdownWrite | Action::Close => {
                if let Some(rest) = ob.flush()
                    && !self.send(live, &rest).await
                {
                    return false;
                }
                return self.take_step(live, action).await;
            }
        };
        let waits = matches!(self.opts.mode, Mode::Reactive | Mode::Causal);
        let mut out = BytesMut::new();
        for m in ob.messages(data) {
            if waits && ob.needs(&m) {
                if !out.is_empty() && !self.send(live, &out.split()).await {
                    return false;
                }
                if !ob
                    .wait_values(&m, self.opts.server_timeout, &self.cancel)
                    .await
                {
                    if self.cancel.is_cancelled() {
                        return false;
                    }
                    if !live.server_closed() {
                        live.report.server_timeouts += 1;
                        self.progress
                            .server_timeouts
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            ob.rewrite(&m, &mut out);
        }
        if !out.is_empty() && !self.send(live, &out).await {
            return false;
        }
        live.report.steps_done += 1;
        true
    }

    /// Sends bytes; false (with the error in the report) when it failed.
    async fn send(&self, live: &mut LiveConn, data: &[u8]) -> bool {
        if let Err(e) = live.send(data, &self.cancel).await {
            if !self.cancel.is_cancelled() {
                live.report.error = Some(format!(
                    "write failed after {} bytes: {e}",
                    live.report.bytes_sent
                ));
            }
            return false;
        }
        true
    }

    /// Does one client action; false when the script must end here.
    async fn take_step(&self, live: &mut LiveConn, action: &Action) -> bool {
        match action {
            Action::Send(data) => {
                if !self.send(live, data).await {
                    return false;
                }
            }
            Action::ShutdownWrite => live.shutdown_write().await,
            Action::Close => {
                live.report.steps_done += 1;
                return false;
            }
        }
        live.report.steps_done += 1;
        true
    }
}
