//! Datagram figures of a crafted recording mixing one TCP connection and
//! two UDP sessions: every number worked out by hand below, through the
//! real writer and reader (a version-2 file).

use super::sample::*;
use crate::fixtures::{close as close_frame, datagram, open_udp, write_into};
use crate::format::{Direction, Frame, Header, ProxyMeta, Transport};
use crate::stats::*;

/// conn 1 (TCP): 10 B c2s at 0.5 s, closed at 1.5 s.
/// conn 2 (UDP): c2s 100 B at 0.2 s, 20 B at 0.3 s, 20 B at 1.2 s; s2c
///   100 B at 0.25 s, 1,400 B at 2.1 s; closed `idle` at 2.5 s.
/// conn 3 (UDP): c2s 20 B at 1.1 s and 1.3 s; closed `stopped` at 3.0 s.
/// The recording stops at 3.0 s: n = ⌊3.0⌋ + 1 = 4 whole seconds.
fn mixed() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let ms = S / 1000;
    vec![
        frame(1, 0, open("10.0.0.5:4000", false)),
        frame(2, 100 * ms, open_udp("10.0.0.1:5000", "10.0.0.9:7777")),
        frame(2, 200 * ms, datagram(C2s, &[1; 100])),
        frame(2, 250 * ms, datagram(S2c, &[2; 100])),
        frame(2, 300 * ms, datagram(C2s, &[3; 20])),
        frame(1, 500 * ms, data(C2s, &[4; 10])),
        frame(3, 1000 * ms, open_udp("10.0.0.2:5000", "10.0.0.9:7777")),
        frame(3, 1100 * ms, datagram(C2s, &[5; 20])),
        frame(2, 1200 * ms, datagram(C2s, &[6; 20])),
        frame(3, 1300 * ms, datagram(C2s, &[7; 20])),
        frame(1, 1500 * ms, close_frame("eof")),
        frame(2, 2100 * ms, datagram(S2c, &[8; 1400])),
        frame(2, 2500 * ms, close_frame("idle")),
        frame(3, 3000 * ms, close_frame("stopped")),
    ]
}

fn analyze_udp(frames: &[Frame]) -> Analysis {
    let header = Header {
        id: "udp-stats".into(),
        started_at_unix_ns: STARTED_UNIX_NS,
        proxies: vec![ProxyMeta {
            id: "p1".into(),
            transport: Transport::Udp,
            ..ProxyMeta::default()
        }],
        ..Header::default()
    };
    let last = frames.iter().map(|f| f.ts_ns).max().unwrap_or(0);
    let bytes = write_into(
        Vec::new(),
        &header,
        frames.iter().cloned(),
        STARTED_UNIX_NS + last as i64,
    )
    .unwrap();
    analyze_reader(std::io::Cursor::new(bytes), AnalyzeOptions::default()).unwrap()
}

#[test]
fn datagram_totals_rates_and_sizes_are_exact() {
    let a = analyze_udp(&mixed());
    assert_eq!((a.frames, a.duration_ns), (14, 3 * S));
    let c = &a.connections;
    assert_eq!((c.total, c.udp_sessions, c.closed), (3, 2, 3));

    // c2s: 5 datagrams (100, 20, 20, 20, 20 B), plus the TCP 10 B.
    let d = &a.c2s;
    assert_eq!((d.bytes, d.chunks), (190, 1));
    assert_eq!((d.datagrams, d.datagram_bytes), (5, 180));
    assert!(close(d.avg_datagrams_per_sec, 5.0 / 4.0));
    // Second 0: 2 datagrams, second 1: 3.
    assert_eq!(d.peak_datagrams_per_sec, 3);
    // Sorted 20, 20, 20, 20, 100: ranks 3, 5, 5.
    assert_eq!(
        d.datagram_sizes,
        Some(DatagramSizes {
            min: 20,
            avg: 36.0,
            p50: 20,
            p95: 100,
            p99: 100,
            max: 100
        })
    );
    // Bytes rates count datagram bytes: second 0 holds 100 + 20 + 10.
    assert!(close(d.avg_bytes_per_sec, 190.0 / 4.0));
    assert_eq!(d.peak_bytes_per_sec, 130);

    // s2c: 100 B in second 0, 1,400 B in second 2.
    let d = &a.s2c;
    assert_eq!((d.bytes, d.chunks, d.datagrams), (1500, 0, 2));
    assert!(close(d.avg_datagrams_per_sec, 0.5));
    assert_eq!(d.peak_datagrams_per_sec, 1);
    assert_eq!(
        d.datagram_sizes,
        Some(DatagramSizes {
            min: 100,
            avg: 750.0,
            p50: 100,
            p95: 1400,
            p99: 1400,
            max: 1400
        })
    );
    assert_eq!(d.peak_bytes_per_sec, 1400);
}

#[test]
fn timeline_rows_count_datagrams_and_their_bytes() {
    let a = analyze_udp(&mixed());
    // (second, bytes c2s, bytes s2c, chunks c2s, datagrams c2s, datagrams s2c, online)
    let got: Vec<_> = a
        .timeline
        .iter()
        .map(|r| {
            (
                r.second,
                r.bytes_c2s,
                r.bytes_s2c,
                r.chunks_c2s,
                r.datagrams_c2s,
                r.datagrams_s2c,
                r.online,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, 130, 100, 1, 2, 1, 2),
            (1, 60, 0, 0, 3, 0, 2),
            (2, 0, 1400, 0, 0, 1, 1),
            (3, 0, 0, 0, 0, 0, 0),
        ]
    );
    let csv = a.timeline_csv();
    assert!(
        csv.lines().nth(1) == Some("0,130,100,1,0,2,2,1,2,1"),
        "{csv}"
    );
}

#[test]
fn busiest_connections_show_udp_sessions_and_their_datagrams() {
    let a = analyze_udp(&mixed());
    let top: Vec<_> = a
        .top_connections
        .iter()
        .map(|c| {
            (
                c.conn,
                c.transport,
                c.bytes_c2s,
                c.bytes_s2c,
                c.datagrams_c2s,
                c.datagrams_s2c,
                c.chunks_c2s,
                c.close_reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            (2, Transport::Udp, 140, 1500, 3, 2, 0, Some("idle")),
            (3, Transport::Udp, 40, 0, 2, 0, 0, Some("stopped")),
            (1, Transport::Tcp, 10, 0, 0, 0, 1, Some("eof")),
        ]
    );
    // The JSON names the transport; TCP-only analyses keep their shape.
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["top_connections"][0]["transport"], "udp");
    assert_eq!(json["top_connections"][2]["transport"], "tcp");
    assert_eq!(json["c2s"]["datagram_sizes"]["p99"], 100);
    let back: Analysis = serde_json::from_value(json).unwrap();
    assert_eq!(back, a);
}

#[test]
fn a_tcp_recording_has_no_datagram_figures() {
    let a = analyze(&sample(), AnalyzeOptions::default());
    for d in [&a.c2s, &a.s2c] {
        assert_eq!((d.datagrams, d.peak_datagrams_per_sec), (0, 0));
        assert_eq!(d.datagram_sizes, None);
    }
    assert_eq!(a.connections.udp_sessions, 0);
    assert!(
        a.top_connections
            .iter()
            .all(|c| c.transport == Transport::Tcp)
    );
}
