//! Tests of `analysis`.

use super::*;

/// An analysis with every optional part set, so a field the conversion
/// forgets shows up as a difference.
fn full() -> Analysis {
    let messages = MessageStats {
        count: 3,
        bytes: 30,
        min: 4,
        avg: 10.0,
        p95: 16,
        max: 16,
        incomplete_bytes: 2,
        unframed_bytes: 5,
        framing_errors: 1,
    };
    let direction = |bytes| DirectionStats {
        bytes,
        chunks: 4,
        lost_bytes: 7,
        avg_bytes_per_sec: 1.5,
        p95_bytes_per_sec: 9,
        peak_bytes_per_sec: 11,
        bytes_per_sec_per_client: 0.75,
        messages: Some(messages.clone()),
        datagrams: 5,
        datagram_bytes: 60,
        avg_datagrams_per_sec: 2.5,
        peak_datagrams_per_sec: 4,
        datagram_sizes: Some(DatagramSizes {
            min: 1,
            avg: 12.0,
            p50: 10,
            p95: 20,
            p99: 21,
            max: 22,
        }),
    };
    let connection = |conn, closed: Option<u64>| ConnectionStats {
        conn,
        client: "127.0.0.1:5000".into(),
        upstream: "127.0.0.1:6000".into(),
        proxy_id: "p1".into(),
        mid_session: conn == 2,
        opened_ts_ns: 10,
        closed_ts_ns: closed,
        close_reason: closed.map(|_| "eof".into()),
        bytes_c2s: 1,
        bytes_s2c: 2,
        chunks_c2s: 3,
        chunks_s2c: 4,
        transport: if conn == 2 {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        datagrams_c2s: 5,
        datagrams_s2c: 6,
    };
    Analysis {
        duration_ns: 2_500_000_000,
        frames: 42,
        connections: ConnectionCounts {
            total: 2,
            peak_online: 2,
            mid_session: 1,
            closed: 1,
            connection_seconds: 3.25,
            avg_online: 1.3,
            udp_sessions: 1,
        },
        c2s: direction(100),
        s2c: direction(200),
        timeline: vec![SecondStats {
            second: 0,
            seconds: 2,
            bytes_c2s: 100,
            bytes_s2c: 200,
            chunks_c2s: 4,
            chunks_s2c: 4,
            online: 1,
            online_peak: 2,
            datagrams_c2s: 5,
            datagrams_s2c: 5,
        }],
        timeline_clipped_frames: 3,
        top_connections: vec![connection(1, Some(90)), connection(2, None)],
        framing: Some("u16be,offset=2".parse().unwrap()),
        end: Some(RecordingEnd::Complete),
    }
}

#[test]
fn every_field_survives_the_wire() {
    let ends = [
        None,
        Some(RecordingEnd::Complete),
        Some(RecordingEnd::Truncated {
            valid_bytes: 10,
            cut_bytes: 3,
        }),
        Some(RecordingEnd::Corrupted {
            offset: 64,
            reason: "checksum".into(),
        }),
    ];
    for end in ends {
        let a = Analysis { end, ..full() };
        assert_eq!(from_proto(to_proto(a.clone())).unwrap(), a);
    }
    let bare = Analysis {
        framing: None,
        c2s: DirectionStats::default(),
        ..full()
    };
    assert_eq!(from_proto(to_proto(bare.clone())).unwrap(), bare);
}

#[test]
fn a_framing_that_does_not_parse_is_named() {
    let mut wire = to_proto(full());
    wire.framing = "u64be".into();
    let e = from_proto(wire).unwrap_err().to_string();
    assert!(e.starts_with("invalid analysis.framing: "), "{e}");
}
