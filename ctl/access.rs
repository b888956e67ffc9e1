//! How reelctl proves itself to agents: a bearer token, a CA to check the
//! agent's TLS certificate and a client certificate for agents that ask for
//! one (`--tls-client-ca`), globally or per agent from the fleet file
//! (`credentials` reads them).
//! Resolved from the settings and installed for the whole process (again
//! for each command `reelctl shell` runs), so every connection (unary calls,
//! transfers, watch streams) uses them without each command carrying them
//! around.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use reel::proto::reel_client::ReelClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::AgentError;

/// Credentials for one agent. Its `Debug` never shows the token or the
/// private key, so a debug log or a panic message cannot leak them.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Access {
    /// Sent as `authorization: Bearer <token>`.
    pub(crate) token: Option<String>,
    /// PEM of the CA that signed the agent's certificate; set = use TLS.
    pub(crate) tls_ca: Option<Vec<u8>>,
    /// Presented in the TLS handshake (only with `tls_ca`).
    pub(crate) client_cert: Option<ClientCert>,
}

/// A client certificate and its key, with the files they came from (for
/// error messages).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClientCert {
    pub(crate) cert_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
    pub(crate) cert_path: std::path::PathBuf,
    pub(crate) key_path: std::path::PathBuf,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tls_ca", &self.tls_ca.as_ref().map(|ca| ca.len()))
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// Replaced by each command `reelctl shell` runs, since a line may select
/// other agents or credentials than the one before.
static INSTALLED: RwLock<Option<HashMap<String, Access>>> = RwLock::new(None);

/// Sets the credentials per agent address before a command runs.
pub(crate) fn install(per_agent: HashMap<String, Access>) {
    // A panic while holding the lock cannot leave the map half-written
    // (it is replaced whole): a poisoned lock is still good.
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(per_agent);
}

/// The credentials for `address` (none when not installed).
pub(crate) fn of(address: &str) -> Access {
    INSTALLED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(address))
        .cloned()
        .unwrap_or_default()
}

/// Adds the bearer token to every request.
#[derive(Clone, Default)]
pub(crate) struct BearerToken(Option<MetadataValue<Ascii>>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "BearerToken(<redacted>)"
        } else {
            "BearerToken(None)"
        })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A client of one agent, with its credentials.
pub(crate) type Client = ReelClient<InterceptedService<Channel, BearerToken>>;

/// A client over `channel` sending `address`'s token.
pub(crate) fn client(channel: Channel, address: &str) -> Client {
    let token = of(address)
        .token
        .and_then(|t| format!("Bearer {t}").parse::<MetadataValue<Ascii>>().ok());
    ReelClient::with_interceptor(channel, BearerToken(token))
}

/// The endpoint of `address` (https when a CA is configured), with the
/// connect deadline set.
///
/// # Errors
/// `Internal` if the address does not make a URI or the TLS setup fails.
pub(crate) fn endpoint(address: &str, timeout: Duration) -> Result<Endpoint, AgentError> {
    let access = of(address);
    let bad = |e: String| AgentError::Internal(format!("bad agent address {address:?}: {e}"));
    let scheme = if access.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(timeout);
    if let Some(ca) = access.tls_ca {
        let host = address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name(host);
        if let Some(cert) = access.client_cert {
            tls = tls.identity(Identity::from_pem(cert.cert_pem, cert.key_pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| AgentError::Internal(format!("TLS setup for {address}: {e}")))?;
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token_or_the_key() {
        let a = Access {
            token: Some("s3cret-token".into()),
            tls_ca: Some(b"CA".to_vec()),
            client_cert: Some(ClientCert {
                cert_pem: b"CERT".to_vec(),
                key_pem: b"PRIVATE KEY".to_vec(),
                cert_path: "c.pem".into(),
                key_path: "k.pem".into(),
            }),
        };
        let shown = format!(
            "{a:?} {:?}",
            BearerToken(Some("Bearer s3cret-token".parse().unwrap()))
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("PRIVATE"),
            "{shown}"
        );
        assert!(shown.contains("k.pem"), "{shown}");
    }
}
