//! Why an operation on one agent failed, told apart from the gRPC status:
//! the agent refused (its own message), we could not reach it, the link broke,
//! it did not answer in time, or our own side (a local file) failed.

use std::error::Error as _;
use std::time::Duration;

use tonic::{Code, Status};

/// The failure of one agent; never fatal to the others.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    /// The agent answered with an error status: it refused or failed the
    /// operation. Displayed as the agent's own message.
    #[error("{}", rejected_message(.0))]
    Rejected(Status),
    /// We could not open a connection to the agent (nothing listening,
    /// unknown host, network unreachable).
    #[error("cannot reach agent {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// The connection broke while talking to the agent (agent restarted or
    /// killed, network dropped).
    #[error("connection to agent {address} lost: {reason}")]
    ConnectionLost { address: String, reason: String },
    /// The agent refused our TLS credentials: it requires a client
    /// certificate and got none, or does not trust the one sent. Ours to fix.
    #[error("{reason}")]
    Credentials { address: String, reason: String },
    /// The agent did not answer within the deadline (host down, process
    /// stopped, overloaded).
    #[error("no answer from agent {address} within {}", humantime::format_duration(*.after))]
    Timeout { address: String, after: Duration },
    /// The agent answered something we cannot use (a field missing); the
    /// agent or this reelctl is out of date.
    #[error("unexpected answer from the agent: {0}")]
    Protocol(String),
    /// This host's side of the operation failed or refused: a local file
    /// could not be read or written, would have been overwritten, or a
    /// recording to copy is nowhere to be found. The message says which.
    #[error("{0}")]
    Local(String),
    /// reelctl itself failed (a task panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AgentError {
    /// Classifies a status from a call on the agent at `address`. Statuses
    /// the agent sent carry no source; the ones tonic makes from a local
    /// transport failure carry the failure as their source.
    pub(crate) fn from_status(status: Status, address: &str) -> AgentError {
        let mut connect = false;
        let mut innermost = None;
        let mut source = status.source();
        while let Some(err) = source {
            connect |= err.is::<tonic::ConnectError>();
            if let Some(reason) = refused_credentials(err) {
                return AgentError::Credentials {
                    address: address.to_owned(),
                    reason,
                };
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                innermost = Some(describe_io(io));
            } else if innermost.is_none() || err.source().is_none() {
                innermost = Some(plain(&err.to_string()));
            }
            source = err.source();
        }
        let Some(reason) = innermost else {
            return AgentError::Rejected(status);
        };
        let address = address.to_owned();
        if connect {
            AgentError::Unreachable { address, reason }
        } else {
            AgentError::ConnectionLost { address, reason }
        }
    }

    /// The message without the agent's address, for lines that already name
    /// the agent (human error lines, watch status lines).
    pub(crate) fn brief(&self) -> String {
        match self {
            AgentError::Unreachable { reason, .. } => format!("cannot reach agent: {reason}"),
            AgentError::ConnectionLost { reason, .. } => {
                format!("connection to agent lost: {reason}")
            }
            AgentError::Timeout { after, .. } => {
                format!(
                    "no answer from agent within {}",
                    humantime::format_duration(*after)
                )
            }
            other => other.to_string(),
        }
    }

    /// The gRPC code when the agent refused, for `-v` output.
    pub(crate) fn code(&self) -> Option<Code> {
        match self {
            AgentError::Rejected(status) => Some(status.code()),
            _ => None,
        }
    }
}

/// The agent's message, or the code's meaning when it sent none.
fn rejected_message(status: &Status) -> String {
    if status.message().is_empty() {
        status.code().description().to_owned()
    } else {
        status.message().to_owned()
    }
}

/// The agent's TLS alert in a transport error, when it is about our client
/// certificate. hyper hands the alert on as text only, when at all (most
/// often the call sees "connection closed": `fleet::explain` then asks
/// `tls_probe`).
fn refused_credentials(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let text = err.to_string();
    let name = text.split("received fatal alert: ").nth(1)?;
    let name = name.split(|c: char| !c.is_ascii_alphanumeric()).next()?;
    let alert = (0..=u8::MAX)
        .map(rustls::AlertDescription::from)
        .find(|a| format!("{a:?}") == name)?;
    credentials_reason(alert)
}

/// What a TLS alert from the agent means for the user, when it is about
/// our client certificate.
pub(crate) fn credentials_reason(alert: rustls::AlertDescription) -> Option<String> {
    use rustls::AlertDescription as A;
    match alert {
        A::CertificateRequired => Some(
            "the agent requires a client certificate (it was started with --tls-client-ca): \
             give --tls-cert and --tls-key, or tls_cert and tls_key in the fleet file"
                .to_owned(),
        ),
        A::BadCertificate
        | A::UnknownCA
        | A::UnsupportedCertificate
        | A::CertificateRevoked
        | A::CertificateExpired
        | A::CertificateUnknown
        | A::AccessDenied => Some(format!(
            "the agent refused the client certificate ({alert:?}): it must be signed by \
             the CA the agent trusts (its --tls-client-ca) and be valid now"
        )),
        _ => None,
    }
}

/// h2 reports a connection that ended under an open stream as "stream
/// (or connection) closed because of a broken pipe", hiding the I/O error.
fn plain(text: &str) -> String {
    if text.ends_with("closed because of a broken pipe") {
        "connection closed".to_owned()
    } else {
        text.to_owned()
    }
}

/// Plain words for the I/O errors users meet when an agent is away.
fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let words = match err.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "connection timed out",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::BrokenPipe => "connection closed",
        K::UnexpectedEof => "connection closed",
        _ => return err.to_string(),
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn agent_statuses_keep_their_message() {
        let err = AgentError::from_status(Status::not_found("unknown proxy \"p9\""), "h:1");
        assert_eq!(err.to_string(), "unknown proxy \"p9\"");
        assert_eq!(err.code(), Some(Code::NotFound));
        let err = AgentError::from_status(Status::new(Code::Unavailable, ""), "h:1");
        assert_eq!(err.to_string(), Code::Unavailable.description());
    }

    #[test]
    fn connect_failures_are_unreachable() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let status = Status::from_error(Box::new(tonic::ConnectError(Box::new(io))));
        let err = AgentError::from_status(status, "127.0.0.1:7799");
        assert_eq!(
            err.to_string(),
            "cannot reach agent 127.0.0.1:7799: connection refused"
        );
        assert_eq!(err.code(), None);
        assert_eq!(err.brief(), "cannot reach agent: connection refused");
    }

    #[test]
    fn other_transport_failures_are_lost_connections() {
        let io = io::Error::from(io::ErrorKind::ConnectionReset);
        let status = Status::from_error(Box::new(io));
        let err = AgentError::from_status(status, "h:1");
        assert_eq!(
            err.to_string(),
            "connection to agent h:1 lost: connection reset"
        );
    }

    #[test]
    fn refused_client_certificates_say_what_to_do() {
        // As hyper passes it on: the rustls error as text.
        let alert = |a| {
            let io = io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::AlertReceived(a).to_string(),
            );
            AgentError::from_status(Status::from_error(Box::new(io)), "h:1")
        };
        let err = alert(rustls::AlertDescription::CertificateRequired);
        assert!(matches!(err, AgentError::Credentials { .. }), "{err:?}");
        assert!(
            err.brief()
                .starts_with("the agent requires a client certificate"),
            "{err}"
        );
        let err = alert(rustls::AlertDescription::UnknownCA);
        assert!(
            err.to_string()
                .starts_with("the agent refused the client certificate (UnknownCA)"),
            "{err}"
        );
        let err = alert(rustls::AlertDescription::InternalError);
        assert!(matches!(err, AgentError::ConnectionLost { .. }), "{err:?}");
    }

    #[test]
    fn timeouts_say_how_long() {
        let err = AgentError::Timeout {
            address: "h:1".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(err.to_string(), "no answer from agent h:1 within 1s 500ms");
    }
}
