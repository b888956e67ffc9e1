//! Three agents started together: a coordinated capture (`record start --at`)
//! becomes a coordinated replay (`replay --group --at`), each agent reporting
//! its start instant and reelctl the skew; `--spread` splits one recording's
//! connections across the three with none lost or duplicated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;

use common::*;

/// An `--at` instant `secs` from now, and its text.
fn at_in(secs: u64) -> (SystemTime, String) {
    let at = SystemTime::now() + Duration::from_secs(secs);
    (at, humantime::format_rfc3339_nanos(at).to_string())
}

/// Checks that every agent in `data` started at `at` or after: reelctl
/// turns each start back to the local clock with the offset it turned the
/// deadline into the agent's clock with, so an agent that waited for its
/// deadline is never reported early, whatever the offset's error.
fn assert_not_early(data: &[serde_json::Value], at: SystemTime) {
    for d in data {
        let text = d["started_at_local"].as_str().expect("started_at_local");
        let started = humantime::parse_rfc3339(text).expect("an RFC 3339 instant");
        assert!(
            started >= at,
            "started {text}, before --at {}: {d}",
            humantime::format_rfc3339_nanos(at)
        );
    }
}

/// `n` echo conversations through `proxy`, each its own connection.
async fn talk(proxy: &str, n: usize, tag: &str) {
    for i in 0..n {
        let mut s = TcpStream::connect(proxy).await.unwrap();
        let msg = format!("{tag} conversation {i}\n");
        assert_eq!(round_trip(&mut s, msg.as_bytes()).await, msg.as_bytes());
        close_and_drain(s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_capture_and_replay_together() {
    let dir = tempfile::tempdir().unwrap();
    let (agents, all) = AgentProc::start_fleet(
        &["127.0.0.5", "127.0.0.6", "127.0.0.7"],
        dir.path(),
        "host-",
    );
    let echo = echo_server().await.to_string();

    let listens = tcp_proxy_start(&all, &echo).await;

    // Coordinated capture.
    let (at, at_text) = at_in(2);
    let out = reelctl_async(&[
        "-a", &all, "--json", "record", "start", "--label", "raid", "--at", &at_text,
    ])
    .await;
    assert_not_early(&ok_data(&out), at);
    let skew = out.json()["skew_us"].as_u64().expect("skew_us");
    eprintln!("record start skew across 3 agents: {skew} µs");
    assert!(skew < 1_000_000, "loose bound: {skew} µs");
    let out = reelctl_async(&["-a", &all, "record", "start", "--label", "x", "--at", "+1s"]).await;
    assert!(
        out.stdout.contains("skew"),
        "human output prints the skew: {}",
        out.stdout
    );
    reelctl_async(&["-a", &all, "--json", "record", "stop", "--all"]).await;
    let out = reelctl_async(&["-a", &all, "--json", "record", "start", "--label", "raid2"]).await;
    ok_data(&out);

    for (i, l) in listens.iter().enumerate() {
        talk(l, 2 + i, &format!("agent{i}")).await;
    }
    for a in &agents {
        wait_idle(
            &a.client().await,
            [2u64, 3, 4][agents.iter().position(|x| x.addr == a.addr).unwrap()],
        )
        .await;
    }
    ok_data(&reelctl_async(&["-a", &all, "--json", "record", "stop", "--all"]).await);

    // Coordinated replay of each agent's own recordings labelled raid2.
    let (at, at_text) = at_in(2);
    let out = reelctl_async(&[
        "-a", &all, "--json", "replay", "--group", "raid2", "--target", &echo, "--fast",
        "--verify", "--at", &at_text,
    ])
    .await;
    let data = ok_data(&out);
    assert_not_early(&data, at);
    for (i, report) in data.iter().enumerate() {
        assert_eq!(report["state"], "finished", "{report}");
        assert_eq!(
            report["planned"],
            2 + i as u64,
            "agent {i} replays its own {} connections",
            2 + i
        );
        assert_eq!(report["divergences"], 0);
    }
    let skew = out.json()["skew_us"].as_u64().expect("skew_us");
    eprintln!("replay start skew across 3 agents: {skew} µs");
    assert!(skew < 1_000_000, "loose bound: {skew} µs");

    // One recording spread over three agents: 9 connections, none lost or
    // duplicated.
    let first = agents[0].addr_str();
    let out = reelctl_async(&["-a", &first, "--json", "record", "start", "--label", "big"]).await;
    let big = ok_data(&out)[0]["id"].as_str().unwrap().to_string();
    talk(&listens[0], 9, "big").await;
    wait_idle(&agents[0].client().await, 2 + 9).await;
    ok_data(&reelctl_async(&["-a", &first, "--json", "record", "stop", &big]).await);

    let out = reelctl_async(&[
        "-a", &all, "--json", "replay", &big, "--spread", "--target", &echo, "--fast", "--verify",
    ])
    .await;
    let data = ok_data(&out);
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for report in &data {
        for c in report["connections"].as_array().unwrap() {
            assert!(c["opened"].as_bool().unwrap(), "{c}");
            assert!(
                seen.insert(c["connection"].as_u64().unwrap()),
                "connection {c} replayed twice"
            );
            total += 1;
        }
    }
    assert_eq!(total, 9, "all 9 connections replayed once: {seen:?}");

    // --multiply: independent copies of every connection.
    let out = reelctl_async(&[
        "-a",
        &first,
        "--json",
        "replay",
        &big,
        "--target",
        &echo,
        "--fast",
        "--multiply",
        "3",
    ])
    .await;
    let data = ok_data(&out);
    assert_eq!(data[0]["planned"], 27);
    assert_eq!(data[0]["opened"], 27);
}
