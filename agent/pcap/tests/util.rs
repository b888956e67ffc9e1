//! Helpers for the pcap tests: a generated recording of known contents
//! (built with `crate::fixtures`),
//! synthetic captures built packet by packet, and reading results back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use crate::format::{
    Direction, End, Frame, FrameBody, Header, Next, RecordingReader, RecordingWriter,
};
use crate::pcap::segment::{CLIENT_MAC, SERVER_MAC, Segment, write_segment};

pub(super) const START_UNIX_NS: i64 = 1_700_000_000_123_456_789;
pub(super) const MS: u64 = 1_000_000;

pub(super) use crate::fixtures::{close, data, open_to as open, pattern};

/// A frame at `ts_ms` milliseconds (the pcap tests count in ms).
pub(super) fn frame(conn: u64, ts_ms: u64, body: FrameBody) -> Frame {
    crate::fixtures::frame(conn, ts_ms * MS, body)
}

/// Six connections covering what export has to handle (see each line).
pub(super) fn sample_frames() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    vec![
        frame(
            0,
            0,
            FrameBody::Annotation {
                text: "start".into(),
            },
        ),
        // 1: IPv4 with handshake, a chunk split in 3 segments, half-close, close.
        frame(1, 1, open("10.0.0.1:40001", "10.0.0.2:5630", false)),
        frame(1, 2, data(C2s, b"GET /state\n")),
        // 2: IPv6, ends with an upstream reset.
        frame(
            2,
            3,
            open("[2001:db8::1]:40002", "[2001:db8::2]:5630", false),
        ),
        frame(1, 4, data(S2c, &pattern(1, 150_000))),
        frame(2, 5, data(C2s, b"hello over v6")),
        frame(1, 6, FrameBody::HalfClose { dir: C2s }),
        frame(2, 7, data(S2c, b"hi")),
        frame(1, 8, data(S2c, b"bye")),
        frame(1, 9, close("client closed")),
        frame(2, 10, close("upstream reset")),
        // 3: mid-session, server speaks first, still open at the end.
        frame(3, 11, open("10.0.0.3:40003", "10.0.0.2:5630", true)),
        frame(3, 12, data(S2c, b"late")),
        frame(3, 13, data(C2s, b"x")),
        // 4: unparsable addresses (fallback), a chunk over one IPv4 segment.
        frame(4, 14, open("garbage", "gameserver:5630", false)),
        frame(4, 15, data(C2s, &pattern(2, 70_000))),
        frame(4, 15, data(C2s, b"")),
        frame(4, 16, close("closed")),
        // 5: no OPEN at all.
        frame(5, 17, data(C2s, b"orphan")),
        // 6: IPv4 client, IPv6 upstream: exported as IPv6 (mapped).
        frame(6, 18, open("10.0.0.6:40006", "[2001:db8::2]:5630", false)),
        frame(6, 19, data(C2s, b"mixed")),
        frame(6, 20, data(S2c, b"families")),
        frame(6, 21, close("client closed")),
        frame(0, 22, FrameBody::Annotation { text: "end".into() }),
    ]
}

/// The finished recording file of `frames`.
pub(super) fn recording(frames: &[Frame]) -> Vec<u8> {
    let header = Header {
        id: "pcap-test".into(),
        started_at_unix_ns: START_UNIX_NS,
        ..Header::default()
    };
    crate::fixtures::write_into(Vec::new(), &header, frames.iter().cloned(), 0).unwrap()
}

/// Per connection, in order of first appearance: [c2s bytes, s2c bytes].
pub(super) fn streams(frames: &[Frame]) -> Vec<(u64, [Vec<u8>; 2])> {
    let mut order = Vec::new();
    let mut map: BTreeMap<u64, [Vec<u8>; 2]> = BTreeMap::new();
    for f in frames {
        if f.conn == 0 || matches!(f.body, FrameBody::Annotation { .. }) {
            continue;
        }
        let entry = map.entry(f.conn).or_insert_with(|| {
            order.push(f.conn);
            Default::default()
        });
        if let FrameBody::Data { dir, payload } = &f.body {
            let i = usize::from(*dir == Direction::S2c);
            entry[i].extend_from_slice(payload);
        }
    }
    order
        .into_iter()
        .map(|c| (c, map.remove(&c).unwrap_or_default()))
        .collect()
}

/// Every frame of a recording file, and how it ended.
pub(super) fn read_frames(bytes: &[u8]) -> (Header, Vec<Frame>, End) {
    let mut r = RecordingReader::open(bytes).unwrap();
    let mut frames = Vec::new();
    loop {
        match r.next().unwrap() {
            Next::Frame(f) => frames.push(f),
            Next::End(end) => return (r.header().clone(), frames, end),
        }
    }
}

/// A recording writer over memory, for imports.
pub(super) fn memory_writer() -> RecordingWriter<Vec<u8>> {
    RecordingWriter::new(Vec::new(), &Header::default()).unwrap()
}

/// The bytes a writer holds, finished.
pub(super) fn finished(w: RecordingWriter<Vec<u8>>) -> Vec<u8> {
    w.finish(0, "test", None).unwrap().0
}

/// TCP flags of a synthetic packet.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Flags {
    pub(super) syn: bool,
    pub(super) ack: bool,
    pub(super) fin: bool,
    pub(super) rst: bool,
}

pub(super) const SYN: Flags = Flags {
    syn: true,
    ack: false,
    fin: false,
    rst: false,
};
pub(super) const SYN_ACK: Flags = Flags {
    syn: true,
    ack: true,
    fin: false,
    rst: false,
};
pub(super) const ACK: Flags = Flags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
};
pub(super) const FIN: Flags = Flags {
    syn: false,
    ack: true,
    fin: true,
    rst: false,
};
pub(super) const RST: Flags = Flags {
    syn: false,
    ack: true,
    fin: false,
    rst: true,
};

/// A synthetic packet: time (µs since the capture start) and IP bytes.
#[derive(Debug, Clone)]
pub(super) struct Pkt {
    pub(super) us: u64,
    /// The raw IP packet.
    pub(super) ip: Vec<u8>,
}

/// A TCP/IP packet from `src` to `dst`.
pub(super) fn tcp(us: u64, src: &str, dst: &str, seq: u32, flags: Flags, payload: &[u8]) -> Pkt {
    let src: SocketAddr = src.parse().unwrap();
    let dst: SocketAddr = dst.parse().unwrap();
    let mut seg = Segment::new(src, dst, seq, flags.ack.then_some(1));
    seg.syn = flags.syn;
    seg.fin = flags.fin;
    seg.rst = flags.rst;
    seg.payload = payload;
    let mut ip = Vec::new();
    write_segment(&seg, None, &mut ip).unwrap();
    Pkt { us, ip }
}

/// An ICMP echo request over IPv4 (neither TCP nor UDP: must be skipped).
pub(super) fn icmp(us: u64) -> Pkt {
    let mut ip = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut ip, b"ping")
        .unwrap();
    Pkt { us, ip }
}

/// Capture start, in µs since the epoch.
pub(super) const CAPTURE_START_US: u64 = 1_600_000_000_000_000;

/// The link-layer framing of `ip` for link type `lt`.
pub(super) fn link_frame(lt: u32, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ether_type: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let prefix = match lt {
        1 => [&SERVER_MAC[..], &CLIENT_MAC[..], &ether_type[..]].concat(),
        0 => (if v6 { 30u32 } else { 2 }).to_le_bytes().to_vec(),
        113 => [&[0, 0, 0, 1, 0, 6][..], &[0; 8], &ether_type].concat(),
        276 => [&ether_type[..], &[0; 18]].concat(),
        _ => Vec::new(),
    };
    [prefix, ip.to_vec()].concat()
}

/// A pcap file (µs timestamps) of `pkts` on link type `lt`.
pub(super) fn pcap_file(lt: u32, pkts: &[Pkt]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::from(lt),
        ts_resolution: TsResolution::MicroSecond,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    for p in pkts {
        let bytes = link_frame(lt, &p.ip);
        let ts = Duration::from_micros(CAPTURE_START_US + p.us);
        w.write_packet(&PcapPacket::new(ts, bytes.len() as u32, &bytes))
            .unwrap();
    }
    w.into_writer()
}

/// A pcapng file of `pkts` on one interface of link type `lt`, with the
/// default (µs) timestamp resolution.
pub(super) fn pcapng_file(lt: u32, pkts: &[Pkt]) -> Vec<u8> {
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock::new(DataLink::from(lt), 0))
        .unwrap();
    for p in pkts {
        let bytes = link_frame(lt, &p.ip);
        let block = EnhancedPacketBlock {
            interface_id: 0,
            // pcap-file writes this raw value; without if_tsresol it means µs.
            timestamp: Duration::from_nanos(CAPTURE_START_US + p.us),
            original_len: bytes.len() as u32,
            data: bytes.into(),
            options: vec![],
        };
        w.write_pcapng_block(block).unwrap();
    }
    w.into_inner()
}
