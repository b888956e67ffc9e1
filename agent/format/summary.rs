//! Recording totals and the per-connection table, counted in one place.
//!
//! [`SummaryBuilder`] is the only code that counts frames: the writer feeds it
//! as it writes (to produce the footer) and the scanner feeds it as it reads
//! (to recover a file without a footer), so both always agree.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::frame::{Direction, Frame, FrameBody};
use super::layout::FRAME_OVERHEAD;

/// Totals over a whole recording.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Frames counted (the footer itself excluded).
    pub frames: u64,
    /// Distinct connections seen (an OPEN, or any frame with a non-zero conn).
    pub connections: u64,
    /// Client-to-server payload bytes.
    pub bytes_c2s: u64,
    /// Server-to-client payload bytes.
    pub bytes_s2c: u64,
    /// Client-to-server DATA frames (a replay sends one write per chunk).
    pub chunks_c2s: u64,
    /// Server-to-client DATA frames.
    pub chunks_s2c: u64,
    /// Bytes the recorder reported as not captured (sum of LOSS frames).
    pub lost_bytes: u64,
    /// Largest frame timestamp seen: the recording's duration in ns.
    pub last_ts_ns: u64,
}

impl Summary {
    /// Whether these totals can describe `frame_bytes` bytes of frames: every
    /// frame takes at least `FRAME_OVERHEAD` bytes, a connection needs a
    /// frame, a chunk is a frame and payload bytes are inside frames. A
    /// footer failing this was crafted or damaged; its counts are not
    /// trusted (the file is recounted). LOSS totals are not bounded: they
    /// report bytes that are not in the file.
    pub fn fits_in(&self, frame_bytes: u64) -> bool {
        let min_bytes = self.frames.checked_mul(FRAME_OVERHEAD as u64);
        let chunks = self.chunks_c2s.checked_add(self.chunks_s2c);
        let payload = self.bytes_c2s.checked_add(self.bytes_s2c);
        min_bytes.is_some_and(|b| b <= frame_bytes)
            && self.connections <= self.frames
            && chunks.is_some_and(|c| c <= self.frames)
            && payload.is_some_and(|p| p <= frame_bytes)
    }
}

/// One connection in the footer's table; also an index into the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnSummary {
    /// Connection id within the recording.
    pub conn: u64,
    /// Client address (empty when the OPEN frame is missing).
    pub client: String,
    /// Proxy that carried it (empty when the OPEN frame is missing).
    pub proxy_id: String,
    /// Upstream address (empty when the OPEN frame is missing).
    pub upstream: String,
    /// Already open when the recording started.
    pub mid_session: bool,
    /// Timestamp of the connection's first frame (its OPEN in a sound file).
    pub opened_ts_ns: u64,
    /// Timestamp of its CLOSE, if recorded.
    pub closed_ts_ns: Option<u64>,
    /// Reason given by its CLOSE, if recorded.
    pub close_reason: Option<String>,
    /// Client-to-server payload bytes.
    pub bytes_c2s: u64,
    /// Server-to-client payload bytes.
    pub bytes_s2c: u64,
    /// File offset of its first frame, so a reader can seek straight to it.
    pub first_frame_offset: u64,
}

/// The footer frame's payload: what a clean stop knows about the recording.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Footer {
    /// Totals.
    pub summary: Summary,
    /// Every connection, in order of first appearance.
    pub connections: Vec<ConnSummary>,
    /// Wall-clock time the recording stopped.
    pub ended_unix_ns: i64,
    /// Why it stopped ("stopped by user", "deadline", ...).
    pub end_reason: String,
    /// The error that stopped it, if any.
    pub error: Option<String>,
    /// Set when `connections` was left empty because the table did not fit
    /// in one frame (hundreds of thousands of connections): the totals stay
    /// exact; readers that want the table scan the frames.
    pub connection_detail_omitted: bool,
}

/// Accumulates [`Summary`] and the connection table frame by frame.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    /// Running totals.
    summary: Summary,
    /// Connections in order of first appearance (that order is the table's).
    connections: Vec<ConnSummary>,
    /// conn id -> index in `connections`, for O(1) updates.
    index: HashMap<u64, usize>,
}

impl SummaryBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one frame found at file offset `offset`.
    ///
    /// A frame for a connection with no OPEN still counts and creates its
    /// entry with empty addresses: a file whose OPEN was lost must still
    /// account for every byte. Frames with conn 0 belong to no connection.
    pub fn observe(&mut self, frame: &Frame, offset: u64) {
        let s = &mut self.summary;
        s.frames += 1;
        s.last_ts_ns = s.last_ts_ns.max(frame.ts_ns);
        match &frame.body {
            FrameBody::Data { dir, payload } => {
                let n = payload.len() as u64;
                match dir {
                    Direction::C2s => {
                        s.bytes_c2s += n;
                        s.chunks_c2s += 1;
                    }
                    Direction::S2c => {
                        s.bytes_s2c += n;
                        s.chunks_s2c += 1;
                    }
                }
            }
            FrameBody::Loss { bytes, .. } => s.lost_bytes = s.lost_bytes.saturating_add(*bytes),
            _ => {}
        }
        if frame.conn == 0 {
            return;
        }
        if matches!(frame.body, FrameBody::Annotation { .. })
            && !self.index.contains_key(&frame.conn)
        {
            // Notes about a connection we never saw do not invent one.
            return;
        }
        let entry = self.entry(frame.conn, frame.ts_ns, offset);
        match &frame.body {
            FrameBody::Open(info) => {
                entry.client.clone_from(&info.client);
                entry.proxy_id.clone_from(&info.proxy_id);
                entry.upstream.clone_from(&info.upstream);
                entry.mid_session = info.mid_session;
            }
            FrameBody::Data { dir, payload } => match dir {
                Direction::C2s => entry.bytes_c2s += payload.len() as u64,
                Direction::S2c => entry.bytes_s2c += payload.len() as u64,
            },
            FrameBody::Close { reason } => {
                entry.closed_ts_ns = Some(frame.ts_ns);
                entry.close_reason = Some(reason.clone());
            }
            FrameBody::HalfClose { .. } | FrameBody::Loss { .. } | FrameBody::Annotation { .. } => {
            }
        }
    }

    /// The totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The connection table so far, in order of first appearance.
    pub fn connections(&self) -> &[ConnSummary] {
        &self.connections
    }

    /// Consumes the builder into the totals and the connection table.
    pub fn into_parts(self) -> (Summary, Vec<ConnSummary>) {
        (self.summary, self.connections)
    }

    /// Builds the footer written at a clean stop.
    pub fn finish(self, ended_unix_ns: i64, end_reason: &str, error: Option<String>) -> Footer {
        Footer {
            summary: self.summary,
            connections: self.connections,
            ended_unix_ns,
            end_reason: end_reason.to_owned(),
            error,
            connection_detail_omitted: false,
        }
    }

    fn entry(&mut self, conn: u64, ts_ns: u64, offset: u64) -> &mut ConnSummary {
        let next = self.connections.len();
        let i = *self.index.entry(conn).or_insert(next);
        if i == next {
            self.summary.connections += 1;
            self.connections.push(ConnSummary {
                conn,
                opened_ts_ns: ts_ns,
                first_frame_offset: offset,
                ..ConnSummary::default()
            });
        }
        &mut self.connections[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::frame::OpenInfo;
    use bytes::Bytes;

    fn data(conn: u64, ts_ns: u64, dir: Direction, n: usize) -> Frame {
        Frame {
            conn,
            ts_ns,
            body: FrameBody::Data {
                dir,
                payload: Bytes::from(vec![b'x'; n]),
            },
        }
    }

    #[test]
    fn counts_known_frames_exactly() {
        let open = |conn, client: &str| Frame {
            conn,
            ts_ns: conn * 10,
            body: FrameBody::Open(OpenInfo {
                client: client.into(),
                proxy_id: "p1".into(),
                upstream: "up:1".into(),
                mid_session: conn == 2,
                opened_unix_ns: 5,
            }),
        };
        let frames = [
            (open(1, "c:1"), 100),
            (open(2, "c:2"), 150),
            (data(1, 30, Direction::C2s, 10), 200),
            (data(1, 40, Direction::S2c, 100), 250),
            (data(2, 50, Direction::C2s, 7), 300),
            (data(1, 60, Direction::S2c, 1), 350),
            (
                Frame {
                    conn: 2,
                    ts_ns: 65,
                    body: FrameBody::Loss {
                        dir: Direction::S2c,
                        bytes: 4096,
                        reason: "queue full".into(),
                    },
                },
                400,
            ),
            (
                Frame {
                    conn: 0,
                    ts_ns: 66,
                    body: FrameBody::Annotation {
                        text: "note".into(),
                    },
                },
                450,
            ),
            (
                Frame {
                    conn: 1,
                    ts_ns: 70,
                    body: FrameBody::HalfClose {
                        dir: Direction::C2s,
                    },
                },
                500,
            ),
            (
                Frame {
                    conn: 1,
                    ts_ns: 80,
                    body: FrameBody::Close {
                        reason: "client closed".into(),
                    },
                },
                550,
            ),
            // A connection whose OPEN was lost still counts.
            (data(9, 75, Direction::S2c, 3), 600),
        ];
        let mut b = SummaryBuilder::new();
        for (f, off) in &frames {
            b.observe(f, *off);
        }
        assert_eq!(
            *b.summary(),
            Summary {
                frames: 11,
                connections: 3,
                bytes_c2s: 17,
                bytes_s2c: 104,
                chunks_c2s: 2,
                chunks_s2c: 3,
                lost_bytes: 4096,
                last_ts_ns: 80,
            }
        );
        let c = b.connections();
        assert_eq!(c.iter().map(|c| c.conn).collect::<Vec<_>>(), [1, 2, 9]);
        assert_eq!((c[0].bytes_c2s, c[0].bytes_s2c), (10, 101));
        assert_eq!(c[0].closed_ts_ns, Some(80));
        assert_eq!(c[0].close_reason.as_deref(), Some("client closed"));
        assert_eq!(
            (c[0].client.as_str(), c[0].first_frame_offset),
            ("c:1", 100)
        );
        assert!(c[1].mid_session && c[1].closed_ts_ns.is_none());
        assert_eq!(
            (c[2].client.as_str(), c[2].bytes_s2c, c[2].opened_ts_ns),
            ("", 3, 75)
        );
        assert_eq!(c[2].first_frame_offset, 600);

        let footer = b.finish(99, "stopped", Some("boom".into()));
        assert_eq!(footer.summary.frames, 11);
        assert_eq!(footer.connections.len(), 3);
        assert_eq!(
            (footer.ended_unix_ns, footer.end_reason.as_str()),
            (99, "stopped")
        );
        assert_eq!(footer.error.as_deref(), Some("boom"));
    }

    #[test]
    fn annotation_on_unknown_connection_creates_no_entry() {
        let mut b = SummaryBuilder::new();
        let note = Frame {
            conn: 4,
            ts_ns: 1,
            body: FrameBody::Annotation { text: "?".into() },
        };
        b.observe(&note, 20);
        assert_eq!((b.summary().frames, b.summary().connections), (1, 0));
        b.observe(&data(4, 2, Direction::C2s, 1), 60);
        b.observe(&note, 80);
        assert_eq!(b.connections()[0].first_frame_offset, 60);
    }

    #[test]
    fn footer_json_tolerates_missing_and_unknown_fields() {
        let f: Footer = serde_json::from_str(r#"{"end_reason":"x","new":1}"#).unwrap();
        assert_eq!(f.end_reason, "x");
        assert_eq!(f.summary, Summary::default());
    }
}
