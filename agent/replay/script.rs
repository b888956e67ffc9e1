//! Turns the frames of the recordings, in the order a pass reads them, into
//! the events a replay acts on: a connection opens, a client step (with the
//! server bytes it had before it), server bytes to expect. Each event gets
//! its place in the global log (`g`), which `causal` mode orders by. Idle
//! gaps are clamped here, over the whole log, so every mode sees the same
//! times. Pure: frames in, events out; memory per connection, not per chunk.

use bytes::Bytes;

use super::plan::{Plan, opens_or_acts, unanswerable};
use super::units::Counter;
use crate::format::{Direction, Frame, FrameBody};
use crate::rewrite::Framing;

/// A client action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Bytes),
    /// The client shut down its write side (half-close).
    ShutdownWrite,
    /// The connection ended; the client closes after reading what the
    /// server sent in the recording.
    Close,
}

/// What happens at one point of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The connection opens (its first frame in the recording).
    Open,
    /// The client's `step`-th action, taken after the connection had
    /// received `s2c_before` server bytes in the recording.
    Step {
        step: u64,
        s2c_before: u64,
        action: Action,
    },
    /// The server sent `payload`; the connection then had `total` server
    /// units (bytes, messages, or datagrams for a UDP session). `answer_ns`: how long after the client's last action (or the
    /// open) it came, in the recording, which bounds how long a causal
    /// gate waits for it.
    Expect {
        payload: Bytes,
        total: u64,
        answer_ns: u64,
    },
}

/// One event of the global log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log: events are produced in increasing `g`.
    pub g: u64,
    /// Offset in the recording after idle clamping.
    pub ts_ns: u64,
    /// Index in the plan.
    pub conn: usize,
    pub kind: EventKind,
}

#[derive(Debug)]
struct Conn {
    opened: bool,
    steps: u64,
    /// Server units so far (bytes, or messages with framing rules).
    s2c: Counter,
    /// Offset of the client's last action, or of the open.
    last_client_ns: u64,
}

/// The translation state of one pass.
#[derive(Debug)]
pub struct Scripter {
    conns: Vec<Conn>,
    g: u64,
    max_idle_ns: Option<u64>,
    /// Original offset of the previous frame, for idle clamping.
    prev_ts: Option<u64>,
    shift: u64,
}

impl Scripter {
    /// `framing`: the waits count messages of it (see `units`).
    pub fn new(plan: &Plan, max_idle_ns: Option<u64>, framing: Option<&Framing>) -> Self {
        Self {
            conns: plan
                .conns
                .iter()
                .map(|c| Conn {
                    opened: false,
                    steps: 0,
                    s2c: Counter::for_transport(c.transport, framing),
                    last_client_ns: 0,
                })
                .collect(),
            g: 0,
            max_idle_ns,
            prev_ts: None,
            shift: 0,
        }
    }

    /// The events of one frame of recording `rec`, appended to `out`.
    pub fn frame(&mut self, plan: &Plan, rec: usize, frame: Frame, out: &mut Vec<Event>) {
        if !opens_or_acts(&frame.body) {
            return;
        }
        // Clamping looks at every frame, also those of other shards, so all
        // agents of a spread replay keep the same times.
        let ts = self.clamp(frame.ts_ns);
        let Some(conn) = plan.conn_of(rec, frame.conn) else {
            return;
        };
        let c = &mut self.conns[conn];
        if unanswerable(plan.conns[conn].mid_session, c.steps, &frame.body) {
            return;
        }
        let mut push = |g: &mut u64, kind| {
            out.push(Event {
                g: *g,
                ts_ns: ts,
                conn,
                kind,
            });
            *g += 1;
        };
        if !c.opened {
            c.opened = true;
            c.last_client_ns = ts;
            push(&mut self.g, EventKind::Open);
        }
        let action = match frame.body {
            // A datagram is sent as one: the UDP socket keeps boundaries.
            FrameBody::Data {
                dir: Direction::C2s,
                payload,
            }
            | FrameBody::Datagram {
                dir: Direction::C2s,
                payload,
            } => Action::Send(payload),
            FrameBody::Data {
                dir: Direction::S2c,
                payload,
            }
            | FrameBody::Datagram {
                dir: Direction::S2c,
                payload,
            } => {
                c.s2c.count(&payload);
                let kind = EventKind::Expect {
                    payload,
                    total: c.s2c.total(),
                    answer_ns: ts.saturating_sub(c.last_client_ns),
                };
                push(&mut self.g, kind);
                return;
            }
            FrameBody::HalfClose {
                dir: Direction::C2s,
            } => Action::ShutdownWrite,
            FrameBody::Close { .. } => Action::Close,
            // The server's half-close needs nothing from the client.
            _ => return,
        };
        let kind = EventKind::Step {
            step: c.steps,
            s2c_before: c.s2c.total(),
            action,
        };
        c.steps += 1;
        c.last_client_ns = ts;
        push(&mut self.g, kind);
    }

    fn clamp(&mut self, ts: u64) -> u64 {
        if let (Some(max), Some(prev)) = (self.max_idle_ns, self.prev_ts) {
            let gap = ts.saturating_sub(prev);
            if gap > max {
                self.shift += gap - max;
            }
        }
        self.prev_ts = Some(ts);
        ts.saturating_sub(self.shift)
    }
}

#[cfg(test)]
mod tests;
