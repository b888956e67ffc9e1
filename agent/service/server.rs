//! Serving: the reel.v1 service plus the standard health and reflection
//! services (reflection v1 and v1alpha, since some clients speak only one),
//! with an optional bearer token and optional TLS (rustls).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use super::ReelService;
use super::auth::Auth;
use crate::agent::Agent;
use crate::config::MAX_GRPC_MESSAGE;
use crate::proto::{self, reel_server::ReelServer};

/// How the control plane's address is named when a proxy is refused for
/// forwarding to it.
pub const CONTROL_PORT: &str = "the agent's control port";

/// PEM material for TLS.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca_pem: Option<Vec<u8>>,
}

/// How the control plane is protected.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Required as `authorization: Bearer <token>` on every call but health.
    pub token: Option<String>,
    pub tls: Option<TlsFiles>,
}

/// Serves the control plane on `listener` until `shutdown` fires.
///
/// # Errors
/// When the TLS material or reflection descriptors are invalid, or the
/// transport fails.
pub async fn serve(
    agent: Arc<Agent>,
    listener: TcpListener,
    shutdown: CancellationToken,
    options: ServeOptions,
) -> anyhow::Result<()> {
    // No proxy may forward to the control port (main marks it before the
    // config file's proxies start; this covers an embedding caller).
    if let Ok(addr) = listener.local_addr() {
        agent.proxies.add_own_address(addr, CONTROL_PORT);
    }
    let auth = Auth::new(options.token);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<ReelServer<ReelService>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let reel = ReelServer::new(ReelService::new(agent, shutdown.clone()))
        .max_decoding_message_size(MAX_GRPC_MESSAGE)
        .max_encoding_message_size(MAX_GRPC_MESSAGE);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = options.tls {
        // The object store's HTTP client (`crate::store`) compiles rustls's
        // aws-lc-rs provider in beside tonic's ring, and with two providers
        // rustls no longer picks one for tonic's server config: ring, as
        // everywhere else in reel. A provider already chosen is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(tls.cert_pem, tls.key_pem));
        if let Some(ca) = tls.client_ca_pem {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder.tls_config(config)?;
    }
    builder
        .add_service(health)
        .add_service(InterceptedService::new(reflection_v1, auth.clone()))
        .add_service(InterceptedService::new(reflection_v1alpha, auth.clone()))
        .add_service(InterceptedService::new(reel, auth))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await?;
    Ok(())
}
