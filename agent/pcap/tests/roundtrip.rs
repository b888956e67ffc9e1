//! Export then import: the recording's bytes come back per connection and
//! direction, with the same timing, closes and losses.

use super::util::*;
use crate::format::{Direction, End, FrameBody};
use crate::pcap::{LOST_REASON, ServerFilter, export_pcapng, import_reader};

fn server() -> ServerFilter {
    "*:5630".parse().unwrap()
}

#[test]
fn export_then_import_gives_back_every_stream() {
    let frames = sample_frames();
    let mut pcapng = Vec::new();
    let exported = export_pcapng(recording(&frames).as_slice(), &mut pcapng).unwrap();
    assert_eq!(
        (
            exported.connections,
            exported.mid_session_connections,
            exported.fallback_addresses
        ),
        (6, 2, 2)
    );
    assert_eq!(
        (exported.bytes_c2s, exported.bytes_s2c),
        (11 + 13 + 1 + 70_000 + 6 + 5, 150_003 + 2 + 4 + 8)
    );
    assert_eq!(exported.skipped_frames, 2);
    assert!(matches!(exported.end, End::Complete(_)));

    let mut w = memory_writer();
    let summary = import_reader(pcapng.as_slice(), &server(), &mut w).unwrap();
    let (_, imported, end) = read_frames(&finished(w));
    assert!(matches!(end, End::Complete(_)));
    // Conn 5 went to the 127.0.0.1:1 fallback, which is not the server.
    let expected: Vec<_> = streams(&frames)
        .into_iter()
        .filter(|(conn, _)| *conn != 5)
        .map(|(_, s)| s)
        .collect();
    let got: Vec<_> = streams(&imported).into_iter().map(|(_, s)| s).collect();
    assert_eq!(got, expected);
    assert_eq!(
        (summary.connections, summary.mid_session_connections),
        (5, 1)
    );
    assert_eq!(summary.other_flow_packets, 2);
    assert_eq!(
        (summary.bytes_c2s, summary.bytes_s2c),
        (exported.bytes_c2s - 6, exported.bytes_s2c)
    );
    assert_eq!(
        (
            summary.lost_bytes,
            summary.duplicate_bytes,
            summary.truncated
        ),
        (0, 0, None)
    );
    assert_eq!(summary.packets, exported.packets);

    // Per imported connection: first frame ts, first data ts and close, with
    // the time origin at the first packet (conn 1's SYN at 1 ms).
    // (imported conn, OPEN ts ms, first DATA ts ms, close reason)
    let table: [(u64, u64, u64, Option<&str>); 5] = [
        (1, 0, 1, Some("closed")),
        (2, 2, 4, Some("reset")),
        (3, 11, 11, None),
        (4, 13, 14, Some("closed")),
        (5, 17, 18, Some("closed")),
    ];
    for (conn, open_ms, data_ms, reason) in table {
        let of_conn: Vec<_> = imported.iter().filter(|f| f.conn == conn).collect();
        assert!(matches!(of_conn[0].body, FrameBody::Open(_)), "conn {conn}");
        assert_eq!(of_conn[0].ts_ns, open_ms * MS, "conn {conn} open");
        let first_data = of_conn
            .iter()
            .find(|f| matches!(f.body, FrameBody::Data { .. }))
            .unwrap();
        assert_eq!(first_data.ts_ns, data_ms * MS, "conn {conn} data");
        let closed = of_conn.iter().find_map(|f| match &f.body {
            FrameBody::Close { reason } => Some(reason.as_str()),
            _ => None,
        });
        assert_eq!(closed, reason, "conn {conn}");
    }
    let FrameBody::Open(info) = &imported[0].body else {
        panic!("first frame is not an OPEN");
    };
    assert_eq!(
        (info.client.as_str(), info.upstream.as_str()),
        ("10.0.0.1:40001", "10.0.0.2:5630")
    );
}

#[test]
fn recorded_loss_comes_back_as_loss() {
    use Direction::{C2s, S2c};
    let frames = [
        frame(1, 0, open("10.0.0.1:1000", "10.0.0.2:5630", false)),
        frame(1, 1, data(C2s, b"abc")),
        frame(
            1,
            2,
            FrameBody::Loss {
                dir: C2s,
                bytes: 5,
                reason: "disk full".into(),
            },
        ),
        frame(1, 3, data(C2s, b"def")),
        frame(1, 4, FrameBody::HalfClose { dir: C2s }),
        frame(1, 5, data(S2c, b"x")),
        frame(1, 6, close("client closed")),
    ];
    let mut pcapng = Vec::new();
    let exported = export_pcapng(recording(&frames).as_slice(), &mut pcapng).unwrap();
    assert_eq!(exported.lost_bytes, 5);
    let mut w = memory_writer();
    let summary = import_reader(pcapng.as_slice(), &server(), &mut w).unwrap();
    let (_, imported, _) = read_frames(&finished(w));
    let kinds: Vec<String> = imported
        .iter()
        .map(|f| match &f.body {
            FrameBody::Open(_) => "open".into(),
            FrameBody::Datagram { dir, payload } => format!("datagram {dir:?} {}", payload.len()),
            FrameBody::Data { dir, payload } => {
                format!("{dir:?} {}", String::from_utf8_lossy(payload))
            }
            FrameBody::Loss { dir, bytes, reason } => {
                assert_eq!(reason, LOST_REASON);
                format!("loss {dir:?} {bytes}")
            }
            FrameBody::HalfClose { dir } => format!("fin {dir:?}"),
            FrameBody::Close { reason } => format!("close {reason}"),
            FrameBody::Annotation { .. } => "annotation".into(),
        })
        .collect();
    // "def" waits behind the gap until the capture ends.
    assert_eq!(
        kinds,
        [
            "open",
            "C2s abc",
            "S2c x",
            "fin S2c",
            "loss C2s 5",
            "C2s def",
            "fin C2s",
            "close closed"
        ]
    );
    assert_eq!((summary.lost_bytes, summary.out_of_order_segments), (5, 1));
}
