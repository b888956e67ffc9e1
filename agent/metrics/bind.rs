//! Binding `--metrics-listen` under the control plane's exposure rule: the
//! metrics name every proxy and show its traffic, so an address beyond
//! loopback needs the agent's token (which scrapes then carry) or an
//! explicit `--insecure`.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::service::auth::check_exposure;

/// Why the metrics endpoint was not opened. Always the operator's choice
/// of address (or the host refusing it): the agent exits before serving.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A non-loopback address with neither a token nor `--insecure`.
    #[error(
        "refusing to serve metrics on {0} (--metrics-listen) without a token: they name your \
         proxies and show your traffic. Give --token-file FILE (scrapes then send \
         `Authorization: Bearer <token>`), keep --metrics-listen on loopback, or add --insecure \
         if the network is otherwise protected"
    )]
    Exposed(SocketAddr),
    /// The address cannot be bound (in use, not local, not resolvable).
    #[error("cannot listen on {addr} for metrics (--metrics-listen): {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `addr` for the metrics endpoint. A plain address is checked before
/// binding, a name after it resolved: either way nothing is served beyond
/// loopback without `has_token` or `insecure`.
///
/// # Errors
/// `Exposed` or `Bind`.
pub async fn bind(addr: &str, has_token: bool, insecure: bool) -> Result<TcpListener, BindError> {
    let exposed =
        |a: SocketAddr| check_exposure(a, has_token, insecure).map_err(|_| BindError::Exposed(a));
    if let Ok(a) = addr.parse::<SocketAddr>() {
        exposed(a)?;
    }
    let bind_error = |source| BindError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    exposed(listener.local_addr().map_err(bind_error)?)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_loopback_needs_a_token_or_insecure() {
        let e = bind("0.0.0.0:0", false, false).await.unwrap_err();
        assert!(matches!(e, BindError::Exposed(_)), "{e}");
        assert!(e.to_string().contains("--metrics-listen"), "{e}");
        assert!(bind("127.0.0.1:0", false, false).await.is_ok());
        let e = bind("127.0.0.1:99999", false, false).await.unwrap_err();
        assert!(
            e.to_string().contains("cannot listen on 127.0.0.1:99999"),
            "{e}"
        );
    }
}
