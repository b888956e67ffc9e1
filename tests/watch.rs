//! The Watch stream: connection and transfer events add up to the traffic,
//! stats carry the proxy's totals, and a subscriber that never reads is told
//! it lagged instead of slowing the proxy down. The event tests run the
//! agent in the test process (`InProcessAgent`), the throughput one a process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rand::{Rng, SeedableRng};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

fn kinds(k: &[pb::EventKind]) -> Vec<i32> {
    k.iter().map(|k| *k as i32).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_transfer_events_add_up_to_the_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let agent = InProcessAgent::start(&dir.path().join("data")).await;
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let mut watch = ctl
        .watch(pb::WatchRequest {
            kinds: kinds(&[pb::EventKind::Connection, pb::EventKind::Transfer]),
            proxies: vec![],
        })
        .await
        .unwrap()
        .into_inner();

    let sizes = [1_000usize, 20_000, 300];
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let local = sock.local_addr().unwrap().to_string();
    for (i, n) in sizes.iter().enumerate() {
        let msg = vec![b'a' + i as u8; *n];
        assert_eq!(round_trip(&mut sock, &msg).await, msg);
    }
    assert!(close_and_drain(sock).await.is_empty());
    let sent: u64 = sizes.iter().map(|n| *n as u64).sum();

    let first = next_event(&mut watch, Duration::from_secs(10)).await;
    assert_eq!(first.proxy_id, proxy.id);
    let Some(pb::event::Body::ConnectionOpened(opened)) = first.body else {
        panic!("first event should be ConnectionOpened: {first:?}");
    };
    assert_eq!(opened.client, local);
    let (mut c2s, mut s2c) = (0u64, 0u64);
    let closed = loop {
        let ev = next_event(&mut watch, Duration::from_secs(10)).await;
        assert_eq!(ev.proxy_id, proxy.id);
        match ev.body {
            Some(pb::event::Body::Transfer(t)) => {
                assert_eq!(t.connection, opened.connection);
                assert!(t.bytes > 0, "no empty transfers");
                match pb::Direction::try_from(t.direction) {
                    Ok(pb::Direction::C2s) => c2s += t.bytes,
                    Ok(pb::Direction::S2c) => s2c += t.bytes,
                    other => panic!("transfer without direction: {other:?}"),
                }
            }
            Some(pb::event::Body::ConnectionClosed(c)) => break c,
            other => panic!("unexpected event {other:?}"),
        }
    };
    assert_eq!(closed.connection, opened.connection);
    assert_eq!(closed.client, local);
    assert_eq!(c2s, sent, "c2s transfers sum to the bytes sent");
    assert_eq!(s2c, sent, "s2c transfers sum to the bytes echoed");
    assert_eq!((closed.bytes_c2s, closed.bytes_s2c), (sent, sent));
    assert_eq!(closed.reason, "client closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_events_carry_the_proxy_totals() {
    let dir = tempfile::tempdir().unwrap();
    let agent = InProcessAgent::start(&dir.path().join("data")).await;
    let mut ctl = agent.client().await;
    // Subscribed before the proxy starts: every one of its stats events is seen.
    let mut watch = ctl
        .watch(pb::WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let proxy = start_proxy(&mut ctl, echo_server().await).await;

    let mut sent = 0u64;
    for n in [5_000usize, 700] {
        let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
        let msg = vec![7u8; n];
        assert_eq!(round_trip(&mut sock, &msg).await, msg);
        assert!(close_and_drain(sock).await.is_empty());
        sent += n as u64;
    }

    // Per-second figures add up to the totals, and the totals reach the traffic.
    let (mut rate_c2s, mut rate_s2c, mut stats_seen) = (0u64, 0u64, 0);
    let last = wait_event(
        &mut watch,
        Duration::from_secs(15),
        "stats with the final totals",
        |e| {
            let Some(pb::event::Body::Stats(s)) = &e.body else {
                return false;
            };
            assert_eq!(e.proxy_id, proxy.id);
            stats_seen += 1;
            rate_c2s += s.bytes_c2s_per_sec;
            rate_s2c += s.bytes_s2c_per_sec;
            assert!(s.bytes_c2s <= sent && s.bytes_s2c <= sent, "{s:?}");
            s.bytes_c2s == sent && s.bytes_s2c == sent && s.active_connections == 0
        },
    )
    .await;
    let Some(pb::event::Body::Stats(s)) = last.body else {
        unreachable!()
    };
    assert_eq!(s.total_connections, 2);
    assert_eq!((rate_c2s, rate_s2c), (sent, sent), "rates sum to totals");
    // And they keep coming while the proxy runs.
    wait_event(
        &mut watch,
        Duration::from_secs(10),
        "another stats",
        |e| matches!(&e.body, Some(pb::event::Body::Stats(s)) if s.bytes_c2s == sent),
    )
    .await;
    assert!(stats_seen >= 1);
}

/// Bytes pushed through the proxy while the subscriber does not read.
const BULK: usize = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
/// One-byte echoes after the bulk: exactly two transfer events each. The bulk
/// alone may make as few as 2 × 1024 events (the count depends on how TCP
/// splits the stream), while a stuck subscriber can absorb about 256 (its
/// queue on the bus) + ~3600 (a 64 KiB HTTP/2 window and 32 KiB encoder
/// batch of ~27-byte events). 6000 round trips make 12000 more, so its
/// queue surely overflows.
const PING_PONGS: usize = 6000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_does_not_slow_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    // A process: 64 MiB go through the proxy, whose threads must not be
    // shared with this test's writer, reader and echo server.
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;

    // Its own connection, with a small fixed HTTP/2 window, so what the
    // network can buffer for it is known.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", agent.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let mut stuck = ReelClient::new(channel)
        .watch(pb::WatchRequest {
            kinds: kinds(&[pb::EventKind::Transfer]),
            proxies: vec![],
        })
        .await
        .unwrap()
        .into_inner();

    let sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    sock.set_nodelay(true).unwrap();
    let (mut r, mut w) = sock.into_split();
    let bulk = tokio::time::timeout(Duration::from_secs(60), async {
        let writer = async {
            let mut rng = rand::rngs::StdRng::seed_from_u64(64);
            let mut chunk = vec![0u8; CHUNK];
            let mut sha = Sha256::new();
            for _ in 0..BULK / CHUNK {
                rng.fill_bytes(&mut chunk);
                sha.update(&chunk);
                w.write_all(&chunk).await.unwrap();
            }
            sha.finalize()
        };
        let reader = async {
            let mut buf = vec![0u8; CHUNK];
            let mut sha = Sha256::new();
            let mut got = 0;
            while got < BULK {
                let n = r.read(&mut buf[..CHUNK.min(BULK - got)]).await.unwrap();
                assert!(n > 0, "echo ended after {got} bytes");
                sha.update(&buf[..n]);
                got += n;
            }
            sha.finalize()
        };
        tokio::join!(writer, reader)
    })
    .await
    .expect("64 MiB echoed through the proxy within 60 s while a subscriber is stuck");
    assert_eq!(bulk.0, bulk.1, "the echo is byte-exact");

    tokio::time::timeout(Duration::from_secs(60), async {
        let mut b = [0u8; 1];
        for i in 0..PING_PONGS {
            w.write_all(&[i as u8]).await.unwrap();
            r.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8);
        }
    })
    .await
    .expect("small echoes within 60 s while a subscriber is stuck");

    let lag = wait_event(&mut stuck, Duration::from_secs(30), "a lagged event", |e| {
        matches!(e.body, Some(pb::event::Body::Lagged(_)))
    })
    .await;
    let Some(pb::event::Body::Lagged(lag)) = lag.body else {
        unreachable!()
    };
    assert!(lag.missed > 0, "{lag:?}");

    drop(w);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut rest))
        .await
        .expect("echo closes")
        .unwrap();
    assert!(rest.is_empty());
}
