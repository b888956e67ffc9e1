//! A small PKI for TLS tests: a CA, an agent certificate for `localhost` and
//! `127.0.0.1` and a client certificate, both signed by the CA, and a client
//! certificate from another CA that agents must refuse. Written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files in a directory.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Signed by another CA.
    pub foreign_cert: PathBuf,
    pub foreign_key: PathBuf,
}

impl Pki {
    /// Writes every file into `dir` (`ca.pem`, `server.pem`, `server.key`,
    /// `client.pem`, `client.key`, `foreign.pem`, `foreign.key`).
    pub fn write(dir: &Path) -> Pki {
        let ca = authority("reel test CA");
        let other = authority("another CA");
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let (server_pem, server_key) = leaf(&ca, &["localhost", "127.0.0.1"]);
        let (client_pem, client_key) = leaf(&ca, &["reelctl"]);
        let (foreign_pem, foreign_key) = leaf(&other, &["reelctl"]);
        Pki {
            ca: file("ca.pem", &ca.pem()),
            server_cert: file("server.pem", &server_pem),
            server_key: file("server.key", &server_key),
            client_cert: file("client.pem", &client_pem),
            client_key: file("client.key", &client_key),
            foreign_cert: file("foreign.pem", &foreign_pem),
            foreign_key: file("foreign.key", &foreign_key),
        }
    }
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate for `names` signed by `issuer`, and its key (PEM).
fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}
