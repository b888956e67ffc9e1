//! A UDP socket connected to a target, as a proxy's session and a replayed
//! session both need: bound to an ephemeral port of the target's family and
//! `connect`ed, so the kernel keeps only the target's datagrams and reports
//! its ICMP errors (a dead port is ECONNREFUSED on a later send or receive).

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

/// Resolves `target` (host:port), binds a socket of its first address's
/// family and connects it there.
///
/// # Errors
/// Resolution (`NotFound` when the name has no address), bind or connect.
pub async fn connected_socket(target: &str) -> io::Result<(UdpSocket, SocketAddr)> {
    let addr = tokio::net::lookup_host(target)
        .await?
        .next()
        .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "the name has no address"))?;
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    Ok((socket, addr))
}
