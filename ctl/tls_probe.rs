//! Why an agent closed a TLS connection, found out with one handshake of
//! our own. With TLS 1.3 the agent checks a client certificate after the
//! handshake and answers with an alert (`CertificateRequired`, `UnknownCA`);
//! hyper reports that alert only to its connection task, so the call fails
//! with a bare "connection closed". Run only after such a failure, with the
//! same CA and certificate, it turns that into "the agent requires a client
//! certificate".

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, ClientConfig, ClientConnection, RootCertStore};

use crate::access::Access;

/// What an HTTP/2 client sends first: the agent reads it, then alerts.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The alert the agent at `address` answers a TLS session with, if any
/// (`None` also when the probe itself cannot run: the original error
/// stands). Blocking work, bounded by `timeout` per step.
pub(crate) async fn alert(
    address: &str,
    access: &Access,
    timeout: Duration,
) -> Option<AlertDescription> {
    let config = config(access)?;
    let address = address.to_owned();
    let probe = tokio::task::spawn_blocking(move || probe(&address, config, timeout));
    tokio::time::timeout(timeout * 3, probe).await.ok()?.ok()?
}

/// The client configuration reelctl's endpoint uses for this agent.
fn config(access: &Access) -> Option<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(access.tls_ca.as_deref()?) {
        roots.add(cert.ok()?).ok()?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots);
    let config = match &access.client_cert {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let chain = CertificateDer::pem_slice_iter(&c.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            let key = PrivateKeyDer::from_pem_slice(&c.key_pem).ok()?;
            builder.with_client_auth_cert(chain, key).ok()?
        }
    };
    Some(Arc::new(config))
}

fn probe(address: &str, config: Arc<ClientConfig>, timeout: Duration) -> Option<AlertDescription> {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let mut session = ClientConnection::new(config, name).ok()?;
    let target = address.to_socket_addrs().ok()?.next()?;
    let mut socket = TcpStream::connect_timeout(&target, timeout).ok()?;
    socket.set_read_timeout(Some(timeout)).ok()?;
    socket.set_write_timeout(Some(timeout)).ok()?;
    let mut tls = rustls::Stream::new(&mut session, &mut socket);
    let error = match tls.write_all(PREFACE).and_then(|()| tls.flush()) {
        Err(error) => error,
        Ok(()) => tls.read(&mut [0u8; 256]).err()?,
    };
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}
