//! What a tap message becomes in the file: its frames, with an OPEN the
//! first time a segment hears of a connection; and what a writer lane
//! keeps to decide that.

use std::collections::HashSet;
use std::time::Instant;

use crate::format::{Frame, FrameBody, OpenInfo, Summary};
use crate::record::info::time_to_unix_ns;
use crate::tap::{TapKind, TapMsg};

/// What the loop keeps between messages besides the writer.
#[derive(Default)]
pub(super) struct Books {
    /// Connections with an OPEN in the open segment.
    pub(super) known: HashSet<u64>,
    /// Connections of this lane not closed yet: one that reappears in a
    /// later segment starts it with a repeated, mid-session OPEN.
    pub(super) live: HashSet<u64>,
    pub(super) last_ts: u64,
    /// Bytes of the open segment already counted in the quota.
    pub(super) counted: u64,
    /// Number of the open segment in the lane.
    pub(super) index: u32,
    /// When it was opened (its age decides rotation).
    pub(super) opened: Option<Instant>,
    /// Totals of the lane's sealed segments, and their bytes.
    pub(super) sealed: Summary,
    pub(super) sealed_size: u64,
    /// OPENs repeated at the start of segments: frames, not connections.
    pub(super) reopened: u64,
}

impl Books {
    /// The lane's totals so far: sealed segments and the open one, a
    /// connection counted once.
    pub(super) fn totals(&self, open: &Summary) -> Summary {
        let mut all = self.sealed.clone();
        all.add(open);
        all.frames = all.frames.saturating_sub(self.reopened);
        all.connections = all.connections.saturating_sub(self.reopened);
        all
    }
}

/// The frames one tap message becomes: an OPEN first for a connection the
/// open segment has not described yet (mid-session when it opened before
/// the recording started, or when an earlier segment described it).
/// Timestamps never go backwards in the file, so the file's order and its
/// clock agree.
pub(super) fn frames_for(tap: &TapMsg, start: Instant, books: &mut Books) -> Vec<Frame> {
    let conn = &tap.conn;
    let ts = tap.ts_ns.max(books.last_ts);
    books.last_ts = ts;
    let mut out = Vec::with_capacity(2);
    if books.known.insert(conn.id) {
        let continued = !books.live.insert(conn.id);
        if continued {
            books.reopened += 1;
        }
        out.push(Frame {
            conn: conn.id,
            ts_ns: ts,
            body: FrameBody::Open(OpenInfo {
                client: conn.client.to_string(),
                proxy_id: conn.proxy_id.to_string(),
                upstream: conn.upstream.to_string(),
                mid_session: continued || conn.opened < start,
                opened_unix_ns: time_to_unix_ns(conn.opened_at),
                transport: conn.transport,
            }),
        });
    }
    let body = match &tap.kind {
        TapKind::Open => None,
        TapKind::Data(dir, bytes) => Some(FrameBody::Data {
            dir: *dir,
            payload: bytes.clone(),
        }),
        TapKind::Datagram(dir, bytes) => Some(FrameBody::Datagram {
            dir: *dir,
            payload: bytes.clone(),
        }),
        TapKind::HalfClose(dir) => Some(FrameBody::HalfClose { dir: *dir }),
        TapKind::Close(reason) => {
            books.live.remove(&conn.id);
            Some(FrameBody::Close {
                reason: reason.clone(),
            })
        }
    };
    if let Some(body) = body {
        out.push(Frame {
            conn: conn.id,
            ts_ns: ts,
            body,
        });
    }
    out
}
