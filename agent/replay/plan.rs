//! What a replay will do, known before any socket opens: the connections of
//! the recordings with the totals a report compares against, from one pass
//! over the files. Only per-connection facts are kept, never the chunks, so
//! a plan's memory grows with the number of connections, not with the
//! recordings' size; the chunks themselves are streamed by `source` when a
//! pass runs. Pure: frames in, a plan out.

use std::collections::HashMap;
use std::sync::Arc;

use super::units::Counter;
use crate::format::{Direction, Frame, FrameBody, Transport};
use crate::rewrite::Framing;

/// One recorded connection, as the report and the target choice need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnPlan {
    /// Recording it comes from.
    pub recording: Arc<str>,
    /// Connection id in that recording.
    pub rec_conn: u64,
    /// The upstream it was recorded against: the default target. Shared by
    /// every connection of the same upstream.
    pub upstream: Arc<str>,
    pub mid_session: bool,
    /// From the OPEN; a connection without one is UDP when its first
    /// frame is a datagram. A UDP session replays datagram by datagram.
    pub transport: Transport,
    /// Client steps (sends, half-close, close) the script holds.
    pub steps: u64,
    pub c2s_total: u64,
    pub s2c_total: u64,
    /// Server units (bytes, or messages with framing rules) in all: what
    /// the last wait counts to.
    pub s2c_units: u64,
    /// Datagrams each way (UDP; 0 for TCP): what a UDP report compares.
    pub c2s_datagrams: u64,
    pub s2c_datagrams: u64,
}

/// The connections of a replay, in the order they first appear (recording
/// after recording): the order `shard` splits by.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub conns: Vec<ConnPlan>,
    /// (recording index, recorded conn id) -> index in `conns`; absent for
    /// connections another shard replays.
    index: HashMap<(usize, u64), usize>,
}

impl Plan {
    /// The plan index of a recording's connection, if this plan replays it.
    pub fn conn_of(&self, rec: usize, rec_conn: u64) -> Option<usize> {
        self.index.get(&(rec, rec_conn)).copied()
    }

    pub fn c2s_total(&self) -> u64 {
        self.conns.iter().map(|c| c.c2s_total).sum()
    }

    pub fn s2c_total(&self) -> u64 {
        self.conns.iter().map(|c| c.s2c_total).sum()
    }

    /// Whether any connection is a UDP session.
    pub fn has_udp(&self) -> bool {
        self.conns.iter().any(|c| c.transport == Transport::Udp)
    }

    /// Keeps the connections whose position `i` satisfies
    /// `i % count == index`: a deterministic split of one plan across
    /// `count` agents, each connection whole on one of them.
    pub fn shard(self, index: u32, count: u32) -> Plan {
        if count <= 1 {
            return self;
        }
        let mut key_of = vec![None; self.conns.len()];
        for (key, i) in self.index {
            key_of[i] = Some(key);
        }
        let mut out = Plan::default();
        for (pos, (c, key)) in self.conns.into_iter().zip(key_of).enumerate() {
            if pos as u64 % u64::from(count) != u64::from(index) {
                continue;
            }
            if let Some(key) = key {
                out.index.insert(key, out.conns.len());
            }
            out.conns.push(c);
        }
        out
    }
}

/// Builds a plan from the frames of one or more recordings, in file order.
#[derive(Debug, Default)]
pub struct PlanBuilder {
    plan: Plan,
    recordings: Vec<Arc<str>>,
    upstreams: HashMap<String, Arc<str>>,
    /// Framing the waits count messages in (`units`), if any.
    framing: Option<Framing>,
    /// Per open connection, its server units counter.
    counters: HashMap<usize, Counter>,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose waits count messages of `framing`.
    pub fn with_framing(framing: Option<Framing>) -> Self {
        Self {
            framing,
            ..Self::default()
        }
    }

    /// Starts the next recording; its frames follow via `add`.
    pub fn recording(&mut self, id: &str) -> usize {
        self.recordings.push(id.into());
        self.recordings.len() - 1
    }

    fn upstream(&mut self, s: &str) -> Arc<str> {
        if let Some(u) = self.upstreams.get(s) {
            return u.clone();
        }
        let u: Arc<str> = s.into();
        self.upstreams.insert(s.to_string(), u.clone());
        u
    }

    /// Adds one frame of recording `rec`, in file order.
    pub fn add(&mut self, rec: usize, frame: &Frame) {
        if !opens_or_acts(&frame.body) {
            return;
        }
        let i = match self.plan.index.get(&(rec, frame.conn)) {
            Some(&i) => i,
            None => {
                // A connection first seen without its OPEN (a damaged file)
                // is replayed anyway, as mid-session, against the target.
                let (upstream, mid_session, transport) = match &frame.body {
                    FrameBody::Open(o) => (o.upstream.as_str(), o.mid_session, o.transport),
                    FrameBody::Datagram { .. } => ("", true, Transport::Udp),
                    _ => ("", true, Transport::Tcp),
                };
                let upstream = self.upstream(upstream);
                let i = self.plan.conns.len();
                self.plan.conns.push(ConnPlan {
                    recording: self.recordings[rec].clone(),
                    rec_conn: frame.conn,
                    upstream,
                    mid_session,
                    transport,
                    steps: 0,
                    c2s_total: 0,
                    s2c_total: 0,
                    s2c_units: 0,
                    c2s_datagrams: 0,
                    s2c_datagrams: 0,
                });
                self.plan.index.insert((rec, frame.conn), i);
                i
            }
        };
        let c = &mut self.plan.conns[i];
        if unanswerable(c.mid_session, c.steps, &frame.body) {
            return;
        }
        let datagram = matches!(frame.body, FrameBody::Datagram { .. });
        match &frame.body {
            FrameBody::Data {
                dir: Direction::C2s,
                payload,
            }
            | FrameBody::Datagram {
                dir: Direction::C2s,
                payload,
            } => {
                c.c2s_total += payload.len() as u64;
                c.c2s_datagrams += u64::from(datagram);
                c.steps += 1;
            }
            FrameBody::Data {
                dir: Direction::S2c,
                payload,
            }
            | FrameBody::Datagram {
                dir: Direction::S2c,
                payload,
            } => {
                c.s2c_total += payload.len() as u64;
                c.s2c_datagrams += u64::from(datagram);
                let framing = self.framing.as_ref();
                let transport = c.transport;
                let counter = self
                    .counters
                    .entry(i)
                    .or_insert_with(|| Counter::for_transport(transport, framing));
                counter.count(payload);
                c.s2c_units = counter.total();
            }
            FrameBody::HalfClose {
                dir: Direction::C2s,
            } => c.steps += 1,
            FrameBody::Close { .. } => {
                c.steps += 1;
                self.counters.remove(&i);
            }
            _ => {}
        }
    }

    pub fn finish(self) -> Plan {
        self.plan
    }
}

/// Whether `body` is server traffic a replay cannot expect: a mid-session
/// connection's server bytes before its first client action in the
/// recording answer what came before the recording (or a flight
/// recorder's window) caught it, and a new connection never gets them.
pub fn unanswerable(mid_session: bool, steps_so_far: u64, body: &FrameBody) -> bool {
    mid_session
        && steps_so_far == 0
        && matches!(
            body,
            FrameBody::Data {
                dir: Direction::S2c,
                ..
            } | FrameBody::Datagram {
                dir: Direction::S2c,
                ..
            }
        )
}

/// Whether a frame belongs to a connection's script (annotations and loss
/// notes do not).
pub fn opens_or_acts(body: &FrameBody) -> bool {
    !matches!(body, FrameBody::Annotation { .. } | FrameBody::Loss { .. })
}
