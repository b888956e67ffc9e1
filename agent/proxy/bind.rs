//! Binding a proxy's listen address: every address it resolves to in turn,
//! with a backlog sized for a crowd of clients reconnecting at once.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

use crate::error::{Error, Result};

/// Connections the kernel completes and queues for a proxy before it accepts
/// them (capped by `net.core.somaxconn`). A game's clients reconnect all at
/// once after a server restart; with the usual 128, the kernel drops the
/// SYNs beyond it and those clients wait out a 1 s SYN retransmission.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds like `TcpListener::bind` (every address `listen` resolves to, in
/// turn), with [`LISTEN_BACKLOG`].
pub(super) async fn bind(listen: &str) -> Result<TcpListener> {
    let failed = |source| Error::Bind {
        addr: listen.to_string(),
        source,
    };
    let mut last = None;
    for addr in tokio::net::lookup_host(listen).await.map_err(failed)? {
        match listen_on(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    })))
}

fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
