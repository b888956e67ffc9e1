//! From captured bytes to a TCP segment or a UDP datagram: strips the link
//! layer (Ethernet, Linux cooked SLL and SLL2, raw IP, BSD loopback) and
//! decodes IPv4 or IPv6 and TCP or UDP with etherparse. IP fragments are
//! told apart, not reassembled. Pure; never panics on any input.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

/// LINKTYPE_* values (tcpdump.org/linktypes.html) this importer decodes.
pub(crate) mod linktype {
    /// BSD loopback: 4-byte address family in host byte order, then IP.
    pub(crate) const NULL: u32 = 0;
    /// Ethernet II (and 802.1Q VLAN tags).
    pub(crate) const ETHERNET: u32 = 1;
    /// DLT_RAW as some platforms wrote it into files (12, OpenBSD 14).
    pub(crate) const RAW_12: u32 = 12;
    pub(crate) const RAW_14: u32 = 14;
    /// Raw IP: the packet starts with the IP header.
    pub(crate) const RAW: u32 = 101;
    /// OpenBSD loopback: like NULL, family in network byte order.
    pub(crate) const LOOP: u32 = 108;
    /// Linux cooked capture v1 (16-byte header, protocol at bytes 14..16).
    pub(crate) const LINUX_SLL: u32 = 113;
    /// Raw IPv4 / raw IPv6.
    pub(crate) const IPV4: u32 = 228;
    pub(crate) const IPV6: u32 = 229;
    /// Linux cooked capture v2 (20-byte header, protocol at bytes 0..2).
    pub(crate) const LINUX_SLL2: u32 = 276;
}

/// Whether packets of `lt` can be decoded.
pub(crate) fn supported(lt: u32) -> bool {
    use linktype::*;
    matches!(
        lt,
        NULL | ETHERNET | RAW_12 | RAW_14 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// The parts of a TCP segment the importer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpPacket<'a> {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) syn: bool,
    pub(crate) ack: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
    pub(crate) payload: &'a [u8],
}

/// The parts of a UDP datagram the importer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpPacket<'a> {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) payload: &'a [u8],
}

/// What a captured packet turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A TCP segment over IPv4 or IPv6.
    Tcp(TcpPacket<'a>),
    /// A whole (unfragmented) UDP datagram over IPv4 or IPv6.
    Udp(UdpPacket<'a>),
    /// A fragment of an IP packet (first or later): not reassembled.
    Fragment,
    /// Something else: ARP, ICMP, other IP protocols, ...
    NotTcp,
    /// Headers that do not parse, or a packet cut by the snapshot length.
    Malformed,
    /// A link type [`supported`] rejects.
    UnsupportedLink,
}

/// Decodes one captured packet of link type `lt`.
pub(crate) fn decode(lt: u32, data: &[u8]) -> Decoded<'_> {
    use linktype::*;
    let sliced = match lt {
        ETHERNET => SlicedPacket::from_ethernet(data),
        NULL | LOOP => match data.get(4..) {
            Some(ip) => SlicedPacket::from_ip(ip),
            None => return Decoded::Malformed,
        },
        RAW_12 | RAW_14 | RAW | IPV4 | IPV6 => SlicedPacket::from_ip(data),
        LINUX_SLL | LINUX_SLL2 => {
            let (proto_at, header) = if lt == LINUX_SLL { (14, 16) } else { (0, 20) };
            let (Some(proto), Some(rest)) = (data.get(proto_at..proto_at + 2), data.get(header..))
            else {
                return Decoded::Malformed;
            };
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            SlicedPacket::from_ether_type(ether_type, rest)
        }
        _ => return Decoded::UnsupportedLink,
    };
    let Ok(packet) = sliced else {
        return Decoded::Malformed;
    };
    let (src_ip, dst_ip, fragmented) = match &packet.net {
        Some(NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
            ip.is_payload_fragmented(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
            ip.is_payload_fragmented(),
        ),
        _ => return Decoded::NotTcp,
    };
    if fragmented {
        return Decoded::Fragment;
    }
    match &packet.transport {
        Some(TransportSlice::Udp(udp)) => Decoded::Udp(UdpPacket {
            src: SocketAddr::new(src_ip, udp.source_port()),
            dst: SocketAddr::new(dst_ip, udp.destination_port()),
            payload: udp.payload(),
        }),
        Some(TransportSlice::Tcp(tcp)) => Decoded::Tcp(TcpPacket {
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
        }),
        _ => Decoded::NotTcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::segment::{CLIENT_MAC, SERVER_MAC, Segment, write_segment};

    fn ip_packet(src: &str, dst: &str) -> Vec<u8> {
        let mut seg = Segment::new(src.parse().unwrap(), dst.parse().unwrap(), 42, Some(1));
        seg.payload = b"data";
        let mut out = Vec::new();
        write_segment(&seg, None, &mut out).unwrap();
        out
    }

    #[test]
    fn every_supported_link_type_yields_the_segment() {
        let v4 = ip_packet("10.0.0.1:1000", "10.0.0.2:2000");
        let v6 = ip_packet("[2001:db8::1]:1000", "[2001:db8::2]:2000");
        let mut eth = Vec::new();
        let mut seg = Segment::new(
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:2000".parse().unwrap(),
            42,
            Some(1),
        );
        seg.payload = b"data";
        write_segment(&seg, Some((CLIENT_MAC, SERVER_MAC)), &mut eth).unwrap();
        let with = |prefix: &[u8], ip: &[u8]| [prefix, ip].concat();
        let mut sll = vec![0; 16];
        sll[14..16].copy_from_slice(&[0x08, 0x00]);
        let mut sll2 = vec![0; 20];
        sll2[0..2].copy_from_slice(&[0x86, 0xdd]);
        // (link type, bytes, expected source)
        let cases = [
            (linktype::ETHERNET, eth.clone(), "10.0.0.1:1000"),
            (linktype::RAW, v4.clone(), "10.0.0.1:1000"),
            (linktype::IPV6, v6.clone(), "[2001:db8::1]:1000"),
            (
                linktype::NULL,
                with(&2u32.to_le_bytes(), &v4),
                "10.0.0.1:1000",
            ),
            (
                linktype::LOOP,
                with(&24u32.to_be_bytes(), &v6),
                "[2001:db8::1]:1000",
            ),
            (linktype::LINUX_SLL, with(&sll, &v4), "10.0.0.1:1000"),
            (linktype::LINUX_SLL2, with(&sll2, &v6), "[2001:db8::1]:1000"),
        ];
        for (lt, bytes, src) in cases {
            let Decoded::Tcp(tcp) = decode(lt, &bytes) else {
                panic!("link type {lt}: {:?}", decode(lt, &bytes));
            };
            assert_eq!(
                (tcp.src.to_string(), tcp.seq, tcp.payload),
                (src.to_string(), 42, &b"data"[..])
            );
            assert!(tcp.ack && !tcp.syn && !tcp.fin && !tcp.rst);
        }
    }

    #[test]
    fn other_and_broken_packets_are_classified() {
        let v4 = ip_packet("10.0.0.1:1000", "10.0.0.2:2000");
        assert_eq!(
            decode(linktype::RAW, &v4[..v4.len() - 2]),
            Decoded::Malformed
        );
        assert_eq!(decode(linktype::NULL, &[2, 0]), Decoded::Malformed);
        assert_eq!(decode(linktype::LINUX_SLL2, &[0; 5]), Decoded::Malformed);
        assert_eq!(decode(147, &v4), Decoded::UnsupportedLink);
        assert!(!supported(147) && supported(linktype::LINUX_SLL2));
        // An ARP frame: Ethernet, but no IP.
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 20]);
        assert_eq!(decode(linktype::ETHERNET, &arp), Decoded::NotTcp);
    }

    #[test]
    fn udp_datagrams_and_fragments() {
        use etherparse::PacketBuilder;
        let mut udp = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(4000, 7777)
            .write(&mut udp, b"ping")
            .unwrap();
        assert_eq!(
            decode(linktype::RAW, &udp),
            Decoded::Udp(UdpPacket {
                src: "10.0.0.1:4000".parse().unwrap(),
                dst: "10.0.0.2:7777".parse().unwrap(),
                payload: b"ping",
            })
        );
        // The same packet marked "more fragments" (flags byte 6, bit 0x20),
        // header checksum not checked: a fragment, not a datagram.
        let mut fragment = udp.clone();
        fragment[6] |= 0x20;
        assert_eq!(decode(linktype::RAW, &fragment), Decoded::Fragment);
    }
}
