//! UDP through export and import: each datagram becomes one UDP packet and
//! comes back as one DATAGRAM frame of the same session, alongside a TCP
//! connection to the same server port; what one IP packet cannot carry is
//! skipped and counted; an imported file with UDP sessions is version 2.

use super::util::*;
use crate::fixtures::{datagram, open_udp};
use crate::format::{Direction, End, Frame, FrameBody, Header, ProxyMeta, Transport};
use crate::pcap::{
    IMPORT_UDP_PROXY_ID, MAX_DATAGRAM_V4, ServerFilter, export_pcapng, import_pcap_file,
    import_reader,
};
use crate::stats::{AnalyzeOptions, analyze_file};

fn server() -> ServerFilter {
    "*:5630".parse().unwrap()
}

/// conn 1: TCP to 10.0.0.2:5630; conn 2: a UDP session to the same port
/// (1 B, 1,400 B and an empty datagram up, 7 B down); conn 3: an IPv6 UDP
/// session with a datagram too big for IPv4 but not for IPv6; conn 4: an
/// IPv4 one with that datagram, which export skips.
fn mixed() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let big = pattern(9, MAX_DATAGRAM_V4 + 1);
    vec![
        frame(1, 0, open("10.0.0.1:40001", "10.0.0.2:5630", false)),
        frame(2, 1, open_udp("10.0.0.1:50000", "10.0.0.2:5630")),
        frame(2, 1, datagram(C2s, &[1])),
        frame(1, 2, data(C2s, b"hello")),
        frame(2, 3, datagram(S2c, &pattern(2, 7))),
        frame(2, 4, datagram(C2s, &pattern(3, 1400))),
        frame(2, 5, datagram(C2s, b"")),
        frame(1, 6, data(S2c, b"world")),
        frame(1, 7, close("eof")),
        frame(3, 8, open_udp("[2001:db8::1]:50001", "[2001:db8::2]:5630")),
        frame(3, 8, datagram(C2s, &big)),
        frame(4, 9, open_udp("10.0.0.3:50002", "10.0.0.2:5630")),
        frame(4, 9, datagram(C2s, &big)),
        frame(4, 10, datagram(S2c, b"ok")),
        frame(2, 30, close("idle")),
    ]
}

fn udp_recording(frames: &[Frame]) -> Vec<u8> {
    let header = Header {
        id: "pcap-udp-test".into(),
        started_at_unix_ns: START_UNIX_NS,
        proxies: vec![ProxyMeta {
            id: "p1".into(),
            transport: Transport::Udp,
            ..ProxyMeta::default()
        }],
        ..Header::default()
    };
    crate::fixtures::write_into(Vec::new(), &header, frames.iter().cloned(), 0).unwrap()
}

/// Per session (client address), its datagrams: (ms, direction, payload).
type Datagrams = Vec<(String, Vec<(u64, Direction, Vec<u8>)>)>;

fn datagrams(frames: &[Frame]) -> Datagrams {
    let mut out: Datagrams = Vec::new();
    let mut clients = std::collections::HashMap::new();
    for f in frames {
        match &f.body {
            FrameBody::Open(info) if info.transport == Transport::Udp => {
                clients.insert(f.conn, out.len());
                out.push((info.client.clone(), Vec::new()));
            }
            FrameBody::Datagram { dir, payload } => {
                let i = clients[&f.conn];
                out[i].1.push((f.ts_ns / MS, *dir, payload.to_vec()));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn each_datagram_is_one_udp_packet_and_comes_back_as_one_frame() {
    let frames = mixed();
    let mut pcapng = Vec::new();
    let e = export_pcapng(udp_recording(&frames).as_slice(), &mut pcapng).unwrap();
    assert_eq!((e.connections, e.udp_sessions), (4, 3));
    // 4 + 1 datagrams up written (the IPv4 65,508 B one skipped), 2 down.
    assert_eq!((e.datagrams_c2s, e.datagrams_s2c), (4, 2));
    assert_eq!(e.oversized_datagrams, 1);
    assert_eq!(
        (e.bytes_c2s, e.bytes_s2c),
        (5 + 1 + 1400 + MAX_DATAGRAM_V4 as u64 + 1, 5 + 7 + 2)
    );
    // TCP: 3 handshake + data/ack ×2 + 4 for the FINs; UDP: 6 datagrams.
    assert_eq!(e.packets, 3 + 4 + 4 + 6);
    assert_eq!(e.mid_session_connections, 0);
    assert!(matches!(e.end, End::Complete(_)));

    let mut w = memory_writer();
    let s = import_reader(pcapng.as_slice(), &server(), &mut w).unwrap();
    assert_eq!((s.connections, s.udp_sessions), (4, 3));
    assert_eq!((s.datagrams_c2s, s.datagrams_s2c), (4, 2));
    assert_eq!((s.bytes_c2s, s.bytes_s2c), (e.bytes_c2s, e.bytes_s2c));
    assert_eq!((s.fragmented_packets, s.malformed_packets), (0, 0));
    let (_, imported, end) = read_frames(&finished(w));
    assert!(matches!(end, End::Complete(_)));

    // Datagram for datagram, with their times, minus the skipped one.
    let mut expected = datagrams(&frames);
    expected[2].1.remove(0);
    assert_eq!(datagrams(&imported), expected);
    // The TCP connection is there too, byte-exact.
    assert_eq!(
        streams(&imported)[0].1,
        [b"hello".to_vec(), b"world".to_vec()]
    );
    // UDP sessions go through the pcap-udp proxy and close `idle` at the
    // capture's end (no 60 s gap came). Conn 4's first datagram was
    // skipped, so in the capture its server spoke first: mid-session.
    let last_ms = 10;
    for f in &imported {
        match &f.body {
            FrameBody::Open(info) if info.transport == Transport::Udp => {
                let mid = info.client == "10.0.0.3:50002";
                assert_eq!(info.mid_session, mid, "{info:?}");
                assert_eq!(info.proxy_id, IMPORT_UDP_PROXY_ID);
            }
            FrameBody::Close { reason } if f.conn != 1 => {
                assert_eq!((reason.as_str(), f.ts_ns / MS), ("idle", last_ms));
            }
            _ => {}
        }
    }
}

#[test]
fn an_imported_capture_with_udp_flows_is_a_version_2_file_stats_reads() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcapng");
    let mut pcapng = Vec::new();
    export_pcapng(udp_recording(&mixed()).as_slice(), &mut pcapng).unwrap();
    std::fs::write(&input, &pcapng).unwrap();
    let output = dir.path().join("out.reel");
    let header = Header {
        id: "imported".into(),
        ..Header::default()
    };
    let s = import_pcap_file(&input, &server(), &output, header).unwrap();
    assert_eq!(s.udp_sessions, 3);
    let (header, frames, end) = read_frames(&std::fs::read(&output).unwrap());
    assert!(matches!(end, End::Complete(_)));
    assert_eq!(header.version(), 2);
    let metas: Vec<_> = header
        .proxies
        .iter()
        .map(|p| (p.id.as_str(), p.transport))
        .collect();
    assert_eq!(
        metas,
        [
            ("pcap", Transport::Tcp),
            (IMPORT_UDP_PROXY_ID, Transport::Udp)
        ]
    );
    assert_eq!(frames.len() as u64, s.frames);
    let a = analyze_file(&output, AnalyzeOptions::default()).unwrap();
    assert_eq!((a.connections.total, a.connections.udp_sessions), (4, 3));
    assert_eq!((a.c2s.datagrams, a.s2c.datagrams), (4, 2));

    // A TCP-only capture keeps its version-1 header with one proxy.
    let tcp_only: Vec<Frame> = mixed().into_iter().filter(|f| f.conn == 1).collect();
    let mut pcapng = Vec::new();
    export_pcapng(recording(&tcp_only).as_slice(), &mut pcapng).unwrap();
    std::fs::write(&input, &pcapng).unwrap();
    import_pcap_file(&input, &server(), &output, Header::default()).unwrap();
    let (header, _, _) = read_frames(&std::fs::read(&output).unwrap());
    assert_eq!((header.version(), header.proxies.len()), (1, 1));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Any datagrams (0 to 1,500 bytes, either way) of up to 4 sessions,
    /// interleaved, come back from export then import one for one, in
    /// order, at their times.
    #[test]
    fn any_datagrams_survive_export_and_import(
        sent in proptest::collection::vec(
            (0..4u64, proptest::bool::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..1500)),
            1..40,
        )
    ) {
        let mut frames = Vec::new();
        let mut opened = std::collections::HashSet::new();
        for (k, (session, up, bytes)) in sent.iter().enumerate() {
            let conn = session + 1;
            if opened.insert(conn) {
                let client = format!("10.0.0.1:{}", 40_000 + conn);
                frames.push(frame(conn, k as u64, open_udp(&client, "10.0.0.2:5630")));
            }
            let dir = if *up { Direction::C2s } else { Direction::S2c };
            frames.push(frame(conn, k as u64, datagram(dir, bytes)));
        }
        let mut pcapng = Vec::new();
        let e = export_pcapng(udp_recording(&frames).as_slice(), &mut pcapng).unwrap();
        proptest::prop_assert_eq!(e.datagrams_c2s + e.datagrams_s2c, sent.len() as u64);
        let mut w = memory_writer();
        let s = import_reader(pcapng.as_slice(), &server(), &mut w).unwrap();
        proptest::prop_assert_eq!(s.udp_sessions, opened.len() as u64);
        let (_, imported, _) = read_frames(&finished(w));
        // Session order and mid-session flags aside (a session whose first
        // datagram went s2c imports as mid-session), the datagrams match.
        proptest::prop_assert_eq!(datagrams(&imported), datagrams(&frames));
    }
}
