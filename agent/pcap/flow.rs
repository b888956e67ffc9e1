//! One imported connection: the TCP flow between one client and the server,
//! turned into recording frames as its packets arrive. Pure: packets in,
//! frames out.
//!
//! OPEN at the first packet (mid-session unless that packet is the client's
//! SYN), DATA for every run of bytes reassembly releases, LOSS for gaps the
//! capture never filled, HALF_CLOSE at each FIN (in stream order), CLOSE
//! "closed" once both sides sent FIN, CLOSE "reset" at a RST.

use std::net::SocketAddr;

use bytes::Bytes;

use super::reassembly::{Delivery, Reassembler, ReassemblyStats};
use crate::format::{Direction, Frame, FrameBody, MAX_PAYLOAD, OpenInfo};

/// `OpenInfo::proxy_id` of imported connections (and the id of the
/// `ProxyMeta` an imported recording's header gets).
pub const IMPORT_PROXY_ID: &str = "pcap";

/// Reason of the LOSS frames for gaps in the capture.
pub const LOST_REASON: &str = "not in the capture";

/// State of one imported connection.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Connection id in the recording.
    id: u64,
    /// c2s (client's bytes) and s2c (server's bytes) reassembly.
    streams: [Reassembler; 2],
    /// A CLOSE frame was written; later packets are ignored.
    closed: bool,
    /// Scratch list of what reassembly released for one packet.
    deliveries: Vec<Delivery>,
}

fn index(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

/// Whether a packet sent in `dir` opens a new connection: the client's SYN.
pub(crate) fn is_client_syn(dir: Direction, syn: bool, ack: bool) -> bool {
    dir == Direction::C2s && syn && !ack
}

impl Connection {
    /// Starts connection `id` at its first packet and writes its OPEN.
    /// `client_syn`: that packet is the client's SYN (else mid-session).
    pub(crate) fn open(
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        client_syn: bool,
        ts_ns: u64,
        unix_ns: u64,
        frames: &mut Vec<Frame>,
    ) -> Self {
        frames.push(Frame {
            conn: id,
            ts_ns,
            body: FrameBody::Open(OpenInfo {
                client: client.to_string(),
                proxy_id: IMPORT_PROXY_ID.into(),
                upstream: server.to_string(),
                mid_session: !client_syn,
                opened_unix_ns: i64::try_from(unix_ns).unwrap_or(i64::MAX),
                ..OpenInfo::default()
            }),
        });
        Connection {
            id,
            streams: Default::default(),
            closed: false,
            deliveries: Vec::new(),
        }
    }

    /// Whether a CLOSE was written.
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// Both directions' repair counters.
    pub(crate) fn stats(&self) -> [ReassemblyStats; 2] {
        [self.streams[0].stats, self.streams[1].stats]
    }

    /// One TCP segment sent in `dir` at `ts_ns`: `seq`, flags and payload.
    #[expect(clippy::too_many_arguments, reason = "the fields of one TCP segment")]
    pub(crate) fn segment(
        &mut self,
        dir: Direction,
        seq: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &[u8],
        ts_ns: u64,
        frames: &mut Vec<Frame>,
    ) {
        if self.closed {
            return;
        }
        if rst {
            self.close("reset", ts_ns, frames);
            return;
        }
        let stream = &mut self.streams[index(dir)];
        let mut out = std::mem::take(&mut self.deliveries);
        if syn {
            stream.syn(seq);
            if !payload.is_empty() || fin {
                stream.segment(seq.wrapping_add(1), payload, fin, &mut out);
            }
        } else {
            stream.segment(seq, payload, fin, &mut out);
        }
        self.emit(dir, ts_ns, &mut out, frames);
        self.deliveries = out;
        if self.streams.iter().all(Reassembler::finished) {
            self.closed = true;
            frames.push(self.frame(
                ts_ns,
                FrameBody::Close {
                    reason: "closed".into(),
                },
            ));
        }
    }

    /// The capture ended: gaps are given up (LOSS), buffered bytes and FINs
    /// delivered; CLOSE only if both sides had sent FIN.
    pub(crate) fn finish(&mut self, ts_ns: u64, frames: &mut Vec<Frame>) {
        if self.closed {
            return;
        }
        self.flush(ts_ns, frames);
        if self.streams.iter().all(Reassembler::finished) {
            self.closed = true;
            frames.push(self.frame(
                ts_ns,
                FrameBody::Close {
                    reason: "closed".into(),
                },
            ));
        }
    }

    fn close(&mut self, reason: &str, ts_ns: u64, frames: &mut Vec<Frame>) {
        self.flush(ts_ns, frames);
        self.closed = true;
        frames.push(self.frame(
            ts_ns,
            FrameBody::Close {
                reason: reason.into(),
            },
        ));
    }

    fn flush(&mut self, ts_ns: u64, frames: &mut Vec<Frame>) {
        let mut out = std::mem::take(&mut self.deliveries);
        for dir in [Direction::C2s, Direction::S2c] {
            self.streams[index(dir)].flush(&mut out);
            self.emit(dir, ts_ns, &mut out, frames);
        }
        self.deliveries = out;
    }

    fn frame(&self, ts_ns: u64, body: FrameBody) -> Frame {
        Frame {
            conn: self.id,
            ts_ns,
            body,
        }
    }

    /// Frames for what reassembly released in `dir`; empties `out`.
    fn emit(&self, dir: Direction, ts_ns: u64, out: &mut Vec<Delivery>, frames: &mut Vec<Frame>) {
        for delivery in out.drain(..) {
            match delivery {
                Delivery::Data(bytes) => {
                    let bytes = Bytes::from(bytes);
                    for start in (0..bytes.len()).step_by(MAX_PAYLOAD) {
                        let end = (start + MAX_PAYLOAD).min(bytes.len());
                        let payload = bytes.slice(start..end);
                        frames.push(self.frame(ts_ns, FrameBody::Data { dir, payload }));
                    }
                }
                Delivery::Lost(bytes) => frames.push(self.frame(
                    ts_ns,
                    FrameBody::Loss {
                        dir,
                        bytes,
                        reason: LOST_REASON.into(),
                    },
                )),
                Delivery::Fin => frames.push(self.frame(ts_ns, FrameBody::HalfClose { dir })),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Frame kinds and contents, for comparison.
    fn describe(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match &f.body {
                FrameBody::Open(i) => format!("open mid={}", i.mid_session),
                FrameBody::Data { dir, payload } => {
                    format!("{dir:?} {}", String::from_utf8_lossy(payload))
                }
                FrameBody::HalfClose { dir } => format!("fin {dir:?}"),
                FrameBody::Close { reason } => format!("close {reason}"),
                FrameBody::Loss { dir, bytes, .. } => format!("loss {dir:?} {bytes}"),
                FrameBody::Annotation { text } => text.clone(),
                FrameBody::Datagram { dir, payload } => {
                    format!("datagram {dir:?} {}", payload.len())
                }
            })
            .collect()
    }

    #[test]
    fn handshake_data_and_both_fins_close() {
        use Direction::{C2s, S2c};
        let mut frames = Vec::new();
        let mut c = Connection::open(
            1,
            addr("10.0.0.1:1"),
            addr("10.0.0.2:2"),
            true,
            0,
            0,
            &mut frames,
        );
        c.segment(C2s, 100, true, false, false, b"", 0, &mut frames);
        c.segment(S2c, 500, true, false, false, b"", 1, &mut frames);
        c.segment(C2s, 101, false, false, false, b"hi", 2, &mut frames);
        c.segment(S2c, 501, false, true, false, b"yo", 3, &mut frames);
        c.segment(C2s, 103, false, true, false, b"", 4, &mut frames);
        c.segment(C2s, 104, false, false, false, b"", 5, &mut frames); // last ACK: ignored
        assert_eq!(
            describe(&frames),
            [
                "open mid=false",
                "C2s hi",
                "S2c yo",
                "fin S2c",
                "fin C2s",
                "close closed"
            ]
        );
        assert!(c.closed());
    }

    #[test]
    fn reset_flushes_gaps_and_closes() {
        use Direction::{C2s, S2c};
        let mut frames = Vec::new();
        let mut c = Connection::open(
            2,
            addr("10.0.0.1:1"),
            addr("10.0.0.2:2"),
            false,
            0,
            0,
            &mut frames,
        );
        c.segment(S2c, 10, false, false, false, b"ab", 1, &mut frames);
        c.segment(S2c, 15, false, false, false, b"fg", 2, &mut frames);
        c.segment(C2s, 77, false, false, true, b"", 3, &mut frames);
        c.segment(S2c, 12, false, false, false, b"cde", 4, &mut frames); // after the reset
        assert_eq!(
            describe(&frames),
            [
                "open mid=true",
                "S2c ab",
                "loss S2c 3",
                "S2c fg",
                "close reset"
            ]
        );
        let mut again = Vec::new();
        c.finish(9, &mut again);
        assert!(again.is_empty());
    }
}
