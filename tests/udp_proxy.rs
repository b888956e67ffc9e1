//! UDP proxies through the control plane, as a user drives them with
//! reelctl against a real agent: started with `--udp`, datagrams relayed
//! whole with sessions and datagrams counted in `proxy ls`, sessions closed
//! when idle and evented, stopped like any proxy; a taken name and TCP-only
//! options are refused clearly. Their faults are tests/udp_faults.rs, their
//! recordings tests/udp_record.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_proxy_relays_counts_and_closes_idle_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let started = start_udp_proxy(&a, echo, "game", "1s").await;
    assert_eq!(started["udp"], true, "{started}");
    assert_eq!(started["idle_timeout_ms"], 1000);
    let listen: SocketAddr = started["listen"].as_str().unwrap().parse().unwrap();
    // Watching from before the first datagram until after the idle close.
    let watch = {
        let a = a.clone();
        tokio::spawn(async move {
            reelctl_async(&["-a", &a, "--json", "watch", "--duration", "6s"]).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Three clients, datagrams of 1 to 1,400 bytes, each echoed whole.
    let mut sent = 0u64;
    let mut datagrams = 0u64;
    let mut clients = Vec::new();
    for c in 0..3usize {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.connect(listen).await.unwrap();
        let mut buf = vec![0u8; 2_000];
        for len in [1usize, 100 + c, 1_400] {
            let msg: Vec<u8> = (0..len).map(|i| (i + c) as u8).collect();
            sock.send(&msg).await.unwrap();
            let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
                .await
                .expect("the echo came back")
                .unwrap();
            assert_eq!(&buf[..n], &msg[..]);
            sent += len as u64;
            datagrams += 1;
        }
        clients.push(sock);
    }
    let listed = only(&reelctl_async(&["-a", &a, "--json", "proxy", "ls"]).await);
    let p = &listed["proxies"][0];
    assert_eq!(p["udp"], true, "{p}");
    assert_eq!(p["active_connections"], 3, "{p}");
    assert_eq!(p["total_connections"], 3, "{p}");
    assert_eq!(p["datagrams_c2s"], datagrams, "{p}");
    assert_eq!(p["datagrams_s2c"], datagrams, "{p}");
    assert_eq!(p["bytes_c2s"], sent, "{p}");
    assert_eq!(p["bytes_s2c"], sent, "{p}");
    let table = reelctl_async(&["-a", &a, "proxy", "ls"]).await;
    table.assert_code(0);
    assert!(
        table
            .stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("PROTO  DGRAMS C2S  DGRAMS S2C"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("udp"), "{}", table.stdout);

    // A second later without a datagram, the sessions are gone.
    eventually(Duration::from_secs(10), "the idle sessions closed", || {
        let a = a.clone();
        async move {
            let listed = reelctl_async(&["-a", &a, "--json", "proxy", "ls"]).await;
            only(&listed)["proxies"][0]["active_connections"] == 0
        }
    })
    .await;

    // Each session opened and closed idle, as a connection of the proxy.
    let events = watch.await.unwrap();
    events.assert_code(0);
    let lines: Vec<serde_json::Value> = events
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let kind = |k: &str| lines.iter().filter(|e| e["kind"] == k).count();
    assert_eq!(kind("connection_opened"), 3, "{}", events.stdout);
    let closed: Vec<_> = lines
        .iter()
        .filter(|e| e["kind"] == "connection_closed")
        .collect();
    assert_eq!(closed.len(), 3, "{}", events.stdout);
    assert!(
        closed.iter().all(|e| e["reason"] == "idle"),
        "{}",
        events.stdout
    );
    assert!(kind("stats") > 0, "{}", events.stdout);
    // Per-second stats count datagrams too: every one, once.
    let per_sec = |key: &str| -> u64 {
        lines
            .iter()
            .filter(|e| e["kind"] == "stats")
            .map(|e| e[key].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        per_sec("datagrams_c2s_per_sec"),
        datagrams,
        "{}",
        events.stdout
    );
    assert_eq!(
        per_sec("datagrams_s2c_per_sec"),
        datagrams,
        "{}",
        events.stdout
    );

    let stopped = only(&reelctl_async(&["-a", &a, "--json", "proxy", "stop", "game"]).await);
    assert_eq!(stopped["stopped"][0]["total_connections"], 3, "{stopped}");
    let listed = only(&reelctl_async(&["-a", &a, "--json", "proxy", "ls"]).await);
    assert_eq!(listed["proxies"].as_array().unwrap().len(), 0, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_and_a_tcp_idle_timeout_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let up = echo.to_string();
    let start = |extra: &'static [&'static str]| {
        let (a, up) = (a.clone(), up.clone());
        async move { udp_proxy_start(&a, &up, extra).await }
    };
    start(&["--name", "game"]).await.assert_code(0);
    let twice = start(&["--name", "game"]).await;
    twice.assert_code(1);
    assert!(twice.stderr.contains("game"), "{}", twice.stderr);

    let tcp_idle = reelctl_async(&[
        "-a",
        &a,
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &up,
        "--idle-timeout",
        "5s",
    ])
    .await;
    tcp_idle.assert_code(2);
    assert!(tcp_idle.stderr.contains("--udp"), "{}", tcp_idle.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_proxy_comes_back_after_kill9_on_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let echo = udp_echo_server().await;
    let started = start_udp_proxy(&agent.addr_str(), echo, "voice", "30s").await;
    let listen = started["listen"].as_str().unwrap().to_owned();
    agent.kill9();

    let agent = AgentProc::start("127.0.0.1", &data);
    let listed = only(&reelctl_async(&["-a", &agent.addr_str(), "--json", "proxy", "ls"]).await);
    let p = &listed["proxies"][0];
    assert_eq!(
        (
            &p["name"],
            &p["listen"],
            &p["udp"],
            &p["idle_timeout_ms"],
            &p["restored"]
        ),
        (
            &"voice".into(),
            &listen.clone().into(),
            &true.into(),
            &30_000.into(),
            &true.into()
        ),
        "{listed}\n{}",
        agent.log()
    );
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(&listen).await.unwrap();
    sock.send(b"back").await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
        .await
        .expect("the restored proxy relays")
        .unwrap();
    assert_eq!(&buf[..n], b"back");
}
