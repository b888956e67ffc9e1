//! The two things a client step can be held for: its own connection's
//! server bytes (`reactive`, `causal`: a hard wait bounded by
//! `--server-timeout`) and, in `causal`, the other connections' earlier
//! events (a soft gate that `gates` may release). Both show on the waits
//! board while they hold.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::conn::LiveConn;
use super::pass::{Pass, SharedGates};
use super::report::ConnReport;
use super::waits::Waiting;

/// One connection's place in the pass, for gates and the waits board.
pub(super) struct Me {
    pub(super) copy: u32,
    pub(super) conn: usize,
    pub(super) gates: Option<Arc<SharedGates>>,
}

impl Pass {
    /// Waits until the connection has received the server bytes the
    /// recording had at this point (less its known shortfall). A timeout is
    /// counted, the shortfall grows by what is missing, and the replay goes
    /// on. False only when the replay was stopped.
    pub(super) async fn await_server(
        &self,
        me: &Me,
        live: &mut LiveConn,
        step: u64,
        bytes: u64,
    ) -> bool {
        let target = bytes.saturating_sub(live.shortfall);
        if live.received() >= target {
            return true;
        }
        let key = (self.pass, me.copy, me.conn);
        self.waits.set(
            key,
            Waiting {
                step,
                on: me.conn,
                expected: target,
                received: live.received(),
                since: crate::timer::now(),
            },
        );
        if let Some(gt) = &me.gates {
            gt.with(|x| x.set_waiting(me.conn, true));
        }
        let arrived = live
            .wait_received(target, self.opts.server_timeout, &self.cancel)
            .await;
        self.waits.clear(key);
        if let Some(gt) = &me.gates {
            gt.with(|x| x.set_waiting(me.conn, false));
        }
        if self.cancel.is_cancelled() {
            return false;
        }
        if !arrived {
            live.shortfall += target.saturating_sub(live.received());
            if !live.server_closed() {
                live.report.server_timeouts += 1;
                self.progress
                    .server_timeouts
                    .fetch_add(1, Ordering::Relaxed);
            }
            if let Some(gt) = &me.gates {
                let shortfall = live.shortfall;
                gt.with(|x| x.shortfall(me.conn, shortfall, crate::timer::now()));
            }
        }
        true
    }

    /// `causal`: waits until every earlier event of the other connections
    /// is done, or their gate is released (`gates`). Other modes pass at
    /// once. False only when the replay was stopped.
    pub(super) async fn cross_gate(
        &self,
        me: &Me,
        g: u64,
        step: u64,
        report: &mut ConnReport,
    ) -> bool {
        let Some(gt) = &me.gates else {
            return true;
        };
        let key = (self.pass, me.copy, me.conn);
        let mut waited = false;
        let done = loop {
            let notified = gt.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let Some(blocked) = gt.with(|x| x.check(me.conn, g)) else {
                break true;
            };
            if !waited {
                waited = true;
                gt.with(|x| x.set_waiting(me.conn, true));
            }
            self.waits.set(
                key,
                Waiting {
                    step,
                    on: blocked.on,
                    expected: blocked.expected,
                    received: blocked.received,
                    since: crate::timer::now(),
                },
            );
            let until = tokio::time::Instant::from_std(blocked.until);
            // A deadline already past is measured from now: how late the
            // wake-up comes is the host's scheduling delay.
            let due = blocked.until.max(crate::timer::now());
            tokio::select! {
                _ = self.cancel.cancelled() => break false,
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {
                    let now = crate::timer::now();
                    let late = now.saturating_duration_since(due);
                    if let Some(r) = gt.with(|x| x.relax(me.conn, g, now, late)) {
                        self.relaxed(me.copy, me.conn, r, Some(report));
                    }
                }
            }
        };
        if waited {
            self.waits.clear(key);
            gt.with(|x| x.set_waiting(me.conn, false));
        }
        done
    }
}
