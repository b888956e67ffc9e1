//! What a replay will do, computed from recordings before any socket opens:
//! per connection, the client chunks to send (with the server bytes that
//! preceded each in the recording) and the server bytes to expect; and the
//! global log of events in the order the proxy saw them, which `causal`
//! mode walks. Pure: frames in, a plan out.

use std::sync::Arc;

use bytes::Bytes;

use crate::format::{Direction, Frame, FrameBody};

/// One thing a replayed client does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Send(Bytes),
    /// The client shut down its write side (half-close).
    ShutdownWrite,
    /// The connection ended; the client closes after reading what the server
    /// sent in the recording.
    Close,
}

/// A step with its place in the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Offset in the recording (after idle clamping, see `clamp_idle`).
    pub ts_ns: u64,
    /// Server bytes this connection had received before the step was taken.
    pub s2c_before: u64,
    pub kind: StepKind,
}

/// One recorded connection, ready to replay.
#[derive(Debug, Clone)]
pub struct ConnPlan {
    /// Recording it comes from.
    pub recording: Arc<str>,
    /// Connection id in that recording.
    pub rec_conn: u64,
    pub client: String,
    /// The upstream it was recorded against: the default target.
    pub upstream: String,
    pub mid_session: bool,
    pub open_ts: u64,
    pub steps: Vec<Step>,
    /// Server bytes in recorded chunks, for `verify`.
    pub s2c: Vec<Bytes>,
    pub c2s_total: u64,
    pub s2c_total: u64,
}

/// An event of the global log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEvent {
    Open {
        conn: usize,
    },
    Step {
        conn: usize,
        step: usize,
    },
    /// Wait until connection `conn` has received `bytes` server bytes in total.
    AwaitServer {
        conn: usize,
        bytes: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    pub ts_ns: u64,
    pub event: LogEvent,
}

/// The whole replay plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub conns: Vec<ConnPlan>,
    /// Every event of every connection, in recorded order.
    pub log: Vec<LogEntry>,
}

impl Plan {
    /// Offset of the last event.
    pub fn duration_ns(&self) -> u64 {
        self.log.last().map_or(0, |e| e.ts_ns)
    }

    pub fn c2s_total(&self) -> u64 {
        self.conns.iter().map(|c| c.c2s_total).sum()
    }

    pub fn s2c_total(&self) -> u64 {
        self.conns.iter().map(|c| c.s2c_total).sum()
    }

    /// Keeps the connections whose position `i` satisfies
    /// `i % count == index`: a deterministic split of one plan across
    /// `count` agents, each connection whole on one of them.
    pub fn shard(self, index: u32, count: u32) -> Plan {
        if count <= 1 {
            return self;
        }
        let mut remap = vec![None; self.conns.len()];
        let mut conns = Vec::new();
        for (i, c) in self.conns.into_iter().enumerate() {
            if i as u64 % u64::from(count) == u64::from(index) {
                remap[i] = Some(conns.len());
                conns.push(c);
            }
        }
        let log = self
            .log
            .into_iter()
            .filter_map(|e| {
                let event = match e.event {
                    LogEvent::Open { conn } => LogEvent::Open { conn: remap[conn]? },
                    LogEvent::Step { conn, step } => LogEvent::Step {
                        conn: remap[conn]?,
                        step,
                    },
                    LogEvent::AwaitServer { conn, bytes } => LogEvent::AwaitServer {
                        conn: remap[conn]?,
                        bytes,
                    },
                };
                Some(LogEntry {
                    ts_ns: e.ts_ns,
                    event,
                })
            })
            .collect();
        Plan { conns, log }
    }

    /// Shortens every idle gap longer than `max_idle_ns` to `max_idle_ns`,
    /// across the whole log, so relative order and the shorter gaps stay as
    /// recorded.
    pub fn clamp_idle(&mut self, max_idle_ns: u64) {
        let mut shift = 0u64;
        let mut prev: Option<u64> = None;
        // Breakpoints (original ts, shift from then on), for the per-step map.
        let mut breaks: Vec<(u64, u64)> = Vec::new();
        for e in &mut self.log {
            let ts = e.ts_ns;
            if let Some(p) = prev {
                let gap = ts.saturating_sub(p);
                if gap > max_idle_ns {
                    shift += gap - max_idle_ns;
                    breaks.push((ts, shift));
                }
            }
            prev = Some(ts);
            e.ts_ns = ts - shift;
        }
        let map = |ts: u64| -> u64 {
            let i = breaks.partition_point(|(b, _)| *b <= ts);
            if i == 0 { ts } else { ts - breaks[i - 1].1 }
        };
        for c in &mut self.conns {
            c.open_ts = map(c.open_ts);
            for s in &mut c.steps {
                s.ts_ns = map(s.ts_ns);
            }
        }
    }
}

/// Builds a plan from the frames of one or more recordings. Recordings are
/// aligned on their own starts: all of them begin together.
#[derive(Debug, Default)]
pub struct PlanBuilder {
    conns: Vec<ConnPlan>,
    /// (recording index, recorded conn id) -> index in `conns`.
    index: std::collections::HashMap<(usize, u64), usize>,
    /// (ts, recording index, sequence) keeps each file's order when merging.
    log: Vec<(u64, usize, u64, LogEvent)>,
    recordings: Vec<Arc<str>>,
    seq: u64,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the next recording; its frames follow via `add`.
    pub fn recording(&mut self, id: &str) -> usize {
        self.recordings.push(id.into());
        self.recordings.len() - 1
    }

    fn conn(&mut self, rec: usize, frame: &Frame) -> usize {
        if let Some(&i) = self.index.get(&(rec, frame.conn)) {
            return i;
        }
        let i = self.conns.len();
        let (client, upstream, mid_session) = match &frame.body {
            FrameBody::Open(o) => (o.client.clone(), o.upstream.clone(), o.mid_session),
            // A connection first seen without its OPEN (a damaged file):
            // replay it anyway, as mid-session, against the default target.
            _ => (String::new(), String::new(), true),
        };
        self.conns.push(ConnPlan {
            recording: self.recordings[rec].clone(),
            rec_conn: frame.conn,
            client,
            upstream,
            mid_session,
            open_ts: frame.ts_ns,
            steps: Vec::new(),
            s2c: Vec::new(),
            c2s_total: 0,
            s2c_total: 0,
        });
        self.index.insert((rec, frame.conn), i);
        self.push_log(frame.ts_ns, rec, LogEvent::Open { conn: i });
        i
    }

    fn push_log(&mut self, ts: u64, rec: usize, event: LogEvent) {
        self.log.push((ts, rec, self.seq, event));
        self.seq += 1;
    }

    fn push_step(&mut self, rec: usize, conn: usize, ts: u64, kind: StepKind) {
        let c = &mut self.conns[conn];
        let step = c.steps.len();
        c.steps.push(Step {
            ts_ns: ts,
            s2c_before: c.s2c_total,
            kind,
        });
        self.push_log(ts, rec, LogEvent::Step { conn, step });
    }

    /// Adds one frame of recording `rec`, in file order.
    pub fn add(&mut self, rec: usize, frame: Frame) {
        if matches!(
            frame.body,
            FrameBody::Annotation { .. } | FrameBody::Loss { .. }
        ) {
            return;
        }
        let conn = self.conn(rec, &frame);
        let ts = frame.ts_ns;
        match frame.body {
            FrameBody::Open(_) | FrameBody::Annotation { .. } | FrameBody::Loss { .. } => {}
            FrameBody::Data {
                dir: Direction::C2s,
                payload,
            } => {
                self.conns[conn].c2s_total += payload.len() as u64;
                self.push_step(rec, conn, ts, StepKind::Send(payload));
            }
            FrameBody::Data {
                dir: Direction::S2c,
                payload,
            } => {
                let c = &mut self.conns[conn];
                c.s2c_total += payload.len() as u64;
                let bytes = c.s2c_total;
                c.s2c.push(payload);
                self.push_log(ts, rec, LogEvent::AwaitServer { conn, bytes });
            }
            FrameBody::HalfClose {
                dir: Direction::C2s,
            } => {
                self.push_step(rec, conn, ts, StepKind::ShutdownWrite);
            }
            // The server's own half-close needs nothing from the client.
            FrameBody::HalfClose {
                dir: Direction::S2c,
            } => {}
            FrameBody::Close { .. } => self.push_step(rec, conn, ts, StepKind::Close),
        }
    }

    pub fn finish(mut self) -> Plan {
        self.log.sort_by_key(|(ts, rec, seq, _)| (*ts, *rec, *seq));
        Plan {
            conns: self.conns,
            log: self
                .log
                .into_iter()
                .map(|(ts_ns, _, _, event)| LogEntry { ts_ns, event })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::OpenInfo;

    fn open(conn: u64, ts: u64) -> Frame {
        Frame {
            conn,
            ts_ns: ts,
            body: FrameBody::Open(OpenInfo {
                client: format!("127.0.0.1:{}", 5000 + conn),
                proxy_id: "p1".into(),
                upstream: "127.0.0.1:6379".into(),
                mid_session: false,
                opened_unix_ns: 0,
            }),
        }
    }

    fn data(conn: u64, ts: u64, dir: Direction, b: &'static [u8]) -> Frame {
        Frame {
            conn,
            ts_ns: ts,
            body: FrameBody::Data {
                dir,
                payload: Bytes::from_static(b),
            },
        }
    }

    fn close(conn: u64, ts: u64) -> Frame {
        Frame {
            conn,
            ts_ns: ts,
            body: FrameBody::Close {
                reason: "client closed".into(),
            },
        }
    }

    fn sample() -> Plan {
        let mut b = PlanBuilder::new();
        let r = b.recording("rec");
        for f in [
            open(1, 0),
            data(1, 10, Direction::C2s, b"SET a 1"),
            data(1, 20, Direction::S2c, b"OK"),
            open(2, 30),
            data(2, 40, Direction::C2s, b"GET a"),
            data(2, 50, Direction::S2c, b"1"),
            data(1, 60, Direction::C2s, b"INCR a"),
            close(1, 1_000_070),
            close(2, 1_000_080),
        ] {
            b.add(r, f);
        }
        b.finish()
    }

    #[test]
    fn steps_know_the_server_bytes_before_them() {
        let p = sample();
        assert_eq!(p.conns.len(), 2);
        let c1 = &p.conns[0];
        assert_eq!(c1.steps.len(), 3);
        assert_eq!(c1.steps[0].s2c_before, 0);
        assert_eq!(c1.steps[1].s2c_before, 2);
        assert_eq!(
            c1.steps[1].kind,
            StepKind::Send(Bytes::from_static(b"INCR a"))
        );
        assert_eq!(c1.steps[2].kind, StepKind::Close);
        assert_eq!((c1.c2s_total, c1.s2c_total), (13, 2));
        assert_eq!(p.c2s_total(), 18);
        assert_eq!(p.s2c_total(), 3);
    }

    #[test]
    fn the_log_is_the_recorded_order() {
        let p = sample();
        let kinds: Vec<_> = p.log.iter().map(|e| e.event).collect();
        assert_eq!(
            kinds,
            vec![
                LogEvent::Open { conn: 0 },
                LogEvent::Step { conn: 0, step: 0 },
                LogEvent::AwaitServer { conn: 0, bytes: 2 },
                LogEvent::Open { conn: 1 },
                LogEvent::Step { conn: 1, step: 0 },
                LogEvent::AwaitServer { conn: 1, bytes: 1 },
                LogEvent::Step { conn: 0, step: 1 },
                LogEvent::Step { conn: 0, step: 2 },
                LogEvent::Step { conn: 1, step: 1 },
            ]
        );
        assert_eq!(p.duration_ns(), 1_000_080);
    }

    #[test]
    fn two_recordings_start_together_and_keep_their_own_order() {
        let mut b = PlanBuilder::new();
        let r0 = b.recording("a");
        let r1 = b.recording("b");
        b.add(r0, open(1, 5));
        b.add(r0, data(1, 5, Direction::C2s, b"x"));
        b.add(r1, open(1, 0));
        b.add(r1, data(1, 5, Direction::C2s, b"y"));
        let p = b.finish();
        assert_eq!(
            p.conns.len(),
            2,
            "same conn id in two files = two connections"
        );
        assert_eq!(p.log[0].event, LogEvent::Open { conn: 1 });
        // Same ts: the first recording's events first, each file in its order.
        assert_eq!(p.log[1].event, LogEvent::Open { conn: 0 });
        assert_eq!(p.log[2].event, LogEvent::Step { conn: 0, step: 0 });
    }

    #[test]
    fn idle_gaps_are_clamped_everywhere() {
        let mut p = sample();
        p.clamp_idle(100);
        // The 999_990 ns gap before the closes became 100 ns.
        assert_eq!(p.duration_ns(), 60 + 100 + 10);
        let c1 = &p.conns[0];
        assert_eq!(c1.steps[1].ts_ns, 60);
        assert_eq!(c1.steps[2].ts_ns, 160);
        assert_eq!(p.conns[1].steps[1].ts_ns, 170);
    }

    #[test]
    fn shards_split_connections_without_loss_or_overlap() {
        let p = sample();
        let a = p.clone().shard(0, 2);
        let b = p.clone().shard(1, 2);
        assert_eq!(a.conns.len() + b.conns.len(), p.conns.len());
        assert_eq!(a.conns[0].rec_conn, 1);
        assert_eq!(b.conns[0].rec_conn, 2);
        assert_eq!(a.log.len() + b.log.len(), p.log.len());
        assert!(b.log.iter().all(|e| match e.event {
            LogEvent::Open { conn }
            | LogEvent::Step { conn, .. }
            | LogEvent::AwaitServer { conn, .. } => conn == 0,
        }));
    }
}
