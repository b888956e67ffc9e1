//! Where an exported connection's TCP flow runs: its two addresses (the
//! recorded ones, or documented fallbacks) and its deterministic initial
//! sequence numbers. Pure.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::format::OpenInfo;

/// A deterministic initial sequence number for `side` of connection `conn`
/// (splitmix64), so exports of one recording are identical.
pub(crate) fn isn(conn: u64, side: usize) -> u32 {
    let mut z = conn
        .wrapping_mul(2)
        .wrapping_add(side as u64)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

/// The recorded addresses of a connection, or the documented fallbacks:
/// client 127.0.0.1:(49152 + conn mod 16384), server 127.0.0.1 with the
/// upstream's port if it ends in `:PORT`, else port 1. `true` if any fell back.
pub(crate) fn addresses(conn: u64, info: Option<&OpenInfo>) -> ([SocketAddr; 2], bool) {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let client = info.and_then(|i| i.client.parse::<SocketAddr>().ok());
    let server = info.and_then(|i| i.upstream.parse::<SocketAddr>().ok());
    let fell_back = client.is_none() || server.is_none();
    let client =
        client.unwrap_or_else(|| SocketAddr::new(localhost, 49_152 + (conn % 16_384) as u16));
    let server = server.unwrap_or_else(|| {
        let port = info
            .and_then(|i| i.upstream.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(1);
        SocketAddr::new(localhost, port)
    });
    ([client, server], fell_back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isns_differ_per_side_and_connection_and_are_stable() {
        assert_ne!(isn(1, 0), isn(1, 1));
        assert_ne!(isn(1, 0), isn(2, 0));
        assert_eq!(isn(7, 1), isn(7, 1));
    }

    #[test]
    fn unparsable_addresses_fall_back_to_localhost() {
        let info = |client: &str, upstream: &str| OpenInfo {
            client: client.into(),
            upstream: upstream.into(),
            ..OpenInfo::default()
        };
        // (client, upstream, expected client, expected server, fell back)
        let cases = [
            (
                "10.0.0.1:4000",
                "10.0.0.2:5630",
                "10.0.0.1:4000",
                "10.0.0.2:5630",
                false,
            ),
            (
                "[::1]:4000",
                "gameserver:5630",
                "[::1]:4000",
                "127.0.0.1:5630",
                true,
            ),
            ("?", "nowhere", "127.0.0.1:49159", "127.0.0.1:1", true),
        ];
        for (client, upstream, want_c, want_s, want_fb) in cases {
            let ([c, s], fb) = addresses(7, Some(&info(client, upstream)));
            assert_eq!(
                (c.to_string(), s.to_string(), fb),
                (want_c.into(), want_s.into(), want_fb)
            );
        }
        let ([c, s], fb) = addresses(16_384 + 3, None);
        assert_eq!(
            (c.port(), s.to_string(), fb),
            (49_155, "127.0.0.1:1".into(), true)
        );
    }
}
