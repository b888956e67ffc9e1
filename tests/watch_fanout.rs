//! Watch subscribers and the data path (issue 13, finding 6): streams past
//! `--max-watchers` are refused with RESOURCE_EXHAUSTED naming the limit,
//! and 200 subscribers that never read neither stop the proxy nor grow the
//! agent's memory without bound, while every event a subscriber wanted is
//! either delivered or counted as missed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use common::*;

fn transfers_of(proxy: &str) -> pb::WatchRequest {
    pb::WatchRequest {
        kinds: vec![pb::EventKind::Transfer as i32],
        proxies: vec![proxy.to_owned()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_past_the_limit_are_refused_until_one_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "test-agent",
        &["--max-watchers", "3"],
    );
    let mut ctl = agent.client().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            ctl.watch(pb::WatchRequest::default())
                .await
                .expect("a watch within the limit")
                .into_inner(),
        );
    }
    let refused = ctl
        .watch(pb::WatchRequest::default())
        .await
        .expect_err("a fourth watch is refused");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    let msg = refused.message();
    assert!(
        msg.contains("at most 3") && msg.contains("--max-watchers"),
        "the message names the limit and the flag: {msg}"
    );
    // The control plane is not affected.
    ctl.list_proxies(pb::ListProxiesRequest {}).await.unwrap();

    // One leaves (the client resets its stream): its place is free again.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let _again = loop {
        match ctl.watch(pb::WatchRequest::default()).await {
            Ok(s) => break s.into_inner(),
            Err(e) if e.code() == tonic::Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the place of a stream that left was not freed within 10 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    };

    // A limit of 0 would refuse every stream: it is a usage error.
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_reel-agent"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--max-watchers",
                "0",
                "--data-dir",
            ])
            .arg(dir.path().join("unused")),
        Duration::from_secs(20),
        "reel-agent --max-watchers 0",
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("--max-watchers must be at least 1"),
        "{}",
        out.stderr
    );
    assert!(
        !dir.path().join("unused").exists(),
        "refused before touching the data dir"
    );
}

/// Watch streams that never read.
const STUCK: usize = 200;
/// Stuck streams per HTTP/2 connection. Each connection has a 64 KiB
/// window (stream and connection) that the client never gives back, so the
/// agent really has to hold or drop what they do not read.
const STUCK_PER_CONNECTION: usize = 50;
/// One-byte echoes: exactly two transfer events each (one per direction).
/// A stuck stream can absorb at most its bus queue (256 events), one 32 KiB
/// encoder batch (~1,200 events of ~27 bytes) and its share of a 64 KiB
/// window: 8,000 events surely overflow it.
const ROUND_TRIPS: u64 = 4_000;
/// How much the agent's RSS may grow with 200 stuck streams. Each holds at
/// most 256 queued events (~200 bytes each, shared between streams) and one
/// encoded batch of at most 32 KiB, plus its HTTP/2 stream state: about
/// 100 KiB per stream, 20 MiB in all; the rest is allocator slack. (Before
/// the fan-out, 2,000 such streams grew the agent by 100 MiB.)
const RSS_GROWTH_BOUND_KIB: u64 = 60 * 1024;

async fn stuck_connection(agent: &AgentProc) -> ReelClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", agent.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    ReelClient::new(channel)
}

/// Reads transfer events of `conn` until delivered + missed reach `total`;
/// returns both.
async fn account(stream: &mut tonic::Streaming<pb::Event>, conn: u64, total: u64) -> (u64, u64) {
    let (mut seen, mut missed) = (0u64, 0u64);
    while seen + missed < total {
        let ev = next_event(stream, Duration::from_secs(30)).await;
        match ev.body {
            Some(pb::event::Body::Transfer(t)) => {
                assert_eq!(t.connection, conn);
                assert_eq!(t.bytes, 1);
                seen += 1;
            }
            Some(pb::event::Body::Lagged(l)) => missed += l.missed,
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(seen + missed, total, "nothing counted twice");
    (seen, missed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_never_read_do_not_stop_the_data_path() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "test-agent",
        &["--max-watchers", "300"],
    );
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    sock.set_nodelay(true).unwrap();
    assert_eq!(round_trip(&mut sock, b"warm-up").await, b"warm-up");
    let rss_before = proc_kib(pid, "VmRSS");

    // One stuck stream has a connection of its own, so that when it starts
    // reading, the others' unread data does not take its connection window.
    let mut probe = stuck_connection(&agent)
        .await
        .watch(transfers_of(&proxy.id))
        .await
        .unwrap()
        .into_inner();
    let mut stuck = Vec::with_capacity(STUCK - 1);
    let mut client = None;
    for i in 0..STUCK - 1 {
        if i % STUCK_PER_CONNECTION == 0 {
            client = Some(stuck_connection(&agent).await);
        }
        let c = client.as_mut().unwrap();
        stuck.push(c.watch(transfers_of(&proxy.id)).await.unwrap().into_inner());
    }
    let mut reader = ctl
        .watch(transfers_of(&proxy.name))
        .await
        .unwrap()
        .into_inner();
    // The reader reads all along, on its own task.
    let mut conn_of = ctl.clone();
    let local = sock.local_addr().unwrap().to_string();
    let conn = conn_of
        .list_connections(pb::ListConnectionsRequest {
            proxy: proxy.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .connections
        .into_iter()
        .find(|c| c.client == local)
        .expect("the echo connection is listed")
        .id;
    let reading = tokio::spawn(async move { account(&mut reader, conn, 2 * ROUND_TRIPS).await });

    tokio::time::timeout(Duration::from_secs(120), async {
        let mut b = [0u8; 1];
        for i in 0..ROUND_TRIPS {
            sock.write_all(&[i as u8]).await.unwrap();
            sock.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8);
        }
    })
    .await
    .expect("every round trip completes while 200 subscribers never read");

    let (seen, missed) = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the reading subscriber accounts for every transfer")
        .unwrap();
    assert!(seen > 0, "the reader got events (and {missed} missed)");
    let rss_after = proc_kib(pid, "VmRSS");
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < RSS_GROWTH_BOUND_KIB,
        "agent RSS grew by {growth} KiB ({rss_before} -> {rss_after}) with {STUCK} stuck streams"
    );
    // The control plane answers.
    ctl.list_proxies(pb::ListProxiesRequest {}).await.unwrap();

    // A stuck stream that starts reading gets what its queue kept and how
    // many it missed: every event is accounted for.
    let (seen, missed) = account(&mut probe, conn, 2 * ROUND_TRIPS).await;
    assert!(
        missed > 0,
        "a stream that never read missed events ({seen} seen)"
    );
    eprintln!(
        "{STUCK} stuck streams: RSS +{growth} KiB; a stuck stream saw {seen} and missed {missed} of {}",
        2 * ROUND_TRIPS
    );
    drop(stuck);
}
