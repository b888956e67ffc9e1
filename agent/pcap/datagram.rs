//! One UDP datagram as bytes on the wire: Ethernet II + IPv4 or IPv6 + UDP,
//! with correct lengths and checksums (built by etherparse), addressed like
//! TCP export's segments (`segment::ip_layers`). Pure.

use std::net::SocketAddr;

use super::error::PcapError;
use super::segment::ip_layers;

/// Most UDP payload bytes in one IPv4 packet: the 16-bit total length
/// (65 535) includes the 20-byte IPv4 and 8-byte UDP headers.
pub const MAX_DATAGRAM_V4: usize = 65_535 - 28;

/// Most UDP payload bytes in one IPv6 packet (no jumbograms): the 16-bit
/// payload length counts the 8-byte UDP header but not the IPv6 header.
pub const MAX_DATAGRAM_V6: usize = 65_535 - 8;

/// Most payload bytes one datagram between `a` and `b` can carry.
pub(crate) fn max_datagram(a: &SocketAddr, b: &SocketAddr) -> usize {
    if a.is_ipv4() && b.is_ipv4() {
        MAX_DATAGRAM_V4
    } else {
        MAX_DATAGRAM_V6
    }
}

/// Appends the datagram `payload` from `src` to `dst` to `out`, with an
/// Ethernet II header from `macs` (source, destination) when given.
///
/// # Errors
/// [`PcapError::Build`] if etherparse refuses it (a payload over
/// [`max_datagram`]: the caller skips those).
pub(crate) fn write_datagram(
    src: SocketAddr,
    dst: SocketAddr,
    macs: Option<([u8; 6], [u8; 6])>,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), PcapError> {
    ip_layers(src.ip(), dst.ip(), macs)
        .udp(src.port(), dst.port())
        .write(out, payload)
        .map_err(|e| PcapError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    use super::*;
    use crate::pcap::segment::{CLIENT_MAC, SERVER_MAC};

    #[test]
    fn built_datagrams_parse_back_with_valid_checksums() {
        let v4c: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let v4s: SocketAddr = "10.0.0.2:7777".parse().unwrap();
        let v6s: SocketAddr = "[2001:db8::2]:7777".parse().unwrap();
        let big = vec![7u8; MAX_DATAGRAM_V4];
        // (src, dst, payload, expected IPv6)
        let cases = [
            (v4c, v4s, &b"hi"[..], false),
            (v4c, v4s, &b""[..], false),
            (v4c, v4s, &big[..], false),
            (v4c, v6s, &b"mixed"[..], true),
        ];
        for (src, dst, payload, ipv6) in cases {
            let mut out = Vec::new();
            write_datagram(src, dst, Some((CLIENT_MAC, SERVER_MAC)), payload, &mut out).unwrap();
            let p = SlicedPacket::from_ethernet(&out).unwrap();
            let Some(TransportSlice::Udp(udp)) = p.transport else {
                panic!("no udp")
            };
            assert_eq!(udp.payload(), payload);
            assert_eq!((udp.source_port(), udp.destination_port()), (40000, 7777));
            assert_eq!(usize::from(udp.length()), payload.len() + 8);
            match p.net {
                Some(NetSlice::Ipv4(ip)) if !ipv6 => {
                    let h = ip.header().to_header();
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    let want = udp.to_header().calc_checksum_ipv4(&h, payload).unwrap();
                    assert_eq!(udp.checksum(), want);
                }
                Some(NetSlice::Ipv6(_)) if ipv6 => {}
                other => panic!("unexpected network layer {other:?}"),
            }
        }
        assert_eq!(max_datagram(&v4c, &v6s), MAX_DATAGRAM_V6);
        // One byte more than fits in IPv4 is refused, not truncated.
        let too_big = vec![0u8; MAX_DATAGRAM_V4 + 1];
        assert!(write_datagram(v4c, v4s, None, &too_big, &mut Vec::new()).is_err());
    }
}
