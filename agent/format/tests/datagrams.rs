//! Version 2: datagram frames, the header version a recording gets, and
//! the totals and connection table for UDP sessions. Version-1 files (TCP
//! only) stay exactly what older builds wrote and read.

use bytes::Bytes;

use super::super::layout::{KIND_DATAGRAM, OFF_KIND, VERSION, VERSION_TCP};
use super::super::*;

fn udp_header() -> Header {
    let mut h = super::header();
    h.proxies.push(ProxyMeta {
        id: "p2".into(),
        name: "game-udp".into(),
        listen: "0.0.0.0:7777".into(),
        upstream: "10.0.0.2:7777".into(),
        transport: Transport::Udp,
    });
    h
}

fn version_of(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[8], bytes[9]])
}

fn datagram(conn: u64, ts_ns: u64, dir: Direction, payload: &[u8]) -> Frame {
    Frame {
        conn,
        ts_ns,
        body: FrameBody::Datagram {
            dir,
            payload: Bytes::copy_from_slice(payload),
        },
    }
}

#[test]
fn a_tcp_only_recording_is_version_1_and_a_udp_one_version_2() {
    let mut out = Vec::new();
    encode_header(&super::header(), &mut out).unwrap();
    assert_eq!(version_of(&out), VERSION_TCP);
    // Byte for byte what version-1 builds wrote: no `transport` key.
    assert!(!String::from_utf8_lossy(&out).contains("transport"));

    let mut out = Vec::new();
    encode_header(&udp_header(), &mut out).unwrap();
    assert_eq!(version_of(&out), VERSION);
    match decode_header(&out).unwrap() {
        HeaderDecoded::Complete { header, .. } => assert_eq!(header, udp_header()),
        other => panic!("{other:?}"),
    }
    // A version past ours is refused, naming what this build reads.
    out[8] = 3;
    let err = decode_header(&out).unwrap_err();
    assert!(matches!(err, FormatError::UnsupportedVersion(3)), "{err}");
    assert!(err.to_string().contains("versions 1 and 2"), "{err}");
}

#[test]
fn datagrams_round_trip_whole_with_their_boundaries() {
    let sizes = [0usize, 1, 508, 1_400, 65_507];
    let mut w = RecordingWriter::new(Vec::new(), &udp_header()).unwrap();
    let open = Frame {
        conn: 7,
        ts_ns: 1,
        body: FrameBody::Open(OpenInfo {
            client: "127.0.0.1:5000".into(),
            proxy_id: "p2".into(),
            upstream: "127.0.0.1:7777".into(),
            transport: Transport::Udp,
            ..OpenInfo::default()
        }),
    };
    w.write_frame(&open).unwrap();
    let mut sent = vec![open];
    for (i, n) in sizes.iter().enumerate() {
        let dir = if i % 2 == 0 {
            Direction::C2s
        } else {
            Direction::S2c
        };
        let payload: Vec<u8> = (0..*n).map(|b| (b * 7 + i) as u8).collect();
        let f = datagram(7, 10 + i as u64, dir, &payload);
        // Staged frames go out by vectored writes from the payload itself.
        w.stage(f.clone()).unwrap();
        sent.push(f);
    }
    let close = Frame {
        conn: 7,
        ts_ns: 99,
        body: FrameBody::Close {
            reason: "idle".into(),
        },
    };
    w.write_frame(&close).unwrap();
    sent.push(close);
    let (bytes, footer) = w.finish(5, "stopped by user", None).unwrap();
    assert_eq!(version_of(&bytes), VERSION);

    let mut r = RecordingReader::open(bytes.as_slice()).unwrap();
    let mut got = Vec::new();
    let end = loop {
        match r.next().unwrap() {
            Next::Frame(f) => got.push(f),
            Next::End(e) => break e,
        }
    };
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert!(got == sent, "{} frames read of {}", got.len(), sent.len());

    let s = &footer.summary;
    assert_eq!((s.datagrams_c2s, s.datagrams_s2c), (3, 2));
    assert_eq!((s.chunks_c2s, s.chunks_s2c), (0, 0));
    assert_eq!(s.bytes_c2s, 508 + 65_507);
    assert_eq!(s.bytes_s2c, 1 + 1_400);
    let c = &footer.connections[0];
    assert_eq!(c.transport, Transport::Udp);
    assert_eq!((c.bytes_c2s, c.bytes_s2c), (508 + 65_507, 1 + 1_400));
    assert_eq!(c.close_reason.as_deref(), Some("idle"));
    // The scan (recovery) counts the same as the writer.
    let scanned = scan(bytes.as_slice(), bytes.len() as u64).unwrap();
    assert_eq!(scanned.summary, *s);
}

#[test]
fn a_datagram_frame_is_kind_8_and_a_bad_direction_is_damage() {
    let mut out = Vec::new();
    encode_frame(&datagram(1, 2, Direction::S2c, b"hi"), &mut out).unwrap();
    assert_eq!(out[OFF_KIND], KIND_DATAGRAM);
    out[5] = 0;
    // Re-seal the CRC so only the direction is wrong.
    let n = out.len();
    let crc = crc32c::crc32c(&out[..n - 4]);
    out[n - 4..].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(decode_frame(&out), Decoded::Corrupted { .. }));
}
