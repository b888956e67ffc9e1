//! Recording totals and the per-connection table, as the footer holds them.
//!
//! [`SummaryBuilder`] is the one code that counts them: the writer feeds it
//! as it writes (to produce the footer) and the scanner feeds it as it reads
//! (to recover a file without a footer), so both always agree. Listings use
//! these totals; the analysis (`stats`) computes figures of its own (rates,
//! messages, timelines) in a pass of its own.

use std::collections::HashMap;

pub use super::footer::{ConnSummary, Footer, Summary};
use super::frame::{Direction, Frame, FrameBody};

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
            FrameBody::Datagram { dir, payload } => {
                let n = payload.len() as u64;
                match dir {
                    Direction::C2s => {
                        s.bytes_c2s += n;
                        s.datagrams_c2s += 1;
                    }
                    Direction::S2c => {
                        s.bytes_s2c += n;
                        s.datagrams_s2c += 1;
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
                entry.transport = info.transport;
            }
            FrameBody::Data { dir, payload } | FrameBody::Datagram { dir, payload } => match dir {
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
            truncated_bytes: 0,
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
    use crate::format::frame::{OpenInfo, Transport};
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
                transport: Transport::Tcp,
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
                ..Summary::default()
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
