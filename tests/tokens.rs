//! Tokens and headers: a token file whose token could never be sent is
//! refused at start, naming the file, by the agent and by reelctl; the
//! `Bearer` scheme name is case-insensitive (RFC 7235), so `bearer` and
//! `BEARER` clients are served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Endpoint;

use common::*;

fn agent_with_token_file(dir: &std::path::Path, token: &[u8]) -> (CtlOutput, std::path::PathBuf) {
    let file = dir.join("token");
    std::fs::write(&file, token).unwrap();
    let data = dir.join("data");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--token-file")
        .arg(&file);
    let out = run_bounded(&mut cmd, Duration::from_secs(20), "reel-agent");
    assert!(!data.exists(), "nothing was set up");
    (out, file)
}

#[test]
fn a_token_that_cannot_be_sent_is_refused_at_start() {
    for (token, why) in [
        (
            "pässwort\n".as_bytes().to_vec(),
            "byte 2 of the token is 0xc3",
        ),
        (b"pass\x1bword\n".to_vec(), "0x1b"),
        (vec![b'x'; 5000], "longer than 4096 bytes"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (out, file) = agent_with_token_file(dir.path(), &token);
        assert_eq!(out.code, Some(1), "{why}: {}", out.stderr);
        let want = format!("error: token file {}: ", file.display());
        assert!(out.stderr.contains(&want), "{why}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
        // reelctl reads token files the same way: a usage error, exit 2.
        let out = reelctl(&[
            "--agent",
            "127.0.0.1:1",
            "--token-file",
            file.to_str().unwrap(),
            "agents",
        ]);
        assert_eq!(out.code, Some(2), "{why}: {}", out.stderr);
        assert!(out.stderr.contains(&want), "{why}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, b"correct-horse\n").unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "guarded",
        &["--token-file", token.to_str().unwrap()],
    );
    let channel = Endpoint::from_shared(format!("http://{}", agent.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let call = |header: &'static str| {
        let value: MetadataValue<Ascii> = header.parse().unwrap();
        let mut client =
            ReelClient::with_interceptor(channel.clone(), move |mut r: tonic::Request<()>| {
                r.metadata_mut().insert("authorization", value.clone());
                Ok(r)
            });
        async move { client.get_info(pb::GetInfoRequest {}).await }
    };
    for ok in [
        "Bearer correct-horse",
        "bearer correct-horse",
        "BEARER  correct-horse",
    ] {
        let info = call(ok).await.unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(info.into_inner().name, "guarded");
    }
    for (bad, why) in [
        ("bearer battery-staple", "invalid token"),
        ("Basic correct-horse", "not `Bearer <token>`"),
    ] {
        let e = call(bad).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{bad}");
        assert!(e.message().contains(why), "{bad}: {e}");
    }
}
