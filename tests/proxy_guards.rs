//! Proxies cannot be turned against the agent: no upstream may lead back
//! into the agent (its own proxies, its control port), and a client counts
//! against `max_connections` from accept (a slow upstream connect included).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use reel::faults::FaultSpec;
use reel::proto as pb;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use common::faults::start_faulty_proxy;
use common::*;

/// Clients of the burst test, against a limit of [`LIMIT`].
const BURST: usize = 50;
const LIMIT: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_waiting_for_their_upstream_count_against_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "limited",
        &["--max-connections", &LIMIT.to_string()],
    );
    let mut ctl = agent.client().await;
    // Every upstream connect waits 20 s: the clients of the burst all sit in
    // their connect phase for the whole test.
    let spec = FaultSpec {
        connect_delay: Some(Duration::from_secs(20)),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, echo_server().await, &spec).await;
    let addr = proxy_addr(&proxy);
    let mut clients = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }

    // The ones beyond the limit are closed at once (EOF well before the
    // 20 s connect delay); the first LIMIT are held, waiting.
    let mut reads = tokio::task::JoinSet::new();
    for mut c in clients {
        reads.spawn(async move {
            let mut buf = [0u8; 8];
            match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => true,
                Ok(Ok(n)) => panic!("{n} bytes from a proxy whose upstream is not connected"),
                Err(_) => false,
            }
        });
    }
    let closed = reads.join_all().await.into_iter().filter(|c| *c).count();
    assert_eq!(closed, BURST - LIMIT as usize, "clients closed at once");

    let p = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .proxies;
    assert_eq!(
        (p[0].refused_connections, p[0].max_connections),
        ((BURST as u64) - LIMIT, LIMIT)
    );
}

/// Starts a proxy; the refusal's status when it is refused.
async fn try_start(
    ctl: &mut reel::proto::reel_client::ReelClient<tonic::transport::Channel>,
    listen: &str,
    upstream: &str,
) -> Result<pb::ProxyInfo, tonic::Status> {
    ctl.start_proxy(pb::StartProxyRequest {
        listen: listen.into(),
        upstream: upstream.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner())
}

fn assert_refused_as_loop(r: Result<pb::ProxyInfo, tonic::Status>, what: &str) {
    let e = r.expect_err("a proxy leading back into the agent is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().starts_with("invalid upstream") && e.message().contains("leads back"),
        "{}",
        e.message()
    );
    assert!(e.message().contains(what), "no {what:?} in {}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_forwards_to_the_agent_itself_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;

    // To itself: once accepted, one client was enough to exhaust the
    // agent's file descriptors.
    let port = closed_port();
    let r = try_start(&mut ctl, &port.to_string(), &port.to_string()).await;
    assert_refused_as_loop(r, "this proxy's own listen address");
    // Another loopback address reaches a wildcard listen.
    let wild = try_start(&mut ctl, "0.0.0.0:0", &echo_server().await.to_string())
        .await
        .unwrap();
    let wild_port = proxy_addr(&wild).port();
    let r = try_start(&mut ctl, "127.0.0.1:0", &format!("127.0.0.2:{wild_port}")).await;
    let named = format!("the listen address of proxy {:?}", wild.name);
    assert_refused_as_loop(r, &named);
    // The control port, which a wildcard listen would expose unauthenticated.
    let r = try_start(&mut ctl, "0.0.0.0:0", &agent.addr_str()).await;
    assert_refused_as_loop(r, "the agent's control port");

    // The agent keeps answering, with only the legitimate proxy.
    let out = reelctl(&["--agent", &agent.addr_str(), "--json", "proxy", "ls"]);
    out.assert_code(0);
    let data = ok_data(&out);
    let proxies = data[0]["proxies"]
        .as_array()
        .unwrap_or_else(|| panic!("{data:?}"));
    assert_eq!(proxies.len(), 1, "{proxies:?}");
    assert_eq!(
        proxies[0]["id"].as_str(),
        Some(wild.id.as_str()),
        "{proxies:?}"
    );
}

#[test]
fn a_config_file_proxy_that_forwards_to_the_control_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let control = closed_port();
    let config = dir.path().join("loop.toml");
    std::fs::write(
        &config,
        format!("[[proxy]]\nname = \"back\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{control}\"\n"),
    )
    .unwrap();
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_reel-agent"))
            .arg("--config")
            .arg(&config)
            .args(["--listen", &control.to_string(), "--data-dir"])
            .arg(dir.path().join("data")),
        Duration::from_secs(20),
        "reel-agent",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "it served: {}", out.stdout);
    for e in [
        "proxy \"back\"",
        "invalid upstream",
        "the agent's control port",
    ] {
        assert!(out.stderr.contains(e), "no {e:?} in {}", out.stderr);
    }
}
