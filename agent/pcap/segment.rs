//! One TCP segment as bytes on the wire: Ethernet II + IPv4 or IPv6 + TCP,
//! with correct lengths and checksums (built by etherparse). Pure.
//!
//! A flow whose two addresses differ in family is built as IPv6 with the
//! IPv4 side written as an IPv4-mapped address (`::ffff:a.b.c.d`).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep};

use super::error::PcapError;

/// Most TCP payload bytes in one IPv4 packet: the total length field is 16
/// bits (65 535) and includes the 20-byte IPv4 and 20-byte TCP headers.
pub const MAX_SEGMENT_V4: usize = 65_535 - 40;

/// Most TCP payload bytes in one IPv6 packet: the payload length field (16
/// bits) counts the 20-byte TCP header but not the IPv6 header.
pub const MAX_SEGMENT_V6: usize = 65_535 - 20;

/// MAC address of every exported client (locally administered, unicast).
pub(crate) const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// MAC address of every exported server.
pub(crate) const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Receive window advertised by every exported segment.
const WINDOW: u16 = 65_535;
/// IPv4 TTL / IPv6 hop limit of every exported segment.
const TTL: u8 = 64;

/// What one segment carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    /// Sender.
    pub(crate) src: SocketAddr,
    /// Receiver.
    pub(crate) dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN/FIN).
    pub(crate) seq: u32,
    /// Acknowledgement number, with the ACK flag; `None` for a bare SYN.
    pub(crate) ack: Option<u32>,
    /// SYN flag.
    pub(crate) syn: bool,
    /// FIN flag.
    pub(crate) fin: bool,
    /// RST flag.
    pub(crate) rst: bool,
    /// PSH flag.
    pub(crate) psh: bool,
    /// TCP payload.
    pub(crate) payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// A segment from `src` to `dst` with no flag but ACK (when given).
    #[cfg(test)]
    pub(crate) fn new(src: SocketAddr, dst: SocketAddr, seq: u32, ack: Option<u32>) -> Self {
        Segment {
            src,
            dst,
            seq,
            ack,
            syn: false,
            fin: false,
            rst: false,
            psh: false,
            payload: &[],
        }
    }
}

/// Most payload bytes one segment between `a` and `b` can carry.
pub(crate) fn max_segment(a: &SocketAddr, b: &SocketAddr) -> usize {
    if a.is_ipv4() && b.is_ipv4() {
        MAX_SEGMENT_V4
    } else {
        MAX_SEGMENT_V6
    }
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Ethernet II (when `macs` are given) and IP headers from `src` to `dst`:
/// IPv4 when both are IPv4, else IPv6 (IPv4-mapped for an IPv4 side).
/// Shared with UDP export (`datagram`).
pub(crate) fn ip_layers(
    src: IpAddr,
    dst: IpAddr,
    macs: Option<([u8; 6], [u8; 6])>,
) -> PacketBuilderStep<IpHeaders> {
    match (src, dst, macs) {
        (IpAddr::V4(s), IpAddr::V4(d), Some((sm, dm))) => {
            PacketBuilder::ethernet2(sm, dm).ipv4(s.octets(), d.octets(), TTL)
        }
        (IpAddr::V4(s), IpAddr::V4(d), None) => PacketBuilder::ipv4(s.octets(), d.octets(), TTL),
        (s, d, Some((sm, dm))) => {
            PacketBuilder::ethernet2(sm, dm).ipv6(v6(s).octets(), v6(d).octets(), TTL)
        }
        (s, d, None) => PacketBuilder::ipv6(v6(s).octets(), v6(d).octets(), TTL),
    }
}

/// Appends the segment to `out`: with an Ethernet II header from `macs`
/// (source, destination) when given, else as a raw IP packet.
///
/// # Errors
/// [`PcapError::Build`] if etherparse refuses it (a payload over the size
/// limit: a bug in the caller).
pub(crate) fn write_segment(
    seg: &Segment<'_>,
    macs: Option<([u8; 6], [u8; 6])>,
    out: &mut Vec<u8>,
) -> Result<(), PcapError> {
    let ip = ip_layers(seg.src.ip(), seg.dst.ip(), macs);
    let mut tcp = ip.tcp(seg.src.port(), seg.dst.port(), seg.seq, WINDOW);
    if seg.syn {
        tcp = tcp.syn();
    }
    if seg.fin {
        tcp = tcp.fin();
    }
    if seg.rst {
        tcp = tcp.rst();
    }
    if seg.psh {
        tcp = tcp.psh();
    }
    if let Some(ack) = seg.ack {
        tcp = tcp.ack(ack);
    }
    tcp.write(out, seg.payload)
        .map_err(|e| PcapError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    use super::*;

    #[test]
    fn built_segments_parse_back_with_valid_checksums() {
        let v4c: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let v4s: SocketAddr = "10.0.0.2:5630".parse().unwrap();
        let v6s: SocketAddr = "[2001:db8::2]:5630".parse().unwrap();
        let big = vec![7u8; MAX_SEGMENT_V4];
        // (src, dst, payload, expected IPv6)
        let cases = [
            (v4c, v4s, &b"hi"[..], false),
            (v4c, v4s, &big[..], false),
            (v4c, v6s, &b"mixed"[..], true),
        ];
        for (src, dst, payload, ipv6) in cases {
            let mut seg = Segment::new(src, dst, 0xffff_fff0, Some(7));
            seg.psh = true;
            seg.payload = payload;
            let mut out = Vec::new();
            write_segment(&seg, Some((CLIENT_MAC, SERVER_MAC)), &mut out).unwrap();
            let p = SlicedPacket::from_ethernet(&out).unwrap();
            let Some(TransportSlice::Tcp(tcp)) = p.transport else {
                panic!("no tcp")
            };
            assert_eq!(tcp.payload(), payload);
            assert_eq!(
                (tcp.sequence_number(), tcp.acknowledgment_number()),
                (0xffff_fff0, 7)
            );
            assert!(tcp.psh() && tcp.ack() && !tcp.syn());
            match p.net {
                Some(NetSlice::Ipv4(ip)) if !ipv6 => {
                    let h = ip.header().to_header();
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    let sum = tcp.calc_checksum_ipv4(h.source, h.destination).unwrap();
                    assert_eq!(tcp.checksum(), sum);
                }
                Some(NetSlice::Ipv6(ip)) if ipv6 => {
                    let h = ip.header().to_header();
                    assert_eq!(h.source, v6(src.ip()).octets());
                    let sum = tcp.calc_checksum_ipv6(h.source, h.destination).unwrap();
                    assert_eq!(tcp.checksum(), sum);
                }
                other => panic!("unexpected network layer {other:?}"),
            }
        }
        // One byte more than fits in IPv4 is refused, not truncated.
        let mut seg = Segment::new(v4c, v4s, 0, Some(0));
        let too_big = vec![0u8; MAX_SEGMENT_V4 + 1];
        seg.payload = &too_big;
        assert!(write_segment(&seg, None, &mut Vec::new()).is_err());
    }
}
