//! Imported UDP sessions: the datagrams between one client address and the
//! server become one session, as a reel UDP proxy would have recorded it.
//! Pure: datagrams and capture times in, frames out.
//!
//! OPEN `transport: udp` at the first datagram (mid-session when the server
//! spoke first: the session began before the capture), one DATAGRAM frame
//! per datagram, CLOSE `idle` once no datagram went either way for
//! [`UDP_IDLE_TIMEOUT_NS`] (stamped at the last datagram plus the timeout,
//! as the proxy closes it) or, for a session still open then, at the end of
//! the capture. A later datagram of the same addresses opens a new session.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use bytes::Bytes;

use crate::format::{Direction, Frame, FrameBody, OpenInfo, Transport};

/// `OpenInfo::proxy_id` of imported UDP sessions (and the id of the UDP
/// `ProxyMeta` an imported recording's header gets).
pub const IMPORT_UDP_PROXY_ID: &str = "pcap-udp";

/// A session with no datagram either way for this long is closed (`idle`):
/// the UDP proxy's default idle timeout (60 s), so an import splits
/// sessions where a reel proxy would have.
pub const UDP_IDLE_TIMEOUT_NS: u64 = 60 * 1_000_000_000;

/// (client, server) of a session.
type Key = (SocketAddr, SocketAddr);

/// One open session.
#[derive(Debug, Clone, Copy)]
struct Session {
    /// Connection id in the recording.
    id: u64,
    /// Timestamp of its last datagram.
    last_ts: u64,
}

/// The open UDP sessions of an import.
#[derive(Debug, Default)]
pub(crate) struct UdpSessions {
    /// Open sessions by their addresses.
    open: HashMap<Key, Session>,
    /// The same sessions by (last datagram, id): the first one idles out
    /// first, so expiry looks at the front only.
    by_last: BTreeMap<(u64, u64), Key>,
}

impl UdpSessions {
    /// Closes (CLOSE `idle` at last datagram + timeout) every session idle
    /// for longer than the timeout at capture time `now_ts`.
    pub(crate) fn expire(&mut self, now_ts: u64, frames: &mut Vec<Frame>) {
        while let Some((&(last_ts, id), _)) = self.by_last.first_key_value() {
            if now_ts.saturating_sub(last_ts) <= UDP_IDLE_TIMEOUT_NS {
                break;
            }
            if let Some(key) = self.by_last.remove(&(last_ts, id)) {
                self.open.remove(&key);
            }
            frames.push(close(id, last_ts.saturating_add(UDP_IDLE_TIMEOUT_NS)));
        }
    }

    /// One datagram of `key` sent in `dir` at `ts_ns` (capture time
    /// `unix_ns`). A new session takes `next_id` and returns true.
    pub(crate) fn datagram(
        &mut self,
        key: Key,
        dir: Direction,
        payload: &[u8],
        (ts_ns, unix_ns): (u64, u64),
        next_id: u64,
        frames: &mut Vec<Frame>,
    ) -> bool {
        self.expire(ts_ns, frames);
        let opened = !self.open.contains_key(&key);
        let session = self.open.entry(key).or_insert_with(|| {
            frames.push(Frame {
                conn: next_id,
                ts_ns,
                body: FrameBody::Open(OpenInfo {
                    client: key.0.to_string(),
                    proxy_id: IMPORT_UDP_PROXY_ID.into(),
                    upstream: key.1.to_string(),
                    mid_session: dir == Direction::S2c,
                    opened_unix_ns: i64::try_from(unix_ns).unwrap_or(i64::MAX),
                    transport: Transport::Udp,
                }),
            });
            Session {
                id: next_id,
                last_ts: ts_ns,
            }
        });
        self.by_last.remove(&(session.last_ts, session.id));
        // A capture's times may step back; the session idles from its latest.
        session.last_ts = session.last_ts.max(ts_ns);
        self.by_last.insert((session.last_ts, session.id), key);
        frames.push(Frame {
            conn: session.id,
            ts_ns,
            body: FrameBody::Datagram {
                dir,
                payload: Bytes::copy_from_slice(payload),
            },
        });
        opened
    }

    /// The capture ended at `end_ts`: every session still open closes
    /// `idle`, at its idle deadline or the end, whichever is first (never
    /// before its last datagram).
    pub(crate) fn finish(&mut self, end_ts: u64, frames: &mut Vec<Frame>) {
        for ((last_ts, id), _) in std::mem::take(&mut self.by_last) {
            let at = last_ts
                .saturating_add(UDP_IDLE_TIMEOUT_NS)
                .min(end_ts)
                .max(last_ts);
            frames.push(close(id, at));
        }
        self.open.clear();
    }
}

fn close(conn: u64, ts_ns: u64) -> Frame {
    Frame {
        conn,
        ts_ns,
        body: FrameBody::Close {
            reason: "idle".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn describe(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match &f.body {
                FrameBody::Open(i) => format!(
                    "{} {} open {} mid={}",
                    f.conn, f.ts_ns, i.client, i.mid_session
                ),
                FrameBody::Datagram { dir, payload } => {
                    format!("{} {} {dir:?} {}", f.conn, f.ts_ns, payload.len())
                }
                FrameBody::Close { reason } => format!("{} {} {reason}", f.conn, f.ts_ns),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn sessions_open_per_client_idle_out_and_reopen() {
        use Direction::{C2s, S2c};
        let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let server: SocketAddr = "10.0.0.9:7777".parse().unwrap();
        let mut u = UdpSessions::default();
        let mut frames = Vec::new();
        assert!(u.datagram((a, server), C2s, b"x", (0, 0), 1, &mut frames));
        assert!(!u.datagram((a, server), S2c, b"yy", (S, 0), 9, &mut frames));
        // The server speaks first to b: a session begun before the capture.
        assert!(u.datagram((b, server), S2c, b"z", (2 * S, 0), 2, &mut frames));
        // 61 s after a's last datagram, a is closed at 1 s + 60 s, and its
        // next datagram opens session 3; b (59 s quiet) stays open.
        assert!(u.datagram((a, server), C2s, b"again", (61 * S + 1, 0), 3, &mut frames));
        u.finish(70 * S, &mut frames);
        assert_eq!(
            describe(&frames),
            [
                "1 0 open 10.0.0.1:4000 mid=false",
                "1 0 C2s 1",
                "1 1000000000 S2c 2",
                "2 2000000000 open 10.0.0.2:4000 mid=true",
                "2 2000000000 S2c 1",
                "1 61000000000 idle",
                "3 61000000001 open 10.0.0.1:4000 mid=false",
                "3 61000000001 C2s 5",
                "2 62000000000 idle",
                "3 70000000000 idle",
            ]
        );
    }
}
