//! One reelctl call drives several agents at once; a dead agent is named and
//! makes the exit code 1 while the others' results still come back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

fn results(out: &CtlOutput) -> Vec<Value> {
    out.json()["results"]
        .as_array()
        .expect("results array")
        .clone()
}

fn assert_all_ok(out: &CtlOutput) -> Vec<Value> {
    out.assert_code(0);
    let r = results(out);
    for x in &r {
        assert_eq!(x["ok"], true, "{x}");
    }
    r
}

async fn echo_through(proxy: &str, payload: &[u8]) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(payload).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_drives_two_agents_and_names_the_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = AgentProc::start_named("127.0.0.2", &dir.path().join("a"), "agent-a");
    let b = AgentProc::start_named("127.0.0.3", &dir.path().join("b"), "agent-b");
    let both = format!("{},{}", a.addr_str(), b.addr_str());
    let echo = echo_server().await.to_string();

    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        move || reelctl(&["--agent", &both, "--json", "agents"])
    })
    .await
    .unwrap();
    let r = assert_all_ok(&out);
    assert_eq!(r[0]["agent"], a.addr_str());
    assert_eq!(r[0]["data"]["name"], "agent-a");
    assert_eq!(r[1]["data"]["name"], "agent-b");
    for x in &r {
        assert!(x["data"]["clock_offset_us"].is_i64(), "{x}");
        assert!(x["data"]["rtt_us"].as_u64().is_some(), "{x}");
    }

    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        let echo = echo.clone();
        move || {
            reelctl(&[
                "--agent",
                &both,
                "--json",
                "proxy",
                "start",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                &echo,
            ])
        }
    })
    .await
    .unwrap();
    let r = assert_all_ok(&out);
    let listens: Vec<String> = r
        .iter()
        .map(|x| x["data"]["listen"].as_str().unwrap().to_string())
        .collect();

    // --agent repeated is the same as comma-separated.
    let (aa, ba) = (a.addr_str(), b.addr_str());
    let out = tokio::task::spawn_blocking(move || {
        reelctl(&[
            "--agent", &aa, "--agent", &ba, "--json", "record", "start", "--label", "fleet",
        ])
    })
    .await
    .unwrap();
    let r = assert_all_ok(&out);
    for x in &r {
        assert!(!x["data"]["id"].as_str().unwrap().is_empty());
    }

    echo_through(&listens[0], b"to agent a").await;
    echo_through(&listens[1], b"to agent b, longer").await;
    // Both connections closed on each agent before the recordings stop.
    for agent in [&a, &b] {
        wait_idle(&agent.client().await, 1).await;
    }

    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        move || reelctl(&["--agent", &both, "--json", "record", "stop", "--all"])
    })
    .await
    .unwrap();
    assert_all_ok(&out);

    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        move || reelctl(&["--agent", &both, "--json", "record", "ls"])
    })
    .await
    .unwrap();
    let r = assert_all_ok(&out);
    for (x, sent) in r.iter().zip([10u64, 18]) {
        let recs = x["data"]["recordings"].as_array().unwrap();
        assert_eq!(recs.len(), 1, "{x}");
        assert_eq!(recs[0]["status"], "complete");
        assert_eq!(recs[0]["label"], "fleet");
        assert_eq!(recs[0]["connections"], 1);
        assert_eq!(recs[0]["bytes_c2s"], sent);
        assert_eq!(recs[0]["bytes_s2c"], sent);
    }

    // Human output names each agent too.
    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        move || reelctl(&["--agent", &both, "record", "ls"])
    })
    .await
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("fleet"), "{}", out.stdout);

    // One agent dies: the other still answers, exit code 1, the dead one named.
    a.kill9();
    let out = tokio::task::spawn_blocking({
        let both = both.clone();
        move || {
            reelctl(&[
                "--agent",
                &both,
                "--timeout",
                "2s",
                "--json",
                "record",
                "ls",
            ])
        }
    })
    .await
    .unwrap();
    out.assert_code(1);
    let r = results(&out);
    assert_eq!(r[0]["agent"], a.addr_str());
    assert_eq!(r[0]["ok"], false);
    assert!(!r[0]["error"].as_str().unwrap().is_empty());
    assert_eq!(r[1]["ok"], true);
    assert_eq!(r[1]["data"]["recordings"].as_array().unwrap().len(), 1);

    let out = tokio::task::spawn_blocking(move || {
        reelctl(&["--agent", &both, "--timeout", "2s", "record", "ls"])
    })
    .await
    .unwrap();
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(&a.addr_str()),
        "stderr names the dead agent: {}",
        out.stderr
    );
}

#[test]
fn agents_come_from_env_and_fleet_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = AgentProc::start_named("127.0.0.4", &dir.path().join("a"), "from-env");
    let out = reelctl_env(&["--json", "agents"], &[("REEL_AGENTS", &a.addr_str())]);
    let r = assert_all_ok(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["data"]["name"], "from-env");

    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[agent]]\nname = \"eu-1\"\naddress = \"{}\"\n",
            a.addr_str()
        ),
    )
    .unwrap();
    let out = reelctl(&["--fleet", fleet.to_str().unwrap(), "--json", "agents"]);
    let r = assert_all_ok(&out);
    assert_eq!(r[0]["agent"], a.addr_str());
    assert_eq!(r[0]["name"], "eu-1");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[agent]]\nname = \"x\"\nadress = \"typo\"\n").unwrap();
    let out = reelctl(&["--fleet", bad.to_str().unwrap(), "agents"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("bad.toml"),
        "names the file: {}",
        out.stderr
    );
}
