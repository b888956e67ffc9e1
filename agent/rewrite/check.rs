//! The dry run behind `reelctl rules check`: the rules over a recording's
//! frames with no server. Live values are taken to be the recorded ones,
//! so a consistent rules file rewrites every client message into itself;
//! a message it changes shows a rule pointing at the wrong bytes (or a
//! checksum computed another way). Reports, per connection, the values
//! captured; per rule, how many messages it matches; and the first
//! messages the framing could not parse.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::captures::{SharedCaptures, Slot};
use super::conn::ConnRewriter;
use super::framer::Framer;
use super::hex;
use super::locate::applies;
use super::message::Message;
use super::rules::{Field, Rules, Scope, Target};
use super::stats::{RuleKind, Stats};
use crate::format::{Direction, Frame, FrameBody};

/// Messages listed in each sample list of a report (unparsed, changed).
pub const MAX_SAMPLES: usize = 5;

/// Bytes of a message a sample shows.
pub const EXCERPT_BYTES: usize = 32;

/// What a dry run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Connections with at least one frame.
    pub connections: u64,
    /// Messages the framing cut, client to server.
    pub messages_c2s: u64,
    /// Messages the framing cut, server to client.
    pub messages_s2c: u64,
    /// Messages the framing could not parse (after a break, and tails that
    /// never completed).
    pub unparsed: u64,
    /// Client messages the rules would change even when the live server
    /// sends what the recording holds; 0 for consistent rules.
    pub changed: u64,
    /// Every rule, in file order by kind.
    pub rules: Vec<RuleCheck>,
    /// Per connection (by id), the per-connection values captured.
    pub captures: Vec<ConnCaptures>,
    /// The `scope = "replay"` values captured.
    pub replay_captures: Vec<CaptureFound>,
    /// The first unparsed messages.
    pub unparsed_samples: Vec<UnparsedSample>,
    /// The first changed client messages.
    pub changed_samples: Vec<ChangedSample>,
}

impl CheckReport {
    /// The rules that matched no message (`rules check` exits 1 for them).
    pub fn unmatched(&self) -> impl Iterator<Item = &RuleCheck> {
        self.rules.iter().filter(|r| r.matched == 0)
    }
}

/// One rule's figures over the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// Its table.
    pub kind: RuleKind,
    /// Its index in the table.
    pub index: usize,
    /// What it is about: a capture's name, a rewrite's `from`, a checksum's
    /// algorithm, an ignore's field.
    pub label: String,
    /// Its direction.
    pub direction: Direction,
    /// Messages of its direction meeting its `when`.
    pub matched: u64,
    /// Of those, the ones it could not apply to (see
    /// [`RuleStats::missed`](super::RuleStats::missed)).
    pub missed: u64,
    /// Checksums: matched messages whose recorded checksum is not the one
    /// the rule computes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatched: Option<u64>,
}

/// The values one connection captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnCaptures {
    /// Connection id in the recording.
    pub conn: u64,
    /// Per capture name, when captured at least once.
    pub captures: Vec<CaptureFound>,
}

/// A captured value as the recording holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureFound {
    /// The capture's name.
    pub name: String,
    /// The latest value, in hex.
    pub hex: String,
    /// The same as text, when every byte is printable ASCII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ascii: Option<String>,
    /// The integer, for int captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int: Option<u64>,
    /// How many times it was captured.
    pub seen: u64,
}

/// A message the framing could not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedSample {
    /// Connection id.
    pub conn: u64,
    /// Its direction.
    pub direction: Direction,
    /// Index of the message in its direction (0 = the first).
    pub message: u64,
    /// Its size.
    pub bytes: u64,
    /// Why it did not parse.
    pub reason: String,
    /// Its first bytes (at most [`EXCERPT_BYTES`]), in hex.
    pub hex: String,
}

/// A client message the rules change in the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedSample {
    /// Connection id.
    pub conn: u64,
    /// Index of the message among the connection's client messages.
    pub message: u64,
    /// Offset in the wire bytes of the first byte that differs.
    pub offset: u64,
    /// The recorded bytes from there (at most [`EXCERPT_BYTES`]), in hex.
    pub recorded: String,
    /// The rewritten bytes from there, in hex.
    pub rewritten: String,
}

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

/// A slot's recorded value as reported, when there is one.
fn found(name: &str, slot: &Slot) -> Option<CaptureFound> {
    let value = slot.recorded.as_ref()?;
    Some(CaptureFound {
        name: name.to_owned(),
        hex: hex::encode(&value.bytes),
        ascii: hex::ascii(&value.bytes),
        int: value.int,
        seen: slot.recorded_seen,
    })
}

fn excerpt(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(EXCERPT_BYTES)])
}

fn changed(conn: u64, message: u64, recorded: &[u8], rewritten: &[u8]) -> ChangedSample {
    let offset = recorded
        .iter()
        .zip(rewritten)
        .position(|(a, b)| a != b)
        .unwrap_or(recorded.len().min(rewritten.len()));
    ChangedSample {
        conn,
        message,
        offset: offset as u64,
        recorded: excerpt(&recorded[offset..]),
        rewritten: excerpt(&rewritten[offset..]),
    }
}

/// Every rule with its totals.
fn rule_checks(rules: &Rules, totals: &Stats, mismatched: &[u64]) -> Vec<RuleCheck> {
    totals
        .iter()
        .filter_map(|(kind, index, stats)| {
            let (label, direction) = match kind {
                RuleKind::Capture => {
                    let c = rules.captures().get(index)?;
                    (c.name.clone(), c.direction)
                }
                RuleKind::Rewrite => {
                    let r = rules.rewrites().get(index)?;
                    let how = match (&r.target, r.shift) {
                        (Target::Anywhere, _) => " anywhere",
                        (_, true) => " shift",
                        _ => "",
                    };
                    (format!("from {}{how}", r.from), r.direction)
                }
                RuleKind::Checksum => {
                    let c = rules.checksums().get(index)?;
                    (c.algorithm.as_str().to_owned(), c.direction)
                }
                RuleKind::Ignore => {
                    let g = rules.ignores().get(index)?;
                    (describe(&g.field), g.direction)
                }
            };
            Some(RuleCheck {
                kind,
                index,
                label,
                direction,
                matched: stats.matched,
                missed: stats.missed,
                mismatched: (kind == RuleKind::Checksum)
                    .then(|| mismatched.get(index).copied().unwrap_or(0)),
            })
        })
        .collect()
}

/// A field as a short text: `offset 1 len 12`, `offset -4 u32le`, `regex ...`.
fn describe(field: &Field) -> String {
    match field {
        Field::Raw { offset, len } => format!("offset {offset} len {len}"),
        Field::Int(f) => format!("offset {} {}", f.offset, f.int.as_str()),
        Field::Regex(r) => format!("regex {}", r.as_str()),
    }
}
