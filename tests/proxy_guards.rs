//! Proxies cannot be turned against the agent: a client counts against
//! `max_connections` from accept (a slow upstream connect included).

mod common;

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
