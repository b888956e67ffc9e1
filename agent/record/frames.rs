//! What a tap message becomes in the file: its frames, with an OPEN the
//! first time a recording hears of a connection.

use std::collections::HashSet;
use std::time::Instant;

use crate::format::{Frame, FrameBody, OpenInfo};
use crate::record::info::time_to_unix_ns;
use crate::tap::{TapKind, TapMsg};

/// The frames one tap message becomes: an OPEN first for a connection this
/// recording has not described yet (mid-session when it opened before the
/// recording started). Timestamps never go backwards in the file, so the
/// file's order and its clock agree.
pub(super) fn frames_for(
    tap: &TapMsg,
    start: Instant,
    known: &mut HashSet<u64>,
    last_ts: &mut u64,
) -> Vec<Frame> {
    let conn = &tap.conn;
    let ts = (tap.at.saturating_duration_since(start).as_nanos() as u64).max(*last_ts);
    *last_ts = ts;
    let mut out = Vec::with_capacity(2);
    if known.insert(conn.id) {
        out.push(Frame {
            conn: conn.id,
            ts_ns: ts,
            body: FrameBody::Open(OpenInfo {
                client: conn.client.to_string(),
                proxy_id: conn.proxy_id.to_string(),
                upstream: conn.upstream.to_string(),
                mid_session: conn.opened < start,
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
        TapKind::Close(reason) => Some(FrameBody::Close {
            reason: reason.clone(),
        }),
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
