//! Recording files moved by the real `reelctl` binary against real agents:
//! `record pull` writes the agent's file byte for byte, `record push` brings
//! it back (listed with the same counts, and replayable) whatever the file is
//! called, files that are not recordings and existing files are refused;
//! `replay FILE` pushes a local file to the agents that lack it and replays
//! it; `replay --spread --at` copies a recording to the agent that lacks it,
//! splits the connections and reports the skew.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

use common::*;

/// Runs reelctl off the runtime (the echo server lives on it).
use common::reelctl_async as ctl;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a proxy to `upstream` and a recording on the agent at `addr`,
/// sends `conns` echo conversations through it, stops the recording, and
/// returns its id.
async fn record_traffic(agent: &AgentProc, upstream: &str, conns: u64) -> String {
    let addr = agent.addr_str();
    let listen = tcp_proxy_start(&addr, upstream).await.remove(0);
    let out = ctl(&["-a", &addr, "--json", "record", "start", "--label", "xfer"]).await;
    let id = ok_data(&out)[0]["id"].as_str().unwrap().to_owned();
    for i in 0..conns {
        let mut sock = TcpStream::connect(&listen).await.unwrap();
        for j in 0..3 {
            let msg = format!("conn {i} message {j}: {}\n", "x".repeat(100 * j));
            assert_eq!(round_trip(&mut sock, msg.as_bytes()).await, msg.as_bytes());
        }
        assert!(close_and_drain(sock).await.is_empty());
    }
    wait_idle(&agent.client().await, conns).await;
    ok_data(&ctl(&["-a", &addr, "--json", "record", "stop", &id]).await);
    id
}

/// The recording `id` as `record ls --json` shows it, if listed.
async fn listed(addr: &str, id: &str) -> Option<Value> {
    let out = ctl(&["-a", addr, "--json", "record", "ls"]).await;
    ok_data(&out)[0]["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_writes_the_agents_file_and_push_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    let echo = echo_server().await.to_string();
    let id = record_traffic(&agent, &echo, 3).await;
    let before = listed(&addr, &id).await.expect("recording listed");

    // Pull: the local file is the agent's file, byte for byte.
    let out_dir = dir.path().join("pulled");
    let out_dir_s = out_dir.to_str().unwrap();
    let out = ctl(&[
        "-a", &addr, "--json", "record", "pull", &id, "-o", out_dir_s,
    ])
    .await;
    let files = ok_data(&out)[0]["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1);
    let local_path = out_dir.join(format!("{id}.reel"));
    let local = std::fs::read(&local_path).unwrap();
    // One portable file holding the agent's segments' frames, merged.
    assert!(local_path.is_file());
    let (_, remote_frames, _) = read_recording(&recording_path(&agent.data_dir, &id));
    let (header, local_frames, end) = read_recording(&local_path);
    assert_eq!(header.id, id);
    assert!(
        local_frames == remote_frames,
        "pulled frames differ from the agent's"
    );
    assert!(matches!(end, reel::format::End::Complete(_)), "{end:?}");
    // Flattening is deterministic: every pull writes these same bytes.
    let remote = local.clone();
    assert_eq!(files[0]["id"], id.as_str());
    assert_eq!(files[0]["path"], local_path.to_str().unwrap());
    assert_eq!(files[0]["size_bytes"], local.len() as u64);
    assert_eq!(files[0]["sha256"], hex(&Sha256::digest(&local)));

    // Delete it on the agent, push it back: listed again, same counts.
    ok_data(&ctl(&["-a", &addr, "--json", "record", "rm", &id]).await);
    assert!(listed(&addr, &id).await.is_none());
    let local_s = local_path.to_str().unwrap();
    let out = ctl(&["-a", &addr, "--json", "record", "push", local_s]).await;
    let pushed = ok_data(&out)[0]["recordings"].as_array().unwrap().clone();
    assert_eq!(pushed.len(), 1);
    let after = listed(&addr, &id).await.expect("pushed recording listed");
    for key in [
        "id",
        "label",
        "status",
        "connections",
        "bytes_c2s",
        "bytes_s2c",
        "lost_bytes",
    ] {
        assert_eq!(after[key], before[key], "{key}");
        assert_eq!(pushed[0][key], before[key], "{key}");
    }
    // It is the pulled file now, not the segments.
    assert_eq!(after["size_bytes"], local.len() as u64);
    assert_eq!(
        std::fs::read(recording_path(&agent.data_dir, &id)).unwrap(),
        local
    );

    // The pushed recording replays, and its server bytes verify.
    let out = ctl(&[
        "-a", &addr, "--json", "replay", &id, "--target", &echo, "--fast", "--verify",
    ])
    .await;
    let report = &ok_data(&out)[0];
    assert_eq!(report["state"], "finished", "{report}");
    assert_eq!(
        (report["planned"].as_u64(), report["failed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(report["divergences"], 0);
    assert_eq!(report["bytes_received"], before["bytes_s2c"]);
    assert_eq!(report["connections"].as_array().unwrap().len(), 3);

    // Any file name will do: the id is read from the file (issue 13).
    ok_data(&ctl(&["-a", &addr, "--json", "record", "rm", &id]).await);
    let renamed = dir.path().join("capture from tuesday.bin");
    std::fs::write(&renamed, &local).unwrap();
    let out = ctl(&[
        "-a",
        &addr,
        "--json",
        "record",
        "push",
        renamed.to_str().unwrap(),
    ])
    .await;
    assert_eq!(ok_data(&out)[0]["recordings"][0]["id"], id.as_str());
    assert_eq!(
        std::fs::read(recording_path(&agent.data_dir, &id)).unwrap(),
        local
    );
    // A file that is not a recording is a usage error naming it.
    let bad = dir.path().join("x.txt");
    std::fs::write(&bad, b"not a recording").unwrap();
    let out = ctl(&["-a", &addr, "record", "push", bad.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("x.txt") && out.stderr.contains("not a recording"),
        "{}",
        out.stderr
    );

    // An existing file is kept without --force: the agent's failure, exit 1.
    std::fs::write(&local_path, b"keep me").unwrap();
    let stamp = modified(&local_path);
    let out = ctl(&["-a", &addr, "record", "pull", &id, "-o", out_dir_s]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("error: {addr}: ")) && out.stderr.contains("already exists"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&local_path).unwrap(), b"keep me");
    assert_eq!(modified(&local_path), stamp);
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{id}.reel")], "no temporary file left");

    // --force replaces it; a missing recording fails the agent.
    let out = ctl(&[
        "-a", &addr, "-q", "record", "pull", &id, "-o", out_dir_s, "--force",
    ])
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), local_path.to_str().unwrap());
    assert_eq!(std::fs::read(&local_path).unwrap(), remote);
    let out = ctl(&[
        "-a", &addr, "--json", "record", "pull", "nope", "-o", out_dir_s,
    ])
    .await;
    assert_eq!(out.code, Some(1));
    let error = out.json()["results"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("nope"), "{error}");
    assert!(!out_dir.join("nope.reel").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_copies_the_recording_and_splits_its_connections() {
    let dir = tempfile::tempdir().unwrap();
    let a = AgentProc::start_named("127.0.0.2", &dir.path().join("a"), "agent-a");
    let b = AgentProc::start_named("127.0.0.3", &dir.path().join("b"), "agent-b");
    let echo = echo_server().await.to_string();
    let id = record_traffic(&a, &echo, 4).await;
    assert!(listed(&b.addr_str(), &id).await.is_none());

    let both = format!("{},{}", a.addr_str(), b.addr_str());
    let out = ctl(&[
        "-a", &both, "--json", "replay", &id, "--spread", "--target", &echo, "--fast", "--verify",
        "--at", "+2s",
    ])
    .await;
    let data = ok_data(&out);
    let doc = out.json();
    for (i, report) in data.iter().enumerate() {
        assert_eq!(report["state"], "finished", "{report}");
        assert_eq!(report["shard"], serde_json::json!({"index": i, "count": 2}));
        assert_eq!(report["failed"], 0);
        assert!(report["started_at_local"].is_string(), "{report}");
        assert!(report["clock_offset_us"].is_i64(), "{report}");
    }
    let planned: u64 = data.iter().map(|r| r["planned"].as_u64().unwrap()).sum();
    assert_eq!(planned, 4, "every connection replayed exactly once");
    assert_eq!(data[0]["pushed"], serde_json::json!([]));
    assert_eq!(data[1]["pushed"][0]["id"], id.as_str());
    assert_eq!(data[1]["pushed"][0]["from"], a.addr_str());
    let skew = doc["skew_us"].as_u64().expect("skew_us");
    assert!(skew < 500_000, "skew {skew} µs");

    // B now holds the same file.
    assert!(listed(&b.addr_str(), &id).await.is_some());
    assert!(
        read_recording(&recording_path(&b.data_dir, &id)).1
            == read_recording(&recording_path(&a.data_dir, &id)).1
    );

    // A replay whose connections cannot open fails the run (exit 1), named
    // with its agent, and lists the failed connections.
    let nobody = closed_port().to_string();
    let out = ctl(&[
        "-a",
        &a.addr_str(),
        "replay",
        &id,
        "--target",
        &nobody,
        "--fast",
        "--timeout",
        "10s",
    ])
    .await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("error: {}: replay ", a.addr_str()))
            && out.stderr.contains("4 of 4 connections failed"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("failed: "), "{}", out.stdout);
}

/// `replay FILE` (issue 13, first hour): a local recording file, under any
/// name, is pushed to the agents that lack it, then replayed by the id in
/// it; an agent that has it gets nothing; a second run pushes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_file_is_pushed_where_missing_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let agents = [
        AgentProc::start("127.0.0.1", &dir.path().join("a")),
        AgentProc::start("127.0.0.1", &dir.path().join("b")),
    ];
    let (a, b) = (agents[0].addr_str(), agents[1].addr_str());
    let echo = echo_server().await.to_string();
    let id = record_traffic(&agents[0], &echo, 2).await;
    let file = dir.path().join("saved.bin");
    // A portable single file, as `record pull` writes it.
    let pulled = dir.path().join("pulled");
    std::fs::create_dir(&pulled).unwrap();
    ok_data(
        &ctl(&[
            "-a",
            &a,
            "--json",
            "record",
            "pull",
            &id,
            "-o",
            pulled.to_str().unwrap(),
        ])
        .await,
    );
    std::fs::copy(pulled.join(format!("{id}.reel")), &file).unwrap();
    let file_s = file.to_str().unwrap();
    let both = format!("{a},{b}");

    let replay = |json: bool| {
        let mut args = vec![
            "-a", &both, "replay", file_s, "--target", &echo, "--fast", "--verify",
        ];
        if json {
            args.insert(2, "--json");
        }
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let args = replay(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ctl(&args).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!("pushed recording {id} ")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("from {file_s} to {b}\n")),
        "only the agent that lacked it: {}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(recording_path(&agents[1].data_dir, &id)).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // Both have it now: replayed on each, nothing pushed.
    let args = replay(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ctl(&args).await;
    for report in ok_data(&out) {
        assert_eq!(report["state"], "finished", "{report}");
        assert_eq!(report["recordings"][0], id.as_str(), "{report}");
        assert_eq!(
            (report["planned"].as_u64(), report["failed"].as_u64()),
            (Some(2), Some(0))
        );
        assert_eq!(report["divergences"], 0);
        assert_eq!(report["pushed"], serde_json::json!([]), "{report}");
    }

    // A path that is not a recording is a usage error naming it.
    let out = ctl(&["-a", &both, "replay", "./missing.reel"]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read ./missing.reel"),
        "{}",
        out.stderr
    );
}
