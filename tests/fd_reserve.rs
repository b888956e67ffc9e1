//! File descriptors kept for the control plane (issue 13, finding 2): idle
//! clients beyond the agent's budget are refused, counted and evented while
//! the control plane keeps answering; the open-file limit is raised to the
//! hard one at start and checked against the connection limits, in the log;
//! replayed connections share the budget; a reserve the limit cannot hold
//! stops the agent at start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::proto as pb;
use tokio::net::TcpStream;

use common::replays::{replay_request, replay_within};
use common::*;

/// The agent's open-file limit in the flood test: small, so a few hundred
/// idle clients would exhaust it.
const TIGHT_LIMIT: u64 = 300;
/// Clients opened against it: well past what the limit could hold.
const CLIENTS: u64 = 400;

/// This process's hard open-file limit: a child's may not go above it.
fn hard_limit() -> u64 {
    reel::fds::current_limit().hard.unwrap_or(u64::MAX)
}

async fn list(
    ctl: &mut reel::proto::reel_client::ReelClient<tonic::transport::Channel>,
) -> pb::ProxyInfo {
    tokio::time::timeout(
        Duration::from_secs(10),
        ctl.list_proxies(pb::ListProxiesRequest {}),
    )
    .await
    .expect("the control plane answers ListProxies within 10 s")
    .expect("ListProxies")
    .into_inner()
    .proxies
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_past_the_budget_are_refused_and_the_control_plane_answers() {
    if !common::needs::open_files("fd_reserve flood", TIGHT_LIMIT) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with_nofile(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "tight",
        &[],
        (TIGHT_LIMIT, TIGHT_LIMIT),
    );
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let mut watch = ctl
        .watch(pb::WatchRequest {
            kinds: vec![pb::EventKind::Connection as i32],
            proxies: vec![],
        })
        .await
        .unwrap()
        .into_inner();

    // The default reserve (256) leaves 44 descriptors: 22 clients.
    let budget = TIGHT_LIMIT - reel::fds::DEFAULT_FD_RESERVE;
    let admitted = budget / u64::from(reel::fds::FDS_PER_CONNECTION);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let c = tokio::time::timeout(
            Duration::from_secs(10),
            TcpStream::connect(proxy_addr(&proxy)),
        )
        .await
        .expect("connect within 10 s")
        .expect("connect to the proxy");
        clients.push(c);
    }

    // Every client was either let in or refused; the ones in stay in.
    eventually(
        Duration::from_secs(30),
        "every client let in or refused",
        || {
            let mut ctl = ctl.clone();
            async move {
                let p = list(&mut ctl).await;
                p.active_connections + p.refused_connections == CLIENTS
            }
        },
    )
    .await;
    let p = list(&mut ctl).await;
    assert_eq!(
        (p.active_connections, p.refused_connections),
        (admitted, CLIENTS - admitted),
        "clients hold at most the budget of {budget} descriptors"
    );

    // The control plane still answers, reelctl included, and says so.
    let out = reelctl_async(&["--agent", &agent.addr_str(), "--json", "proxy", "ls"]).await;
    let data = ok_data(&out);
    assert_eq!(
        data[0]["proxies"][0]["refused_connections"],
        CLIENTS - admitted,
        "{}",
        out.stdout
    );
    let refused = wait_event(
        &mut watch,
        Duration::from_secs(10),
        "a refusal event",
        |ev| {
            matches!(&ev.body, Some(pb::event::Body::ConnectionClosed(c))
            if c.reason.contains("file descriptors reserved for the control plane"))
        },
    )
    .await;
    assert_eq!(refused.proxy_id, proxy.id);
    assert!(
        agent.log().contains("refusing new proxy clients"),
        "{}",
        agent.log()
    );

    // Once they leave, new clients get in again.
    drop(clients);
    eventually(Duration::from_secs(30), "the clients gone", || {
        let mut ctl = ctl.clone();
        async move { list(&mut ctl).await.active_connections == 0 }
    })
    .await;
    let mut again = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut again, b"back in").await, b"back in");
    let p = list(&mut ctl).await;
    assert_eq!(p.refused_connections, CLIENTS - admitted, "no new refusal");
    assert!(
        agent.log().contains("file descriptors free again"),
        "{}",
        agent.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_to_the_hard_limit_and_checked_in_the_log() {
    if !common::needs::open_files("fd_reserve raise", 1025) {
        return;
    }
    let hard = hard_limit().min(4096);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = AgentProc::start_with_nofile(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "raised",
        &[],
        (200, hard),
    );
    let budget = hard - reel::fds::DEFAULT_FD_RESERVE;
    let log = agent.log();
    assert!(
        log.contains("open-file limit raised to the hard limit")
            && log.contains("old_soft=200")
            && log.contains(&format!("soft={hard} hard={hard}"))
            && log.contains(&format!("fd_budget={budget}")),
        "{log}"
    );
    // The default limit (10,000 clients, 2 descriptors each) does not fit.
    assert!(
        log.contains("one proxy at --max-connections 10000 may hold 20000 file descriptors"),
        "{log}"
    );

    // Proxies whose limits together overshoot the budget are said to.
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let half = budget / 4 + 1;
    for name in ["a", "b"] {
        ctl.start_proxy(pb::StartProxyRequest {
            listen: "127.0.0.1:0".into(),
            upstream: echo.to_string(),
            name: name.into(),
            faults: None,
            max_connections: half,
            ..pb::StartProxyRequest::default()
        })
        .await
        .expect("StartProxy");
    }
    let log = agent.log();
    let warned = format!("connection limits ({} clients in all)", 2 * half);
    assert!(log.contains(&warned), "{log}");
    assert!(
        !log.contains(&format!("connection limits ({half} clients in all)")),
        "one proxy alone fits: {log}"
    );
    assert_eq!(agent.terminate(), Some(0));
}

#[test]
fn a_reserve_the_limit_cannot_hold_stops_the_agent_at_start() {
    if !common::needs::open_files("fd_reserve too large", 200) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = nofile_command(env!("CARGO_BIN_EXE_reel-agent"), 200, 200);
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let out = run_bounded(&mut cmd, Duration::from_secs(20), "reel-agent");
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("--fd-reserve 256 leaves no file descriptors")
            && out.stderr.contains("open-file limit of 200"),
        "{}",
        out.stderr
    );
    assert!(!data.exists(), "nothing was set up");

    let help = run_bounded(
        std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent")).arg("--help"),
        Duration::from_secs(20),
        "reel-agent --help",
    );
    help.assert_code(0);
    assert!(help.stdout.contains("--fd-reserve <N>"), "{}", help.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_connections_share_the_budget_with_proxy_clients() {
    if !common::needs::open_files("fd_reserve replay", TIGHT_LIMIT) {
        return;
    }
    // 300 less 290 leaves 10 descriptors: 5 proxy clients, or 10 replayed
    // connections (one descriptor each).
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with_nofile(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "tight-replay",
        &["--fd-reserve", "290"],
        (TIGHT_LIMIT, TIGHT_LIMIT),
    );
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = start_proxy(&mut ctl, echo).await;
    let rec = start_recording(&mut ctl, "one connection").await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut sock, b"hello").await, b"hello");
    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&ctl, 1).await;
    stop_recording(&mut ctl, &rec.id).await;

    // Five idle clients hold the whole budget: the replay's connection is
    // refused, and says why.
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut c = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
        assert_eq!(round_trip(&mut c, b"in").await, b"in");
        clients.push(c);
    }
    let limit = Duration::from_secs(60);
    let report = replay_within(&mut ctl, replay_request(&rec.id, echo, "timed"), limit).await;
    assert_eq!((report.opened, report.failed), (0, 1), "{report:?}");
    assert!(
        report.connections[0]
            .error
            .contains("file descriptors reserved for the control plane"),
        "{report:?}"
    );

    // Once the clients leave, the same replay runs.
    drop(clients);
    eventually(Duration::from_secs(30), "the clients gone", || {
        let mut ctl = ctl.clone();
        async move { list(&mut ctl).await.active_connections == 0 }
    })
    .await;
    let report = replay_within(&mut ctl, replay_request(&rec.id, echo, "timed"), limit).await;
    assert_eq!((report.opened, report.failed), (1, 0), "{report:?}");
}
