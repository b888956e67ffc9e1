//! Which credential files each agent gets, read and checked before any
//! command runs: a fleet file's per-agent entries win over the global flags
//! (`--token-file`, `--tls-ca`, `--tls-cert`/`--tls-key`). Every file is read
//! here, so an unreadable or malformed one is a usage error (exit 2) naming
//! the file, never a failure of each agent later.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::access::{Access, ClientCert};
use crate::settings::AgentTarget;

/// The credential files named for one agent (or globally), not yet read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CredentialFiles {
    pub(crate) token_file: Option<PathBuf>,
    pub(crate) tls_ca: Option<PathBuf>,
    /// Certificate and key presented to an agent started with
    /// `--tls-client-ca`; they always come as a pair (clap and the fleet
    /// file's parser check that).
    pub(crate) tls_cert: Option<(PathBuf, PathBuf)>,
}

/// Reads the credentials of every agent: its own files (from the fleet
/// file, keyed by address) where it has them, else the global ones.
///
/// # Errors
/// A message naming the unreadable or malformed file, or the agent whose
/// client certificate has no TLS to travel in.
pub(crate) fn resolve(
    global: &CredentialFiles,
    agents: &[AgentTarget],
    per_agent: &HashMap<String, CredentialFiles>,
) -> Result<HashMap<String, Access>, String> {
    let global_access = read(global)?;
    let mut out = HashMap::new();
    for agent in agents {
        let own = per_agent.get(&agent.address).cloned().unwrap_or_default();
        let own_access = read(&own)?;
        let access = Access {
            token: own_access.token.or_else(|| global_access.token.clone()),
            tls_ca: own_access.tls_ca.or_else(|| global_access.tls_ca.clone()),
            client_cert: own_access
                .client_cert
                .or_else(|| global_access.client_cert.clone()),
        };
        if access.client_cert.is_some() && access.tls_ca.is_none() {
            return Err(format!(
                "agent {}: a client certificate (--tls-cert, or tls_cert in the fleet file) \
                 is sent only over TLS: give --tls-ca (or tls_ca for this agent) too",
                agent.label()
            ));
        }
        if let (Some(ca), Some(cert)) = (&access.tls_ca, &access.client_cert) {
            check_tls(ca, cert)?;
        }
        out.insert(agent.address.clone(), access);
    }
    Ok(out)
}

/// Reads the files that are named.
fn read(files: &CredentialFiles) -> Result<Access, String> {
    Ok(Access {
        token: files.token_file.as_deref().map(read_token).transpose()?,
        tls_ca: files.tls_ca.as_deref().map(read_ca).transpose()?,
        client_cert: files
            .tls_cert
            .as_ref()
            .map(|(cert, key)| read_client_cert(cert, key))
            .transpose()?,
    })
}

/// Reads a token file as the agent does (its first line, trimmed; refused
/// when empty, over 4 KiB or not printable ASCII, since such a token could
/// never be sent in a header).
///
/// # Errors
/// A message naming the file.
pub(crate) fn read_token(path: &Path) -> Result<String, String> {
    reel::token::read_token_file(path)
}

/// Reads a CA certificate file (PEM).
///
/// # Errors
/// A message naming the file.
pub(crate) fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
    read_pem(path, "TLS CA", "CERTIFICATE")
}

/// Reads a client certificate and its private key (PEM).
///
/// # Errors
/// A message naming the file that cannot be read or holds no PEM block of
/// the right kind.
pub(crate) fn read_client_cert(cert: &Path, key: &Path) -> Result<ClientCert, String> {
    Ok(ClientCert {
        cert_pem: read_pem(cert, "TLS client certificate", "CERTIFICATE")?,
        key_pem: read_pem(key, "TLS client key", "PRIVATE KEY")?,
        cert_path: cert.to_owned(),
        key_path: key.to_owned(),
    })
}

/// Reads `path` and checks it holds a `-----BEGIN ...<label>-----` block
/// (`PRIVATE KEY` also matches `RSA PRIVATE KEY` and `EC PRIVATE KEY`).
fn read_pem(path: &Path, what: &str, label: &str) -> Result<Vec<u8>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&pem);
    let found = text.lines().any(|line| {
        let line = line.trim();
        line.starts_with("-----BEGIN ") && line.ends_with(&format!("{label}-----"))
    });
    if !found {
        let kind = if label == "CERTIFICATE" {
            "a PEM certificate"
        } else {
            "a PEM private key"
        };
        return Err(format!("{what} {} is not {kind}", path.display()));
    }
    Ok(pem)
}

/// Builds the TLS client configuration once, so a key that does not parse
/// or does not belong to its certificate is told here, naming both files,
/// rather than as a failure of every agent.
fn check_tls(ca: &[u8], cert: &ClientCert) -> Result<(), String> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(&cert.cert_pem, &cert.key_pem));
    Endpoint::from_static("https://localhost")
        .tls_config(tls)
        .map(drop)
        .map_err(|e| {
            format!(
                "TLS client certificate {} and key {} cannot be used: {}",
                cert.cert_path.display(),
                cert.key_path.display(),
                crate::source::with_causes(&e)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn agent(address: &str) -> AgentTarget {
        AgentTarget {
            address: address.into(),
            name: None,
        }
    }

    /// A CA file, and a client certificate with its key.
    fn material(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let ck = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
        let ca = write(dir, "ca.pem", &ck.cert.pem());
        let cert = write(dir, "cert.pem", &ck.cert.pem());
        let key = write(dir, "key.pem", &ck.signing_key.serialize_pem());
        (ca, cert, key)
    }

    #[test]
    fn per_agent_files_win_over_the_global_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = material(dir.path());
        let token = write(dir.path(), "token", "global-token\n");
        let own = write(dir.path(), "own", "own-token\n");
        let global = CredentialFiles {
            token_file: Some(token),
            tls_ca: Some(ca.clone()),
            tls_cert: None,
        };
        let mut per_agent = HashMap::new();
        per_agent.insert(
            "b:1".to_owned(),
            CredentialFiles {
                token_file: Some(own),
                tls_ca: None,
                tls_cert: Some((cert, key)),
            },
        );
        let access = resolve(&global, &[agent("a:1"), agent("b:1")], &per_agent).unwrap();
        assert_eq!(access["a:1"].token.as_deref(), Some("global-token"));
        assert!(access["a:1"].client_cert.is_none());
        assert_eq!(access["b:1"].token.as_deref(), Some("own-token"));
        assert!(
            access["b:1"].tls_ca.is_some(),
            "the global CA still applies"
        );
        assert!(access["b:1"].client_cert.is_some());
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = material(dir.path());
        let missing = dir.path().join("missing.pem");
        let not_pem = write(dir.path(), "notes.txt", "hello\n");
        let cases: Vec<(CredentialFiles, String)> = vec![
            (
                CredentialFiles {
                    tls_ca: Some(ca.clone()),
                    tls_cert: Some((missing.clone(), key.clone())),
                    ..Default::default()
                },
                format!("cannot read TLS client certificate {}", missing.display()),
            ),
            (
                CredentialFiles {
                    tls_ca: Some(ca.clone()),
                    tls_cert: Some((cert.clone(), not_pem.clone())),
                    ..Default::default()
                },
                format!(
                    "TLS client key {} is not a PEM private key",
                    not_pem.display()
                ),
            ),
            (
                // The certificate given as its own key.
                CredentialFiles {
                    tls_ca: Some(ca.clone()),
                    tls_cert: Some((key.clone(), cert.clone())),
                    ..Default::default()
                },
                format!(
                    "TLS client certificate {} is not a PEM certificate",
                    key.display()
                ),
            ),
            (
                CredentialFiles {
                    tls_cert: Some((cert.clone(), key.clone())),
                    ..Default::default()
                },
                "is sent only over TLS: give --tls-ca".to_owned(),
            ),
        ];
        for (files, expected) in cases {
            let err = resolve(&files, &[agent("a:1")], &HashMap::new()).unwrap_err();
            assert!(err.contains(&expected), "{files:?}: {err}");
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, _key) = material(dir.path());
        let other = rcgen::generate_simple_self_signed(vec!["other".into()]).unwrap();
        let wrong = write(dir.path(), "wrong.pem", &other.signing_key.serialize_pem());
        let files = CredentialFiles {
            tls_ca: Some(ca),
            tls_cert: Some((cert.clone(), wrong.clone())),
            ..Default::default()
        };
        let err = resolve(&files, &[agent("a:1")], &HashMap::new()).unwrap_err();
        assert!(
            err.contains(&cert.display().to_string())
                && err.contains(&wrong.display().to_string())
                && err.contains("cannot be used"),
            "{err}"
        );
    }
}
