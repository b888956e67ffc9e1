//! The object store for recordings with no server to run: a `file://`
//! store (a shared mount) that two agents share, a flight recorder whose
//! dump goes to the store while its ring stays local, and `--store` values
//! refused at start naming the flag. These run in every `cargo test`; the
//! S3 flows are tests/s3_store.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::s3::{UPLOAD_WAIT, listed, location, record};
use common::segmented::SMALL_SEGMENTS;
use common::{
    AgentProc, agent_json, echo_server, eventually, ok_data, proxy_addr, reelctl_async, round_trip,
    start_proxy,
};
use reel::proto as pb;
use tokio::net::TcpStream;

/// The same flow on a `file://` store (a shared mount), with no server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_is_shared_by_two_agents() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b, shared) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("shared"),
    );
    let url = format!("file://{}", shared.display());
    let mut args = vec!["--store", url.as_str()];
    args.extend_from_slice(&SMALL_SEGMENTS);
    let a = AgentProc::start_with("127.0.0.1:0", &dir_a, "a", &args);
    let rec = record(&a, 2, 128 * 1024, || async {}).await;
    eventually(UPLOAD_WAIT, "the index on the mount", || async {
        shared.join(&rec.id).join("index.json").exists()
    })
    .await;
    let b = AgentProc::start_with("127.0.0.1:0", &dir_b, "b", &["--store", &url]);
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(
        (on_b[0].bytes_c2s, location(&on_b[0])),
        (rec.bytes_c2s, "store")
    );
    let got = b
        .client()
        .await
        .get_recording(pb::GetRecordingRequest { id: rec.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(location(&got), "store");
    let shown = reelctl_async(&["-a", &b.addr_str(), "record", "show", &rec.id]).await;
    shown.assert_code(0);
    assert!(
        shown.stdout.contains("where:       store"),
        "{}",
        shown.stdout
    );
    // B analyses it from the store as reelctl analyses the stored segments.
    let remote = agent_json(&b, &["stats", &rec.id]).await;
    let copy = tmp.path().join(format!("{}.segments", rec.id));
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(shared.join(&rec.id)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let here = reelctl_async(&["--json", "stats", copy.to_str().unwrap()]).await;
    here.assert_code(0);
    assert_eq!(remote, ok_data(&here)[0]);
    assert_eq!(remote["c2s"]["bytes"], rec.bytes_c2s);

    reelctl_async(&["-a", &a.addr_str(), "record", "rm", &rec.id])
        .await
        .assert_code(0);
    assert!(!shared.join(&rec.id).join("index.json").exists());
    assert!(listed(&b).await.is_empty());
}

/// A flight recorder's segments are not uploaded as its window moves on;
/// a dump of it is an ordinary recording, uploaded as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flight_recorder_dump_goes_to_the_store_and_the_ring_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, shared) = (tmp.path().join("a"), tmp.path().join("shared"));
    let url = format!("file://{}", shared.display());
    let mut args = vec!["--store", url.as_str()];
    args.extend_from_slice(&SMALL_SEGMENTS);
    let a = AgentProc::start_with("127.0.0.1:0", &dir, "a", &args);
    let mut ctl = a.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let ring = ctl
        .start_recording(pb::StartRecordingRequest {
            label: "ring".into(),
            ring_ms: 60_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    for i in 0..32u8 {
        let chunk = vec![i; 16 * 1024];
        assert_eq!(round_trip(&mut sock, &chunk).await, chunk);
    }
    let dump = ctl
        .dump_recording(pb::DumpRecordingRequest {
            id: ring.id.clone(),
            label: "crash".into(),
        })
        .await
        .unwrap()
        .into_inner();
    eventually(UPLOAD_WAIT, "the dump in the store", || async {
        shared.join(&dump.id).join("index.json").exists()
    })
    .await;
    assert!(
        !shared.join(&ring.id).exists(),
        "the ring's own segments stay local while it runs"
    );
    let listed = listed(&a).await;
    let ring_now = listed.iter().find(|r| r.id == ring.id).unwrap();
    assert_eq!(location(ring_now), "local");
    let dumped = listed.iter().find(|r| r.id == dump.id).unwrap();
    assert_eq!(
        (dumped.label.as_str(), location(dumped)),
        ("crash", "store")
    );
    drop(sock);
}

#[tokio::test]
async fn a_bad_store_is_refused_at_start_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, env, says) in [
        (
            vec!["--store", "bucket-without-scheme"],
            vec![],
            "invalid --store",
        ),
        (
            vec!["--store", "http://example.com/x"],
            vec![],
            "not a store for recordings",
        ),
        (
            vec!["--store", "s3://b/p"],
            vec![("AWS_ACCESS_KEY_ID", "k")],
            "AWS_SECRET_ACCESS_KEY is not",
        ),
    ] {
        let out = run_agent(tmp.path(), &args, &env);
        out.assert_code(1);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    // The config file's `store` is checked the same way.
    let config = tmp.path().join("agent.toml");
    std::fs::write(&config, "store = \"ftp://x/y\"\n").unwrap();
    let out = run_agent(tmp.path(), &["--config", config.to_str().unwrap()], &[]);
    out.assert_code(1);
    assert!(out.stderr.contains("store:"), "{}", out.stderr);
}

fn run_agent(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> common::CtlOutput {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().copied());
    common::run_bounded(&mut cmd, Duration::from_secs(30), "reel-agent")
}
