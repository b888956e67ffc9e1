//! The control plane is protected (token, TLS, no exposure without a token)
//! and the agent keeps a production host safe: connection limits (refusals
//! counted and evented), bounded memory when a peer stops reading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use common::*;

fn write(dir: &std::path::Path, name: &str, text: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let token = write(dir.path(), "token", b"correct-horse\n");
    let wrong = write(dir.path(), "wrong", b"battery-staple\n");
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "guarded",
        &["--token-file", &token],
    );

    // Without a token, or with a wrong one: Unauthenticated, nothing done.
    let mut anonymous = agent.client().await;
    let err = anonymous
        .start_proxy(pb::StartProxyRequest {
            listen: "127.0.0.1:0".into(),
            upstream: "127.0.0.1:9".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
    assert!(err.message().contains("token"), "{err}");

    let addr = agent.addr_str();
    let out = reelctl(&[
        "--agent",
        &addr,
        "--token-file",
        &wrong,
        "--json",
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:9",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.contains("invalid token"), "{}", out.stdout);
    let out = reelctl(&["--agent", &addr, "--json", "agents"]);
    assert_eq!(out.code, Some(1));

    // With the token: served, and nothing was started by the refused calls.
    let out = reelctl(&[
        "--agent",
        &addr,
        "--token-file",
        &token,
        "--json",
        "proxy",
        "ls",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.json()["results"][0]["data"]["proxies"],
        serde_json::json!([])
    );

    // The health service stays open for probes.
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "reel.v1.Reel".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // A fleet file can carry the token per agent.
    let fleet = write(
        dir.path(),
        "fleet.toml",
        format!("[[agent]]\nname = \"g\"\naddress = \"{addr}\"\ntoken_file = \"token\"\n")
            .as_bytes(),
    );
    let out = reelctl(&["--fleet", &fleet, "--json", "agents"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["results"][0]["data"]["name"], "guarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = write(dir.path(), "cert.pem", ck.cert.pem().as_bytes());
    let key = write(
        dir.path(),
        "key.pem",
        ck.signing_key.serialize_pem().as_bytes(),
    );
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "tls-agent",
        &["--tls-cert", &cert, "--tls-key", &key],
    );
    let addr = agent.addr_str();

    // A Rust client that trusts the certificate.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ck.cert.pem()))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS connect");
    let info = ReelClient::new(channel)
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.name, "tls-agent");

    // reelctl with the CA; without it (plain HTTP/2 to a TLS port) it fails.
    let out = reelctl(&["--agent", &addr, "--tls-ca", &cert, "--json", "agents"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["results"][0]["data"]["name"], "tls-agent");
    let out = reelctl(&["--agent", &addr, "--timeout", "2s", "--json", "agents"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
}

#[test]
fn a_non_loopback_listen_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.args(["--listen", "0.0.0.0:0", "--data-dir"]).arg(&data);
    let out = run_bounded(&mut cmd, Duration::from_secs(20), "reel-agent");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("refusing to serve the control plane on 0.0.0.0:0 without a token"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--insecure"), "{}", out.stderr);
    assert!(!data.exists(), "nothing was set up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_connections_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "limited",
        &["--max-connections", "2"],
    );
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);
    let mut watch = ctl
        .watch(pb::WatchRequest {
            kinds: vec![pb::EventKind::Connection as i32],
            proxies: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let mut a = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(proxy).await.unwrap();
    assert_eq!(round_trip(&mut a, b"one").await, b"one");
    assert_eq!(round_trip(&mut b, b"two").await, b"two");
    let mut c = tokio::net::TcpStream::connect(proxy).await.unwrap();
    // The third is closed at once.
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut c, &mut buf),
    )
    .await
    .expect("closed within 5 s");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let p = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .proxies;
    assert_eq!(
        (
            p[0].refused_connections,
            p[0].max_connections,
            p[0].active_connections
        ),
        (1, 2, 2)
    );
    // The refusal is evented, with its reason.
    let closed = wait_event(&mut watch, Duration::from_secs(10), "the refusal", |ev| {
        matches!(&ev.body, Some(pb::event::Body::ConnectionClosed(_)))
    })
    .await;
    let Some(pb::event::Body::ConnectionClosed(closed)) = closed.body else {
        unreachable!()
    };
    assert_eq!(
        closed.reason,
        "refused: the proxy's limit of 2 connections is reached"
    );
    assert_eq!(closed.client, c.local_addr().unwrap().to_string());
    // The first two are unaffected.
    assert_eq!(round_trip(&mut a, b"still").await, b"still");
}

/// Clients the burst test opens while the agent is stopped: more than the
/// usual listen backlog (128), fewer than the proxy's (4,096).
const BURST: usize = 600;

/// Sends SIGCONT when dropped, so a failed assertion never leaves the agent
/// stopped.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_clients_waits_in_the_backlog_while_the_agent_is_busy() {
    // The agent holds two sockets per client, the test one.
    if !common::needs::open_files("a_burst_of_clients", 4 * BURST as u64) {
        return;
    }
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("reading net.core.somaxconn")
        .trim()
        .parse()
        .expect("net.core.somaxconn is a number");
    assert!(
        somaxconn >= BURST,
        "this test needs net.core.somaxconn >= {BURST} (it is {somaxconn}): sysctl -w net.core.somaxconn=4096"
    );
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);

    // A stopped agent accepts nothing: every client waits in the kernel's
    // accept queue, or, past its length, has its SYN dropped.
    signal(agent.child.id(), "STOP");
    let resume = Resume(agent.child.id());
    let connects: Vec<_> = (0..BURST)
        .map(|_| {
            tokio::spawn(tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(proxy),
            ))
        })
        .collect();
    let mut clients = Vec::new();
    let mut waiting = 0;
    for c in connects {
        match c.await.unwrap() {
            Ok(Ok(s)) => clients.push(s),
            Ok(Err(e)) => panic!("connect failed: {e}"),
            Err(_) => waiting += 1,
        }
    }
    drop(resume);
    assert_eq!(
        waiting, 0,
        "{waiting} of {BURST} clients were still connecting after 2 s: the proxy's listen backlog is too short"
    );
    // Once the agent runs again, every queued client is relayed.
    let relayed = tokio::time::timeout(Duration::from_secs(60), async {
        let mut n = 0;
        for mut c in clients {
            assert_eq!(round_trip(&mut c, b"x").await, b"x");
            n += 1;
        }
        n
    })
    .await
    .expect("all queued clients relayed within 60 s");
    assert_eq!(relayed, BURST);
}

/// RSS the agent may grow by while a peer stops reading: buffers are per
/// chunk (at most 256 KiB each way) plus the kernel's socket buffers, which are not
/// the agent's memory.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

#[test]
fn memory_stays_bounded_when_a_peer_stops_reading() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with("127.0.0.1:0", &dir.path().join("data"), "rss", &[]);
    let pid = agent.child.id();
    // A server that reads nothing for 3 s, then drains everything.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let drained = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        // Part of the scenario: the peer that stops reading for 3 s.
        std::thread::sleep(Duration::from_secs(3));
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break total,
                Ok(n) => total += n as u64,
            }
        }
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(async {
        let mut ctl = agent.client().await;
        proxy_addr(&start_proxy(&mut ctl, server_addr).await)
    });
    let baseline = proc_kib(pid, "VmRSS");
    const TOTAL: u64 = 1 << 30;
    let pusher = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(proxy).unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        let mut sent = 0u64;
        while sent < TOTAL {
            c.write_all(&chunk).unwrap();
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut peak = baseline;
    let start = Instant::now();
    while !pusher.is_finished() && start.elapsed() < Duration::from_secs(120) {
        peak = peak.max(proc_kib(pid, "VmRSS"));
        // Sampling interval of the RSS peak, not a wait for a condition.
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        pusher.is_finished(),
        "1 GiB did not get through within 120 s"
    );
    assert_eq!(pusher.join().unwrap(), TOTAL);
    let total = drained.join().unwrap();
    assert_eq!(total, TOTAL, "every byte reached the server");
    eprintln!(
        "agent RSS: baseline {baseline} KiB, peak {peak} KiB while 1 GiB went through a stalled peer"
    );
    assert!(
        peak < baseline + RSS_GROWTH_BOUND_KIB,
        "RSS grew from {baseline} KiB to {peak} KiB (bound +{RSS_GROWTH_BOUND_KIB} KiB)"
    );
}

#[test]
fn a_stopped_agent_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (agents, all) =
        AgentProc::start_fleet(&["127.0.0.8", "127.0.0.9", "127.0.0.10"], dir.path(), "n");
    signal(agents[1].child.id(), "STOP");
    let started = Instant::now();
    let out = reelctl(&["--agent", &all, "--timeout", "1s", "--json", "agents"]);
    let took = started.elapsed();
    signal(agents[1].child.id(), "CONT");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let r = out.json()["results"].as_array().unwrap().clone();
    assert_eq!(
        (
            r[0]["ok"].as_bool(),
            r[1]["ok"].as_bool(),
            r[2]["ok"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(r[1]["agent"], agents[1].addr_str());
    // Loose: the per-agent timeout plus process start-up, far from a hang.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
