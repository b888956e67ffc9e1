//! Hand-built captures with the troubles real ones have (reordering,
//! retransmissions, overlaps, a mid-connection start, foreign flows, a
//! reset, sequence wrap-around, a cut last packet), in every supported
//! container and link type: the import must give the exact byte streams.

use super::util::*;
use crate::format::{End, FrameBody};
use crate::pcap::{ImportSummary, ServerFilter, import_pcap_file, import_reader};
use crate::stats::{AnalyzeOptions, analyze_file};

const A: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:5630";
const B: &str = "10.0.0.9:41000";
const D: &str = "[2001:db8::1]:42000";
const SERVER6: &str = "[2001:db8::2]:5630";

/// The client's ISN: its stream wraps past 2^32 after 2 bytes.
const ISN_A: u32 = u32::MAX - 2;
const ISN_S: u32 = 7000;

fn at(isn: u32, offset: u32) -> u32 {
    isn.wrapping_add(1).wrapping_add(offset)
}

/// Flow A: "hello world!" / "OK!!" with every repair; flow B: mid-session;
/// flow D (IPv6): reset by the server; plus an ICMP packet and a foreign flow.
fn scenario() -> Vec<Pkt> {
    vec![
        icmp(0),
        tcp(10, A, SERVER, ISN_A, SYN, b""),
        tcp(20, SERVER, A, ISN_S, SYN_ACK, b""),
        tcp(30, A, SERVER, at(ISN_A, 0), ACK, b""),
        tcp(40, A, SERVER, at(ISN_A, 6), ACK, b"world"), // before "hello "
        tcp(50, A, SERVER, at(ISN_A, 0), ACK, b"hello "),
        tcp(60, A, SERVER, at(ISN_A, 0), ACK, b"hello "), // retransmission
        tcp(70, A, SERVER, at(ISN_A, 3), ACK, b"lo wor"), // all duplicate
        tcp(80, A, SERVER, at(ISN_A, 9), ACK, b"ld!"),    // "ld" duplicate
        tcp(90, SERVER, A, at(ISN_S, 0), ACK, b"OK"),
        tcp(100, SERVER, A, at(ISN_S, 1), ACK, b"K!!"), // "K" duplicate
        tcp(110, "10.0.0.1:40001", "10.0.0.3:80", 1, ACK, b"not ours"),
        tcp(120, SERVER, B, 9000, ACK, b"tail"), // B starts mid-connection
        tcp(130, B, SERVER, 5000, ACK, b"more"),
        tcp(140, B, SERVER, 5004, ACK, b"!"),
        tcp(150, A, SERVER, at(ISN_A, 12), FIN, b""),
        tcp(160, SERVER, A, at(ISN_S, 4), FIN, b""),
        tcp(170, A, SERVER, at(ISN_A, 13), ACK, b""), // after the close: ignored
        tcp(180, D, SERVER6, 1, SYN, b""),
        tcp(190, SERVER6, D, 100, SYN_ACK, b""),
        tcp(200, D, SERVER6, 2, ACK, b"x"),
        tcp(210, SERVER6, D, 101, RST, b""),
    ]
}

fn any_5630() -> ServerFilter {
    "*:5630".parse().unwrap()
}

fn import(capture: &[u8]) -> (ImportSummary, Vec<crate::format::Frame>) {
    let mut w = memory_writer();
    let summary = import_reader(capture, &any_5630(), &mut w).unwrap();
    let (_, frames, end) = read_frames(&finished(w));
    assert!(matches!(end, End::Complete(_)));
    (summary, frames)
}

fn close_reasons(frames: &[crate::format::Frame]) -> Vec<(u64, String)> {
    frames
        .iter()
        .filter_map(|f| match &f.body {
            FrameBody::Close { reason } => Some((f.conn, reason.clone())),
            _ => None,
        })
        .collect()
}

fn expected_streams() -> Vec<(u64, [Vec<u8>; 2])> {
    vec![
        (1, [b"hello world!".to_vec(), b"OK!!".to_vec()]),
        (2, [b"more!".to_vec(), b"tail".to_vec()]),
        (3, [b"x".to_vec(), Vec::new()]),
    ]
}

#[test]
fn every_container_and_link_type_imports_the_exact_streams() {
    let pkts = scenario();
    // (name, capture bytes)
    let captures = [
        ("pcap ethernet", pcap_file(1, &pkts)),
        ("pcap raw ip", pcap_file(101, &pkts)),
        ("pcap null", pcap_file(0, &pkts)),
        ("pcap sll", pcap_file(113, &pkts)),
        ("pcap sll2", pcap_file(276, &pkts)),
        ("pcapng ethernet", pcapng_file(1, &pkts)),
        ("pcapng sll2", pcapng_file(276, &pkts)),
    ];
    for (name, capture) in captures {
        let (s, frames) = import(&capture);
        assert_eq!(streams(&frames), expected_streams(), "{name}");
        assert_eq!(
            close_reasons(&frames),
            [(1, "closed".to_string()), (3, "reset".to_string())],
            "{name}"
        );
        let mids: Vec<bool> = frames
            .iter()
            .filter_map(|f| match &f.body {
                FrameBody::Open(info) => Some(info.mid_session),
                _ => None,
            })
            .collect();
        assert_eq!(mids, [false, true, false], "{name}");
        assert_eq!(
            (s.packets, s.connections, s.mid_session_connections),
            (22, 3, 1),
            "{name}"
        );
        assert_eq!(
            (s.non_tcp_packets, s.other_flow_packets, s.malformed_packets),
            (1, 1, 0),
            "{name}"
        );
        assert_eq!(
            (s.duplicate_bytes, s.out_of_order_segments, s.lost_bytes),
            (15, 1, 0),
            "{name}"
        );
        assert_eq!(
            s.first_packet_unix_ns,
            Some(CAPTURE_START_US * 1000),
            "{name}"
        );
        assert_eq!(s.truncated, None, "{name}");
        // "hello " at 50 µs releases "hello world" in one chunk.
        let first_data = frames
            .iter()
            .find(|f| matches!(f.body, FrameBody::Data { .. }))
            .unwrap();
        assert_eq!(first_data.ts_ns, 50_000, "{name}");
    }
}

#[test]
fn only_flows_of_the_given_server_are_imported() {
    let capture = pcap_file(1, &scenario());
    let mut w = memory_writer();
    let exact: ServerFilter = SERVER.parse().unwrap();
    let s = import_reader(capture.as_slice(), &exact, &mut w).unwrap();
    let (_, frames, _) = read_frames(&finished(w));
    assert_eq!(streams(&frames), expected_streams()[..2]);
    // Flow D (4 packets) and the foreign flow are not the server's.
    assert_eq!((s.connections, s.other_flow_packets), (2, 5));
}

#[test]
fn a_cut_last_packet_keeps_what_came_before() {
    for (name, mut capture) in [
        ("pcap", pcap_file(1, &scenario())),
        ("pcapng", pcapng_file(1, &scenario())),
    ] {
        capture.truncate(capture.len() - 5);
        let (s, frames) = import(&capture);
        assert_eq!(streams(&frames), expected_streams(), "{name}");
        // The RST was in the cut packet.
        assert_eq!(
            close_reasons(&frames),
            [(1, "closed".to_string())],
            "{name}"
        );
        let t = s.truncated.expect("truncation reported");
        assert_eq!(t.offset + t.bytes, capture.len() as u64, "{name}");
        assert_eq!(s.packets, 21, "{name}");
    }
}

#[test]
fn import_to_a_file_gives_a_finished_recording_stats_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcap");
    let output = dir.path().join("out.reel");
    std::fs::write(&input, pcap_file(1, &scenario())).unwrap();
    let header = crate::format::Header {
        id: "imported".into(),
        label: "from a capture".into(),
        ..Default::default()
    };
    let s = import_pcap_file(&input, &any_5630(), &output, header).unwrap();
    assert_eq!(s.connections, 3);
    let (header, frames, end) = read_frames(&std::fs::read(&output).unwrap());
    assert!(matches!(end, End::Complete(_)));
    assert_eq!(header.started_at_unix_ns as u64, CAPTURE_START_US * 1000);
    assert_eq!(
        (
            header.proxies[0].id.as_str(),
            header.proxies[0].upstream.as_str()
        ),
        ("pcap", "*:5630")
    );
    assert_eq!(streams(&frames), expected_streams());
    let analysis = analyze_file(&output, AnalyzeOptions::default()).unwrap();
    assert_eq!((analysis.c2s.bytes, analysis.s2c.bytes), (18, 8));
    assert_eq!(
        (analysis.connections.total, analysis.connections.peak_online),
        (3, 2)
    );
}
