//! Live profile changes through a real agent: a change made with reelctl
//! reaches an open connection and the chunk it holds, and a peer that stops
//! reading never blocks the control plane.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use reel::faults::{FaultSpec, Latency};
use reel::proto as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::faults::*;
use common::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 500 ms of latency set with `reelctl faults set` on an open connection,
/// then cleared with `reelctl faults clear` while a chunk is held: the held
/// chunk goes at once and the next round trip is fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_latency_change_reaches_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let before = timed_round_trip(&mut sock, b"before").await;
    assert!(before < ms(200), "no latency yet: {before:?}");

    let out = reelctl(&[
        "--agent",
        &agent.addr_str(),
        "faults",
        "set",
        &proxy.id,
        "--latency",
        "500ms",
        "--direction",
        "c2s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains(": latency 500ms c2s"), "{}", out.stdout);
    let slow = timed_round_trip(&mut sock, b"slow").await;
    assert!(
        (ms(500)..ms(1500)).contains(&slow),
        "500 ms after the change: {slow:?}"
    );

    // A chunk held when the profile is cleared is released right away.
    let t = Instant::now();
    sock.write_all(b"held").await.unwrap();
    tokio::time::sleep(ms(100)).await;
    let out = reelctl(&[
        "--agent",
        &agent.addr_str(),
        "--json",
        "faults",
        "clear",
        &proxy.id,
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.json()["results"][0]["data"]["proxy"]["faults"]["summary"],
        "none"
    );
    let mut back = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), sock.read_exact(&mut back))
        .await
        .expect("held chunk echoed")
        .unwrap();
    assert_eq!(&back, b"held");
    let held = t.elapsed();
    assert!(
        held < ms(450),
        "the held chunk waited {held:?}: its 500 ms were not cut short"
    );
    let after = timed_round_trip(&mut sock, b"after").await;
    assert!(after < ms(200), "latency cleared: {after:?}");
    assert!(close_and_drain(sock).await.is_empty());
}

/// A client that never reads while its server pushes: the proxy's writes
/// block (its held queue is full), yet the control plane answers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_does_not_block_the_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let spec = FaultSpec {
        latency: Some(Latency::Fixed(ms(5))),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, push_server(None).await, &spec).await;
    let _stalled = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    // Wait until the proxy stops reading from the server: the socket
    // buffers and the held queue are full, its writes block.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = u64::MAX;
    loop {
        let now = ctl
            .list_proxies(pb::ListProxiesRequest {})
            .await
            .unwrap()
            .into_inner()
            .proxies[0]
            .bytes_s2c;
        if now == last {
            break;
        }
        assert!(Instant::now() < deadline, "the push never stalled");
        last = now;
        tokio::time::sleep(ms(200)).await;
    }
    assert!(last > 0);

    for latency in [ms(50), ms(0)] {
        let spec = FaultSpec {
            latency: Some(Latency::Fixed(latency)),
            ..FaultSpec::default()
        };
        let t = Instant::now();
        let info = tokio::time::timeout(
            Duration::from_secs(1),
            ctl.update_faults(pb::UpdateFaultsRequest {
                proxy: proxy.id.clone(),
                faults: Some(reel::wire::faults::profile(&spec)),
            }),
        )
        .await
        .expect("UpdateFaults answered within 1 s")
        .unwrap()
        .into_inner();
        assert!(info.faults.is_some());
        let t2 = Instant::now();
        let list = tokio::time::timeout(
            Duration::from_secs(1),
            ctl.list_proxies(pb::ListProxiesRequest {}),
        )
        .await
        .expect("ListProxies answered within 1 s")
        .unwrap()
        .into_inner();
        assert_eq!(list.proxies[0].active_connections, 1);
        eprintln!("UpdateFaults {:?}, ListProxies {:?}", t2 - t, t2.elapsed());
    }
}
