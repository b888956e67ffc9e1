//! Opening a replayed connection's socket: a TCP connect retried with
//! backoff (only before any byte was sent: nothing was yet), or a UDP
//! socket connected to the target (`datagram`), which needs no retry as
//! nothing goes on the wire until the first datagram.

use std::io;
use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::datagram;
use crate::format::Transport;

/// How long connecting may keep failing before the connection is given up.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// First pause between connect attempts; doubles up to `CONNECT_BACKOFF_MAX`.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(50);
pub const CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why a replayed connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("replay stopped")]
    Stopped,
    /// The last attempt's error, after retrying until `CONNECT_DEADLINE`.
    #[error("connect to {target} failed: {last}")]
    Failed {
        target: String,
        #[source]
        last: std::io::Error,
    },
}

/// A connected socket of either transport.
pub(super) enum Socket {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// Connects to `target`, retrying with backoff until `CONNECT_DEADLINE`.
async fn connect(target: &str, cancel: &CancellationToken) -> Result<TcpStream, ConnectError> {
    let deadline = crate::timer::now() + CONNECT_DEADLINE;
    let mut pause = CONNECT_BACKOFF;
    loop {
        let attempt = tokio::time::timeout(CONNECT_DEADLINE, TcpStream::connect(target));
        let last = tokio::select! {
            _ = cancel.cancelled() => return Err(ConnectError::Stopped),
            r = attempt => match r {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => e,
                Err(_) => std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
            },
        };
        if crate::timer::now() + pause > deadline {
            return Err(ConnectError::Failed {
                target: target.to_string(),
                last,
            });
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(ConnectError::Stopped),
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(CONNECT_BACKOFF_MAX);
    }
}

/// Opens the socket of a connection of `transport` to `target`; the error
/// says why, the target named.
pub(super) async fn open_socket(
    transport: Transport,
    target: &str,
    cancel: &CancellationToken,
) -> io::Result<Socket> {
    match transport {
        Transport::Udp => datagram::open(target).await.map(Socket::Udp),
        Transport::Tcp => connect(target, cancel)
            .await
            .map(Socket::Tcp)
            .map_err(|e| match e {
                ConnectError::Failed { .. } => io::Error::other(e.to_string()),
                ConnectError::Stopped => {
                    io::Error::new(io::ErrorKind::Interrupted, "replay stopped")
                }
            }),
    }
}
