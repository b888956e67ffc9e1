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

#[cfg(test)]
mod tests {
    use super::*;
    use reel::stats::ConnectionCounts;

    fn analysis(udp: bool) -> Analysis {
        let sizes = DatagramSizes {
            min: 1,
            avg: 270.2,
            p50: 50,
            p95: 1400,
            p99: 1400,
            max: 1400,
        };
        let dir = DirectionStats {
            datagrams: 6,
            avg_datagrams_per_sec: 1.5,
            peak_datagrams_per_sec: 4,
            datagram_sizes: Some(sizes),
            ..DirectionStats::default()
        };
        Analysis {
            duration_ns: 0,
            frames: 0,
            connections: ConnectionCounts {
                udp_sessions: 2,
                ..ConnectionCounts::default()
            },
            c2s: if udp {
                dir.clone()
            } else {
                DirectionStats::default()
            },
            s2c: if udp { dir } else { DirectionStats::default() },
            timeline: Vec::new(),
            timeline_clipped_frames: 0,
            top_connections: vec![ConnectionStats {
                transport: if udp { Transport::Udp } else { Transport::Tcp },
                datagrams_c2s: 4,
                datagrams_s2c: 3,
                ..ConnectionStats::default()
            }],
            framing: None,
            end: None,
        }
    }

    #[test]
    fn udp_rows_and_cells_only_with_datagrams() {
        let a = analysis(true);
        let rows = direction_rows(&a);
        let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "datagrams",
                "datagrams/s average",
                "datagrams/s peak",
                "datagram size p50",
                "datagram size p95",
                "datagram size p99",
                "datagram size max"
            ]
        );
        assert_eq!(rows[1].1, ["1.5".to_string(), "1.5".to_string()]);
        assert_eq!(rows[5].1[0], "1.4 KiB");
        assert_eq!(sessions_note(&a), " (2 UDP sessions)");
        assert!(top_has_udp(&a));
        assert_eq!(top_cells(&a.top_connections[0]), ["udp", "4", "3"]);

        let mut tcp = analysis(false);
        tcp.connections.udp_sessions = 0;
        assert!(direction_rows(&tcp).is_empty());
        assert_eq!(sessions_note(&tcp), "");
        assert!(!top_has_udp(&tcp));
        assert_eq!(top_cells(&tcp.top_connections[0]), ["tcp", "-", "-"]);
    }
}
