//! Bad values inside otherwise well-formed requests: control characters in
//! names and labels, oversized labels and ids, enum numbers this agent does
//! not know. Each is refused naming the field, nothing is left behind, and
//! the agent keeps serving. (Malformed addresses and ids, and bad peers, are
//! in bad_input.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reel::proto as pb;
use tonic::Code;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_and_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The agent's own name is one way terminal-hostile text reaches reelctl.
    let name = "evil\x1b]0;pwned\x07\r\x1b[2Jname";
    let agent = AgentProc::start_named("127.0.0.1", &data, name);
    let mut ctl = agent.client().await;

    // Labels and proxy names with control characters: refused, naming the
    // field, nothing created.
    for label in ["a\x1b[2Jb", "nul\0", "cr\rlf"] {
        let r = ctl
            .start_recording(pb::StartRecordingRequest {
                label: label.into(),
                ..Default::default()
            })
            .await;
        assert_status(
            r,
            Code::InvalidArgument,
            &["invalid label", "control character"],
        );
    }
    let mut req = proxy_req("127.0.0.1:0", "127.0.0.1:9");
    req.name = "game\x1b[31m".into();
    assert_status(
        ctl.start_proxy(req).await,
        Code::InvalidArgument,
        &["invalid name"],
    );
    let listed = ctl
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.recordings.is_empty(), "{listed:?}");
    assert!(
        ctl.list_proxies(pb::ListProxiesRequest {})
            .await
            .unwrap()
            .into_inner()
            .proxies
            .is_empty()
    );

    // Human output escapes it; JSON keeps it exact.
    let addr = agent.addr_str();
    let out = reelctl_async(&["--agent", &addr, "agents"]).await;
    out.assert_code(0);
    for raw in ['\x1b', '\x07', '\r', '\0'] {
        assert!(!out.stdout.contains(raw), "{raw:?} in {:?}", out.stdout);
    }
    assert!(
        out.stdout
            .contains("evil\\u{1b}]0;pwned\\u{7}\\r\\u{1b}[2Jname"),
        "{}",
        out.stdout
    );
    let out = reelctl_async(&["--agent", &addr, "--json", "agents"]).await;
    out.assert_code(0);
    assert_eq!(out.json()["results"][0]["data"]["name"], name);
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 13, finding 13: a 10 MB label gave INTERNAL and left a 0-byte
/// `.reel` outside the catalog. It is refused, naming the field, before any
/// file is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_label_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    start_proxy(&mut ctl, echo_server().await).await;
    let before = files_in(&data);

    for len in [10 * 1024 * 1024, 1025] {
        let r = ctl
            .start_recording(pb::StartRecordingRequest {
                proxies: vec![],
                label: "x".repeat(len),
                start_at_unix_ns: 0,
                ring_ms: 0,
            })
            .await;
        assert_status(r, Code::InvalidArgument, &["invalid label", "1024"]);
        assert_eq!(
            files_in(&data),
            before,
            "no file left by a {len}-byte label"
        );
        still_serving(&mut ctl).await;
    }
    let listed = ctl
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings;
    assert!(listed.is_empty(), "{listed:?}");

    // The limit itself is accepted.
    let ok = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: vec![],
            label: "y".repeat(1024),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.label.len(), 1024);
}

/// Issue 13, finding 14: a 100 KB id echoed whole into the error made the
/// status too large for the HTTP/2 headers, and the client saw
/// RESOURCE_EXHAUSTED. Echoed input is cut to 64 characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_id_is_echoed_short() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let huge = "a".repeat(100_000);

    let r = ctl
        .get_recording(pb::GetRecordingRequest { id: huge.clone() })
        .await;
    let status = r.expect_err("a 100 KB id is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().len() < 300, "{}", status.message());
    assert!(
        status.message().contains("invalid id") && status.message().contains("(100000 bytes)"),
        "{}",
        status.message()
    );

    // An id that is only looked up (never validated) is cut the same way.
    let r = ctl.stop_proxy(pb::StopProxyRequest { id: huge }).await;
    let status = r.expect_err("no such proxy");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().len() < 300, "{}", status.message());
    still_serving(&mut ctl).await;
}

/// A typed field (a proto enum) holding a number this agent does not know,
/// as a newer or broken client could send: refused naming the field, never
/// taken for the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_enum_values_are_invalid_arguments_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;

    let r = ctl
        .start_replay(pb::StartReplayRequest {
            recordings: vec!["r-none".into()],
            mode: 99,
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["invalid mode", "99"]);
    still_serving(&mut ctl).await;

    let direction = pb::FaultProfile {
        direction: 42,
        ..Default::default()
    };
    let latency = pb::FaultProfile {
        latency: Some(pb::Latency {
            distribution: 7,
            fixed_us: 1_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    for (faults, field) in [
        (direction, "invalid faults.direction: 42"),
        (latency, "invalid faults.latency.distribution: 7"),
    ] {
        let r = ctl
            .start_proxy(pb::StartProxyRequest {
                faults: Some(faults),
                ..proxy_req("127.0.0.1:0", "127.0.0.1:9")
            })
            .await;
        assert_status(r, Code::InvalidArgument, &[field]);
        still_serving(&mut ctl).await;
    }
    let proxies = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(proxies.proxies.is_empty(), "no proxy was started");
}
