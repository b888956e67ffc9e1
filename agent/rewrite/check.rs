//! The dry run behind `reelctl rules check`: the rules over a recording's
//! frames with no server. Live values are taken to be the recorded ones,
//! so a consistent rules file rewrites every client message into itself;
//! a message it changes shows a rule pointing at the wrong bytes (or a
//! checksum computed another way). Reports, per connection, the values
//! captured; per rule, how many messages it matches; and the first
//! messages the framing could not parse.

use std::collections::HashMap;
use std::sync::Arc;

use super::captures::SharedCaptures;
use super::conn::ConnRewriter;
use super::framer::Framer;
use super::locate::applies;
use super::message::Message;
use super::report::{
    CheckReport, ConnCaptures, MAX_SAMPLES, UnparsedSample, changed, excerpt, found, rule_checks,
};
use super::rules::{Rules, Scope};
use super::stats::Stats;
use crate::format::{Direction, Frame, FrameBody};

/// One connection being checked.
struct ConnState {
    c2s: Framer,
    s2c: Framer,
    rewriter: ConnRewriter,
    /// Messages seen so far, client to server and server to client.
    counts: [u64; 2],
}

/// Index of a direction in per-direction arrays.
fn side(dir: Direction) -> usize {
    usize::from(dir == Direction::S2c)
}

/// Runs the rules over a recording's frames, one frame at a time (so a
/// large recording is never held whole; a connection's state is dropped at
/// its CLOSE).
pub struct Checker {
    shared: Arc<SharedCaptures>,
    open: HashMap<u64, ConnState>,
    /// Counts of the connections already closed.
    totals: Stats,
    findings: Findings,
}

/// What the messages showed so far.
struct Findings {
    rules: Arc<Rules>,
    report: CheckReport,
    /// Checksums: mismatches per rule.
    mismatched: Vec<u64>,
}

impl Checker {
    /// Ready for the first frame.
    pub fn new(rules: Arc<Rules>) -> Checker {
        Checker {
            totals: Stats::new(&rules),
            shared: Arc::new(SharedCaptures::new()),
            open: HashMap::new(),
            findings: Findings {
                mismatched: vec![0; rules.checksums().len()],
                report: CheckReport::default(),
                rules,
            },
        }
    }

    /// Takes the next frame of the recording.
    pub fn push(&mut self, frame: &Frame) {
        match &frame.body {
            FrameBody::Data { dir, payload } => {
                let state = open_conn(&mut self.open, &mut self.findings, &self.shared, frame.conn);
                let framer = match dir {
                    Direction::C2s => &mut state.c2s,
                    Direction::S2c => &mut state.s2c,
                };
                let messages = framer.push(payload);
                let reason = framer.error().map(ToString::to_string);
                for message in messages {
                    self.findings
                        .message(state, frame.conn, *dir, &message, reason.as_deref());
                }
            }
            FrameBody::Open(_) => {
                open_conn(&mut self.open, &mut self.findings, &self.shared, frame.conn);
            }
            FrameBody::Close { .. } => self.close(frame.conn),
            // One datagram is one message, whatever the framing says.
            FrameBody::Datagram { dir, payload } => {
                let state = open_conn(&mut self.open, &mut self.findings, &self.shared, frame.conn);
                let message = Message::chunk(payload.clone());
                self.findings
                    .message(state, frame.conn, *dir, &message, None);
            }
            FrameBody::HalfClose { .. } | FrameBody::Loss { .. } | FrameBody::Annotation { .. } => {
            }
        }
    }

    /// A connection ends: a message left incomplete is reported, and its
    /// captures and counts are kept.
    fn close(&mut self, conn: u64) {
        let Some(mut state) = self.open.remove(&conn) else {
            return;
        };
        for dir in [Direction::C2s, Direction::S2c] {
            let framer = match dir {
                Direction::C2s => &mut state.c2s,
                Direction::S2c => &mut state.s2c,
            };
            if let Some(tail) = framer.take_pending() {
                self.findings.message(&mut state, conn, dir, &tail, None);
            }
        }
        self.totals.add(state.rewriter.stats());
        let rules = &self.findings.rules;
        let captures = rules
            .capture_names()
            .filter(|name| scope_of(rules, name) == Some(Scope::Connection))
            .filter_map(|name| found(name, &state.rewriter.values(name)?))
            .collect();
        self.findings
            .report
            .captures
            .push(ConnCaptures { conn, captures });
    }

    /// The report, once every frame was pushed. Connections still open
    /// (no CLOSE recorded) end here.
    pub fn finish(mut self) -> CheckReport {
        let mut open: Vec<u64> = self.open.keys().copied().collect();
        open.sort_unstable();
        for conn in open {
            self.close(conn);
        }
        let Findings {
            rules,
            mut report,
            mismatched,
        } = self.findings;
        report.captures.sort_by_key(|c| c.conn);
        let rewriter = ConnRewriter::dry_run(Arc::clone(&rules), Arc::clone(&self.shared));
        report.replay_captures = rules
            .capture_names()
            .filter(|name| scope_of(&rules, name) == Some(Scope::Replay))
            .filter_map(|name| found(name, &rewriter.values(name)?))
            .collect();
        report.rules = rule_checks(&rules, &self.totals, &mismatched);
        report
    }
}

impl Findings {
    /// One message of connection `conn`; `reason` says why the framing
    /// broke, for unparsed ones.
    fn message(
        &mut self,
        state: &mut ConnState,
        conn: u64,
        dir: Direction,
        msg: &Message,
        reason: Option<&str>,
    ) {
        let index = state.counts[side(dir)];
        state.counts[side(dir)] += 1;
        let report = &mut self.report;
        match dir {
            Direction::C2s => report.messages_c2s += 1,
            Direction::S2c => report.messages_s2c += 1,
        }
        if msg.is_unparsed() {
            report.unparsed += 1;
            if report.unparsed_samples.len() < MAX_SAMPLES {
                report.unparsed_samples.push(UnparsedSample {
                    conn,
                    direction: dir,
                    message: index,
                    bytes: msg.wire().len() as u64,
                    reason: reason
                        .unwrap_or("incomplete at the end of the connection")
                        .to_owned(),
                    hex: excerpt(msg.wire()),
                });
            }
            return;
        }
        state.rewriter.recorded(dir, msg);
        if dir == Direction::C2s {
            let body = msg.body();
            for (i, checksum) in self.rules.checksums().iter().enumerate() {
                if !applies(checksum.direction, checksum.when.as_ref(), dir, body) {
                    continue;
                }
                let wrong = checksum
                    .compute(body)
                    .is_some_and(|(at, value)| checksum.at.int.read(&body[at]) != Some(value));
                if let Some(count) = self.mismatched.get_mut(i) {
                    *count += u64::from(wrong);
                }
            }
            let sent = state.rewriter.rewrite_c2s(msg);
            if sent.wire() != msg.wire() {
                report.changed += 1;
                if report.changed_samples.len() < MAX_SAMPLES {
                    report
                        .changed_samples
                        .push(changed(conn, index, msg.wire(), sent.wire()));
                }
            }
        }
        state.rewriter.ignored(dir, msg);
    }
}

/// The state of connection `conn`, made at its first frame.
fn open_conn<'a>(
    open: &'a mut HashMap<u64, ConnState>,
    findings: &mut Findings,
    shared: &Arc<SharedCaptures>,
    conn: u64,
) -> &'a mut ConnState {
    open.entry(conn).or_insert_with(|| {
        findings.report.connections += 1;
        let rules = &findings.rules;
        ConnState {
            c2s: Framer::new(rules.framing()),
            s2c: Framer::new(rules.framing()),
            rewriter: ConnRewriter::dry_run(Arc::clone(rules), Arc::clone(shared)),
            counts: [0, 0],
        }
    })
}

/// The scope of capture `name`.
fn scope_of(rules: &Rules, name: &str) -> Option<Scope> {
    rules
        .captures()
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.scope)
}

/// The rules over `frames` (see [`Checker`]).
pub fn check(rules: &Rules, frames: impl IntoIterator<Item = Frame>) -> CheckReport {
    let mut checker = Checker::new(Arc::new(rules.clone()));
    for frame in frames {
        checker.push(&frame);
    }
    checker.finish()
}
