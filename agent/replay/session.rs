//! Running a plan: one task per connection for `timed`, `fast` and
//! `reactive`; one walker over the global log per copy for `causal`. Send
//! instants are anchored (`t0 + ts / speed`), never sums of sleeps, so error
//! does not accumulate over a long recording.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::conn::{Live, OpenOptions, Progress};
use super::options::{Mode, ReplayOptions};
use super::plan::{ConnPlan, LogEvent, Plan, StepKind};
use super::report::ConnReport;
use crate::faults::ProxyFaults;

/// Everything a replay pass needs, shared by its tasks.
pub struct Pass {
    pub plan: Arc<Plan>,
    pub opts: Arc<ReplayOptions>,
    pub progress: Arc<Progress>,
    /// Network conditions for the replayed connections.
    pub faults: Arc<ProxyFaults>,
    pub cancel: CancellationToken,
    pub pass: u32,
    pub t0: Instant,
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
        steps_total: c.steps.len(),
        ..ConnReport::default()
    }
}

fn target_of<'a>(opts: &'a ReplayOptions, c: &'a ConnPlan) -> Result<&'a str, String> {
    match opts.target.as_deref() {
        Some(t) => Ok(t),
        None if !c.upstream.is_empty() => Ok(&c.upstream),
        None => Err("the recording names no upstream for this connection; give a target".into()),
    }
}

impl Pass {
    /// Runs every connection of the plan, `multiply` times; returns their reports.
    pub async fn run(self: Arc<Self>) -> Vec<ConnReport> {
        let mut set = JoinSet::new();
        for copy in 0..self.opts.multiply {
            if self.opts.mode == Mode::Causal {
                let me = self.clone();
                set.spawn(async move { me.walk(copy).await });
            } else {
                for idx in 0..self.plan.conns.len() {
                    let me = self.clone();
                    set.spawn(async move { vec![me.script(idx, copy).await] });
                }
            }
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(reports) => out.extend(reports),
                Err(e) => tracing::error!(error = %e, "replay task failed"),
            }
        }
        out.sort_by(|a, b| {
            (a.copy, &a.recording, a.rec_conn).cmp(&(b.copy, &b.recording, b.rec_conn))
        });
        out
    }

    fn open_options(&self) -> OpenOptions {
        OpenOptions {
            verify: self.opts.verify,
            progress: self.progress.clone(),
            t0: self.t0,
            faults: self.faults.connection(),
        }
    }

    fn due(&self, ts_ns: u64) -> Instant {
        self.t0 + self.opts.scaled(ts_ns)
    }

    /// One connection on its own: `timed`, `fast` or `reactive`.
    async fn script(&self, idx: usize, copy: u32) -> ConnReport {
        let c = &self.plan.conns[idx];
        let opts = &self.opts;
        let cancel = &self.cancel;
        let target = match target_of(opts, c) {
            Ok(t) => t.to_string(),
            Err(e) => {
                let mut r = new_report(c, copy, self.pass, "");
                r.error = Some(e);
                return r;
            }
        };
        let report = new_report(c, copy, self.pass, &target);
        if opts.paced() && !sleep_until(self.due(c.open_ts), cancel).await {
            return report;
        }
        let mut live = match Live::open(c, report, &target, self.open_options(), cancel).await {
            Ok(l) => l,
            Err(r) => return r,
        };
        for step in &c.steps {
            if cancel.is_cancelled() {
                break;
            }
            if matches!(step.kind, StepKind::Send(_)) && live.server_closed() {
                break;
            }
            let due = self.due(step.ts_ns);
            if opts.paced() && !sleep_until(due, cancel).await {
                break;
            }
            if opts.mode == Mode::Reactive && !self.await_server(&mut live, step.s2c_before).await {
                break;
            }
            if opts.paced() {
                live.report
                    .lateness
                    .record(Instant::now().saturating_duration_since(due));
            }
            if !self.take_step(&mut live, &step.kind).await {
                break;
            }
        }
        live.finish(c.s2c_total, opts.server_timeout, cancel).await
    }

    /// Waits until the connection has received the server bytes the
    /// recording had at this point (less its known shortfall). A timeout is
    /// counted, the shortfall grows by what is missing, and the replay goes
    /// on. False only when the replay was stopped.
    async fn await_server(&self, live: &mut Live, bytes: u64) -> bool {
        let target = bytes.saturating_sub(live.shortfall);
        if live.received() >= target {
            return true;
        }
        let arrived = live
            .wait_received(target, self.opts.server_timeout, &self.cancel)
            .await;
        if self.cancel.is_cancelled() {
            return false;
        }
        if !arrived {
            live.shortfall += target.saturating_sub(live.received());
            if !live.server_closed() {
                live.report.server_timeouts += 1;
            }
        }
        true
    }

    /// Does one client action; false when the script must end here.
    async fn take_step(&self, live: &mut Live, kind: &StepKind) -> bool {
        match kind {
            StepKind::Send(data) => {
                if let Err(e) = live.send(data, &self.cancel).await {
                    if !self.cancel.is_cancelled() {
                        live.report.error = Some(format!(
                            "write failed after {} bytes: {e}",
                            live.report.bytes_sent
                        ));
                    }
                    return false;
                }
            }
            StepKind::ShutdownWrite => live.shutdown_write().await,
            StepKind::Close => {
                live.report.steps_done += 1;
                return false;
            }
        }
        live.report.steps_done += 1;
        true
    }

    /// `causal`: walks the global log, one event after the other, so every
    /// cross-connection order the proxy saw is kept.
    async fn walk(&self, copy: u32) -> Vec<ConnReport> {
        let plan = &self.plan;
        let opts = &self.opts;
        let cancel = &self.cancel;
        let mut live: Vec<Option<Live>> = (0..plan.conns.len()).map(|_| None).collect();
        let mut reports = Vec::new();
        let mut closing = JoinSet::new();
        let finish = |l: Live, expected: u64, closing: &mut JoinSet<ConnReport>| {
            let cancel = cancel.clone();
            let drain = opts.server_timeout;
            closing.spawn(async move { l.finish(expected, drain, &cancel).await });
        };
        for entry in &plan.log {
            if cancel.is_cancelled() {
                break;
            }
            match entry.event {
                LogEvent::Open { conn } => {
                    let c = &plan.conns[conn];
                    if opts.paced() && !sleep_until(self.due(entry.ts_ns), cancel).await {
                        break;
                    }
                    let target = match target_of(opts, c) {
                        Ok(t) => t.to_string(),
                        Err(e) => {
                            let mut r = new_report(c, copy, self.pass, "");
                            r.error = Some(e);
                            reports.push(r);
                            continue;
                        }
                    };
                    let report = new_report(c, copy, self.pass, &target);
                    match Live::open(c, report, &target, self.open_options(), cancel).await {
                        Ok(l) => live[conn] = Some(l),
                        Err(r) => reports.push(r),
                    }
                }
                LogEvent::AwaitServer { conn, bytes } => {
                    if let Some(l) = live[conn].as_mut()
                        && !self.await_server(l, bytes).await
                    {
                        break;
                    }
                }
                LogEvent::Step { conn, step } => {
                    let Some(l) = live[conn].as_mut() else {
                        continue;
                    };
                    let kind = &plan.conns[conn].steps[step].kind;
                    if matches!(kind, StepKind::Send(_)) && l.server_closed() {
                        // The server ended this connection early; the rest
                        // of its script is skipped, the others go on.
                        if let Some(l) = live[conn].take() {
                            finish(l, plan.conns[conn].s2c_total, &mut closing);
                        }
                        continue;
                    }
                    let due = self.due(entry.ts_ns);
                    if opts.paced() {
                        if !sleep_until(due, cancel).await {
                            break;
                        }
                        l.report
                            .lateness
                            .record(Instant::now().saturating_duration_since(due));
                    }
                    if !self.take_step(l, kind).await
                        && let Some(l) = live[conn].take()
                    {
                        finish(l, plan.conns[conn].s2c_total, &mut closing);
                    }
                }
            }
        }
        for (conn, l) in live.into_iter().enumerate() {
            if let Some(l) = l {
                finish(l, plan.conns[conn].s2c_total, &mut closing);
            }
        }
        while let Some(r) = closing.join_next().await {
            if let Ok(r) = r {
                reports.push(r);
            }
        }
        reports
    }
}
