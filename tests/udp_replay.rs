//! Replaying recorded UDP sessions (issue 16, part 3) end to end: a real
//! agent records clients of a small stateful UDP game server through a UDP
//! proxy, then replays the recording into fresh servers. Timed and causal
//! replay reproduce the server's state (which depends on the order writes
//! from different sessions arrived in); `--verify` compares datagram by
//! datagram and catches an answer that changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;

const SESSIONS: usize = 6;

/// The recorded game: `SESSIONS` clients write and read shared keys in one
/// global order, a little apart, so the final state depends on that order
/// across sessions. Returns the recording id and the state it left.
async fn record_game(a: &str, data: &std::path::Path) -> (String, BTreeMap<String, (String, u64)>) {
    let server = UdpGameServer::start().await;
    let started = start_udp_proxy(a, server.addr, "game", "1s").await;
    let listen: SocketAddr = started["listen"].as_str().unwrap().parse().unwrap();
    let out = reelctl_async(&["-a", a, "-q", "record", "start", "--label", "udp-game"]).await;
    out.assert_code(0);
    let id = out.stdout.trim().to_owned();

    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        clients.push(udp_client(listen).await);
    }
    for round in 0..5usize {
        for (i, c) in clients.iter().enumerate() {
            let key = format!("k{}", (i + round) % 3);
            let put = format!("PUT {key} s{i}r{round}");
            let back = ask(c, put.as_bytes()).await;
            assert!(
                back.starts_with(key.as_bytes()),
                "{}",
                String::from_utf8_lossy(&back)
            );
            if round % 2 == 1 {
                ask(c, format!("GET k{}", i % 3).as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
    // Sessions end idle, so the recording holds their ends.
    eventually(
        Duration::from_secs(15),
        "the sessions closed idle",
        || async {
            let listed = reelctl_async(&["-a", a, "--json", "proxy", "ls"]).await;
            only(&listed)["proxies"][0]["active_connections"] == 0
        },
    )
    .await;
    reelctl_async(&["-a", a, "record", "stop", &id])
        .await
        .assert_code(0);
    assert!(recording_path(data, &id).exists());
    (id, server.state())
}

/// Replays `id` into `target` with `extra` options; the report.
async fn replay(
    a: &str,
    id: &str,
    target: SocketAddr,
    extra: &[&str],
) -> (CtlOutput, serde_json::Value) {
    let target = target.to_string();
    let mut args = vec!["-a", a, "--json", "replay", id, "--target", &target];
    args.extend_from_slice(extra);
    let out = reelctl_async(&args).await;
    let report = out.json()["results"][0]["data"].clone();
    (out, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_and_causal_replays_reproduce_the_servers_state_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let a = agent.addr_str();
    let (id, recorded) = record_game(&a, &data).await;
    assert_eq!(recorded.len(), 3, "{recorded:?}");

    for mode in [
        &["--mode", "causal", "--fast"][..],
        &["--mode", "timed"][..],
    ] {
        let fresh = UdpGameServer::start().await;
        let mut opts = mode.to_vec();
        opts.push("--verify");
        let (out, report) = replay(&a, &id, fresh.addr, &opts).await;
        out.assert_code(0);
        assert_eq!(report["state"], "finished", "{mode:?}: {report}");
        assert_eq!(report["failed"], 0, "{mode:?}: {report}");
        assert_eq!(report["divergences"], 0, "{mode:?}: {report}");
        assert_eq!(
            report["connections"].as_array().unwrap().len(),
            SESSIONS,
            "{report}"
        );
        assert_eq!(fresh.clients(), SESSIONS, "one client address per session");
        assert_eq!(fresh.state(), recorded, "{mode:?} reproduced the state");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_a_changed_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let a = agent.addr_str();
    let (id, _) = record_game(&a, &data).await;

    // A server that already saw one write of k1 answers every later write
    // of k1 with another version: those datagrams differ.
    let changed = UdpGameServer::start().await;
    let seed = udp_client(changed.addr).await;
    assert_eq!(ask(&seed, b"PUT k1 before").await, b"k1=before v1");
    let (out, report) = replay(
        &a,
        &id,
        changed.addr,
        &["--mode", "causal", "--fast", "--verify"],
    )
    .await;
    assert_eq!(
        out.code,
        Some(1),
        "a divergence fails the run: {}",
        out.stdout
    );
    assert!(report["divergences"].as_u64().unwrap() > 0, "{report}");
    let diverged: Vec<_> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["divergence"].is_null())
        .collect();
    assert!(!diverged.is_empty(), "{report}");
    let d = &diverged[0]["divergence"];
    assert!(d["reason"].as_str().unwrap().contains("different"), "{d}");
}
