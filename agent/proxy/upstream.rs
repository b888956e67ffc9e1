//! Reaching a client's upstream: the connect-delay fault, a bounded
//! connect to the first address that answers, and why it failed (the
//! connection's close reason).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// How long one upstream connect may take before the client is turned away.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a client's upstream connection did not come about; its text is the
/// connection's close reason.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("proxy stopped before upstream connected")]
    Stopped,
    #[error("upstream connect failed: {upstream}: {source}")]
    Failed {
        upstream: String,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream connect failed: {upstream}: timed out after {}s", .after.as_secs())]
    TimedOut { upstream: String, after: Duration },
}

/// Connects to the upstream, after the connect-delay fault if there is one;
/// the stream and the address it reached.
pub(super) async fn connect_upstream(
    upstream: &str,
    delay: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<(TcpStream, SocketAddr), UpstreamError> {
    if let Some(d) = delay {
        tokio::select! {
            _ = cancel.cancelled() => return Err(UpstreamError::Stopped),
            _ = tokio::time::sleep(d) => {}
        }
    }
    tokio::select! {
        _ = cancel.cancelled() => Err(UpstreamError::Stopped),
        r = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, connect_first(upstream)) => match r {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(source)) => Err(UpstreamError::Failed {
                upstream: upstream.to_string(),
                source,
            }),
            Err(_) => Err(UpstreamError::TimedOut {
                upstream: upstream.to_string(),
                after: UPSTREAM_CONNECT_TIMEOUT,
            }),
        },
    }
}

/// Connects to the first address of `upstream` that answers, as
/// `TcpStream::connect` does, and says which one it was: knowing it saves a
/// `getpeername` per connection. An address literal needs no lookup.
async fn connect_first(upstream: &str) -> std::io::Result<(TcpStream, SocketAddr)> {
    let mut last = None;
    for addr in tokio::net::lookup_host(upstream).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok((s, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the name resolved to no address",
        )
    }))
}
