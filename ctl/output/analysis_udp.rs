//! The UDP part of `stats`' human rendering: the datagram rows of the
//! per-direction table and the datagram columns of the busiest connections,
//! shown only when the recording has datagrams (a TCP-only recording prints
//! as before).

use reel::format::Transport;
use reel::stats::{Analysis, ConnectionStats, DatagramSizes, DirectionStats};

use crate::output::format::bytes;

/// Whether the recording has UDP traffic to show.
pub(crate) fn has_datagrams(a: &Analysis) -> bool {
    a.c2s.datagrams > 0 || a.s2c.datagrams > 0 || a.connections.udp_sessions > 0
}

/// Rows (label, c2s, s2c) for the per-direction table: datagram counts,
/// rates and sizes. Empty without datagrams.
pub(crate) fn direction_rows(a: &Analysis) -> Vec<(String, [String; 2])> {
    if !has_datagrams(a) {
        return Vec::new();
    }
    let both = |f: &dyn Fn(&DirectionStats) -> String| [f(&a.c2s), f(&a.s2c)];
    let size = |f: fn(&DatagramSizes) -> u64| {
        both(&|d| {
            d.datagram_sizes
                .as_ref()
                .map_or("-".into(), |s| bytes(f(s)))
        })
    };
    vec![
        ("datagrams".into(), both(&|d| d.datagrams.to_string())),
        (
            "datagrams/s average".into(),
            both(&|d| format!("{:.1}", d.avg_datagrams_per_sec)),
        ),
        (
            "datagrams/s peak".into(),
            both(&|d| d.peak_datagrams_per_sec.to_string()),
        ),
        ("datagram size p50".into(), size(|s| s.p50)),
        ("datagram size p95".into(), size(|s| s.p95)),
        ("datagram size p99".into(), size(|s| s.p99)),
        ("datagram size max".into(), size(|s| s.max)),
    ]
}

/// ` (2 UDP sessions)` after the connection total, or nothing.
pub(crate) fn sessions_note(a: &Analysis) -> String {
    match a.connections.udp_sessions {
        0 => String::new(),
        1 => " (1 UDP session)".into(),
        n => format!(" ({n} UDP sessions)"),
    }
}

/// Whether the busiest-connections table needs the UDP columns.
pub(crate) fn top_has_udp(a: &Analysis) -> bool {
    a.top_connections
        .iter()
        .any(|c| c.transport == Transport::Udp)
}

/// The UDP cells of one busiest connection: transport, datagrams c2s and
/// s2c (`-` for TCP).
pub(crate) fn top_cells(c: &ConnectionStats) -> [String; 3] {
    match c.transport {
        Transport::Udp => [
            "udp".into(),
            c.datagrams_c2s.to_string(),
            c.datagrams_s2c.to_string(),
        ],
        Transport::Tcp => ["tcp".into(), "-".into(), "-".into()],
    }
}
