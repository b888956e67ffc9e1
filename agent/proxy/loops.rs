//! Upstreams that lead back into the agent. A proxy forwarding to its own
//! listen address (or to another proxy's) opens a connection per connection
//! until the agent runs out of file descriptors; one forwarding to the
//! control port exposes the control plane on the proxy's listen address,
//! beyond the loopback guard. Both are refused when the proxy starts.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long resolving an upstream's name at proxy start may take. A name
/// that does not resolve in time is not refused (the relay resolves it again
/// for every client and reports what fails), only not checked.
pub const UPSTREAM_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// An address the agent itself listens on, and what listens there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnAddr {
    pub addr: SocketAddr,
    /// For the error message: "the agent's control port", "proxy p1".
    pub what: String,
}

/// The addresses `upstream` resolves to now; empty when it does not
/// resolve (in time).
pub(crate) async fn resolve(upstream: &str) -> Vec<SocketAddr> {
    match tokio::time::timeout(UPSTREAM_LOOKUP_TIMEOUT, tokio::net::lookup_host(upstream)).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(_)) | Err(_) => Vec::new(),
    }
}

/// The first of `own` that a connection to one of `upstream` would reach,
/// with the upstream address that reaches it.
pub(crate) fn find_loop<'a>(
    upstream: &[SocketAddr],
    own: &'a [OwnAddr],
) -> Option<(SocketAddr, &'a OwnAddr)> {
    upstream
        .iter()
        .find_map(|u| own.iter().find(|o| reaches(*u, o.addr)).map(|o| (*u, o)))
}

/// Whether connecting to `upstream` reaches a socket listening on `listen`.
/// A wildcard listen (`0.0.0.0:P`, `[::]:P`) takes a connection to any local
/// address with port P, of either family (a `[::]` socket takes IPv4 unless
/// it is V6ONLY; assuming it does is the safe side).
pub(crate) fn reaches(upstream: SocketAddr, listen: SocketAddr) -> bool {
    if upstream.port() != listen.port() {
        return false;
    }
    let (u, l) = (upstream.ip().to_canonical(), listen.ip().to_canonical());
    u == l || (l.is_unspecified() && is_local(u))
}

/// Whether `ip` is this host: loopback (all of 127/8 and ::1), the
/// unspecified address (connecting to it reaches the host), or an address of
/// one of its interfaces (the only ones a socket can bind to).
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || (!ip.is_multicast() && std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn which_upstreams_reach_which_listens() {
        // (upstream, listen, reaches)
        let table = [
            ("127.0.0.1:7000", "127.0.0.1:7000", true),
            ("127.0.0.1:7000", "127.0.0.1:7001", false),
            ("127.0.0.2:7000", "127.0.0.1:7000", false),
            ("127.0.0.2:7000", "0.0.0.0:7000", true),
            ("127.0.0.1:7000", "[::]:7000", true),
            ("[::1]:7000", "[::]:7000", true),
            ("[::1]:7000", "0.0.0.0:7000", true),
            ("[::ffff:127.0.0.1]:7000", "127.0.0.1:7000", true),
            ("0.0.0.0:7000", "127.0.0.1:7000", false),
            ("0.0.0.0:7000", "0.0.0.0:7000", true),
            ("192.0.2.1:7000", "0.0.0.0:7000", false),
            ("192.0.2.1:7000", "192.0.2.1:7000", true),
            ("192.0.2.1:7000", "0.0.0.0:7001", false),
        ];
        for (upstream, listen, want) in table {
            assert_eq!(
                reaches(a(upstream), a(listen)),
                want,
                "{upstream} -> {listen}"
            );
        }
    }

    #[test]
    fn the_first_loop_is_named() {
        let own = [
            OwnAddr {
                addr: a("127.0.0.1:50051"),
                what: "the agent's control port".into(),
            },
            OwnAddr {
                addr: a("0.0.0.0:7000"),
                what: "proxy p1".into(),
            },
        ];
        assert_eq!(find_loop(&[a("192.0.2.1:7000")], &own), None);
        let (u, o) = find_loop(&[a("192.0.2.1:7000"), a("127.0.0.1:7000")], &own).unwrap();
        assert_eq!((u, o.what.as_str()), (a("127.0.0.1:7000"), "proxy p1"));
        let (_, o) = find_loop(&[a("127.0.0.1:50051")], &own).unwrap();
        assert_eq!(o.what, "the agent's control port");
    }
}
