//! reelctl drives an agent started with `--tls-client-ca` (issue 13,
//! finding 14): `--tls-cert/--tls-key`, or `tls_cert`/`tls_key` per agent in
//! the fleet file; without a certificate, or with one the agent refuses, the
//! error says so; bad certificate options are usage errors naming the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tls::Pki;
use common::*;

fn s(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn an_agent_requiring_client_certificates_is_driven_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::write(dir.path());
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "mtls-agent",
        &[
            "--tls-cert",
            s(&pki.server_cert),
            "--tls-key",
            s(&pki.server_key),
            "--tls-client-ca",
            s(&pki.ca),
        ],
    );
    let addr = agent.addr_str();
    let base = ["--agent", &addr, "--timeout", "5s", "--tls-ca", s(&pki.ca)];

    // Without a certificate: refused, and the message says why.
    let out = reelctl(&[&base[..], &["agents"]].concat());
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("the agent requires a client certificate")
            && out.stderr.contains("--tls-cert"),
        "{}",
        out.stderr
    );
    let out = reelctl(&[&base[..], &["--json", "proxy", "ls"]].concat());
    out.assert_code(1);
    let error = out.json()["results"][0]["error"].to_string();
    assert!(
        error.contains("the agent requires a client certificate"),
        "{error}"
    );

    // Also when the first call is a stream (an upload).
    let file = dir.path().join("r1.reel");
    let mut bytes = Vec::new();
    let header = reel::format::Header {
        id: "r1".into(),
        ..Default::default()
    };
    reel::format::encode_header(&header, &mut bytes).unwrap();
    std::fs::write(&file, bytes).unwrap();
    let out = reelctl(&[&base[..], &["record", "push", s(&file)]].concat());
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("the agent requires a client certificate"),
        "{}",
        out.stderr
    );

    // With one signed by the CA the agent trusts: served.
    let with_cert = [
        "--tls-cert",
        s(&pki.client_cert),
        "--tls-key",
        s(&pki.client_key),
    ];
    let out = reelctl(&[&base[..], &with_cert[..], &["--json", "agents"]].concat());
    out.assert_code(0);
    assert_eq!(out.json()["results"][0]["data"]["name"], "mtls-agent");

    // With one from another CA: refused, and told so.
    let foreign = [
        "--tls-cert",
        s(&pki.foreign_cert),
        "--tls-key",
        s(&pki.foreign_key),
    ];
    let out = reelctl(&[&base[..], &foreign[..], &["agents"]].concat());
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("the agent refused the client certificate"),
        "{}",
        out.stderr
    );

    // A fleet file carries the CA, certificate and key per agent (paths
    // relative to the fleet file).
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[agent]]\nname = \"m\"\naddress = \"{addr}\"\ntls_ca = \"ca.pem\"\n\
             tls_cert = \"client.pem\"\ntls_key = \"client.key\"\n"
        ),
    )
    .unwrap();
    let out = reelctl(&["--fleet", s(&fleet), "--json", "agents"]);
    out.assert_code(0);
    assert_eq!(out.json()["results"][0]["name"], "m");
    assert_eq!(out.json()["results"][0]["data"]["name"], "mtls-agent");
}

#[test]
fn bad_certificate_options_are_usage_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::write(dir.path());
    let missing = dir.path().join("missing.pem");
    // Nothing listens there: every case fails before any connection.
    let agent = ["--agent", "127.0.0.1:9", "--tls-ca", s(&pki.ca)];
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--tls-key", s(&pki.client_key)],
            "--tls-cert".to_owned(),
        ),
        (
            vec!["--tls-cert", s(&pki.client_cert)],
            "--tls-key".to_owned(),
        ),
        (
            vec!["--tls-cert", s(&missing), "--tls-key", s(&pki.client_key)],
            format!("cannot read TLS client certificate {}", missing.display()),
        ),
        (
            vec!["--tls-cert", s(&pki.client_cert), "--tls-key", s(&pki.ca)],
            format!(
                "TLS client key {} is not a PEM private key",
                pki.ca.display()
            ),
        ),
        (
            vec![
                "--tls-cert",
                s(&pki.client_cert),
                "--tls-key",
                s(&pki.foreign_key),
            ],
            "cannot be used".to_owned(),
        ),
    ];
    for (flags, expected) in cases {
        let out = reelctl(&[&agent[..], &flags[..], &["agents"]].concat());
        assert_eq!(out.code, Some(2), "{flags:?}: {}", out.stderr);
        assert!(out.stderr.contains(&expected), "{flags:?}: {}", out.stderr);
    }

    // A certificate with no CA (no TLS) cannot be sent.
    let out = reelctl(&[
        "--agent",
        "127.0.0.1:9",
        "--tls-cert",
        s(&pki.client_cert),
        "--tls-key",
        s(&pki.client_key),
        "agents",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("give --tls-ca"), "{}", out.stderr);

    // A fleet entry with a key and no certificate.
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        "[[agent]]\nname = \"m\"\naddress = \"127.0.0.1:9\"\ntls_key = \"client.key\"\n",
    )
    .unwrap();
    let out = reelctl(&["--fleet", s(&fleet), "agents"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("tls_key without tls_cert"),
        "{}",
        out.stderr
    );
}
