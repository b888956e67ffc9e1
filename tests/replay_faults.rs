//! Replay through the fault engine: `reelctl replay ... --latency` shapes
//! the replayed connections as a proxy profile would shape live ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tokio::net::TcpStream;

use common::*;

fn replay_args(agent: &str, rec: &str, echo: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-a", agent, "--json", "replay", rec, "--target", echo, "--mode", "reactive", "--fast",
        "--verify",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

async fn run(args: Vec<String>) -> CtlOutput {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    reelctl_async(&args).await
}

fn report(out: &CtlOutput) -> serde_json::Value {
    out.assert_code(0);
    out.json()["results"][0]["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_connections_go_through_the_fault_profile() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut client = agent.client().await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut client, echo).await);
    let rec = start_recording(&mut client, "ping").await;
    let mut s = TcpStream::connect(proxy).await.unwrap();
    for msg in [&b"one"[..], b"two", b"three", b"four"] {
        assert_eq!(round_trip(&mut s, msg).await, msg);
    }
    close_and_drain(s).await;
    wait_idle(&client, 1).await;
    client
        .stop_recording(reel::proto::StopRecordingRequest { id: rec.id.clone() })
        .await
        .unwrap();
    let addr = agent.addr_str();
    let echo = echo.to_string();

    // Reactive and unpaced: each message waits for the previous echo, so
    // 4 sends with 100 ms each of client-side latency take >= 400 ms.
    let plain = report(&run(replay_args(&addr, &rec.id, &echo, &[])).await);
    let c2s = report(
        &run(replay_args(
            &addr,
            &rec.id,
            &echo,
            &["--latency", "100ms", "--direction", "c2s"],
        ))
        .await,
    );
    let s2c = report(
        &run(replay_args(
            &addr,
            &rec.id,
            &echo,
            &["--latency", "100ms", "--direction", "s2c"],
        ))
        .await,
    );
    let (p, c, s) = (
        plain["duration_ms"].as_u64().unwrap(),
        c2s["duration_ms"].as_u64().unwrap(),
        s2c["duration_ms"].as_u64().unwrap(),
    );
    eprintln!("replay durations: plain {p} ms, c2s latency {c} ms, s2c latency {s} ms");
    assert!(c >= 400, "c2s latency applied to each send: {c} ms");
    assert!(s >= 300, "s2c latency delays each awaited answer: {s} ms");
    for r in [&plain, &c2s, &s2c] {
        assert_eq!(r["divergences"], 0, "bytes stay exact: {r}");
        assert_eq!(r["failed"], 0);
    }

    // Bad fault flags are usage errors naming the flag.
    let out = run(replay_args(&addr, &rec.id, &echo, &["--toxicity", "2"])).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("toxicity"), "{}", out.stderr);
}
