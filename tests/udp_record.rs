//! Recording UDP proxies (issue 16, part 2) with a real agent, real UDP
//! sockets and reelctl: every datagram is its own frame, byte- and
//! boundary-exact per session and direction; sessions end idle and say so;
//! TCP and UDP proxies share one recording; a session already open when a
//! recording starts is marked mid-session.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use reel::format::{Direction, End, FrameBody, Transport};

use common::*;

/// Starts a recording of every proxy; its id.
async fn record_start(agent: &str) -> String {
    let out = reelctl_async(&["-a", agent, "-q", "record", "start", "--label", "udp"]).await;
    out.assert_code(0);
    out.stdout.trim().to_owned()
}

async fn record_stop(agent: &str, id: &str) -> serde_json::Value {
    only(&reelctl_async(&["-a", agent, "--json", "record", "stop", id]).await)["stopped"][0].clone()
}

/// One client: `n` datagrams of 1 to 1,400 random bytes, each echoed;
/// what it sent, in order.
async fn client(proxy: SocketAddr, seed: u64, n: usize) -> (SocketAddr, Vec<Vec<u8>>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sock = udp_client(proxy).await;
    let mut sent = Vec::new();
    for _ in 0..n {
        let len = rng.random_range(1..=1_400usize);
        let msg: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let back = ask(&sock, &msg).await;
        assert_eq!(back, msg, "the echo came back whole");
        sent.push(msg);
    }
    (sock.local_addr().unwrap(), sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sessions_are_recorded_datagram_for_datagram_and_end_idle() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let started = start_udp_proxy(&a, echo, "game", "1s").await;
    let listen: SocketAddr = started["listen"].as_str().unwrap().parse().unwrap();
    let id = record_start(&a).await;

    let clients: Vec<_> = (0..20u64)
        .map(|i| tokio::spawn(client(listen, 1_000 + i, 5 + i as usize)))
        .collect();
    let mut sessions = Vec::new();
    for c in clients {
        sessions.push(c.await.unwrap());
    }
    // Every session goes idle after a second without a datagram.
    eventually(Duration::from_secs(15), "the sessions closed idle", || {
        let a = a.clone();
        async move {
            let listed = reelctl_async(&["-a", &a, "--json", "proxy", "ls"]).await;
            only(&listed)["proxies"][0]["active_connections"] == 0
        }
    })
    .await;
    let stopped = record_stop(&a, &id).await;
    let total: u64 = sessions
        .iter()
        .flat_map(|(_, sent)| sent.iter().map(|m| m.len() as u64))
        .sum();
    assert_eq!(stopped["connections"], 20, "{stopped}");
    assert_eq!(stopped["bytes_c2s"], total, "{stopped}");
    assert_eq!(stopped["bytes_s2c"], total, "{stopped}");

    let (header, frames, end) = read_recording(&recording_path(&data, &id));
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert_eq!(header.proxies.len(), 1);
    assert_eq!(header.proxies[0].transport, Transport::Udp);
    let first = recording_path(&data, &id).join("00-000000.reel");
    let version = std::fs::read(first).unwrap()[8];
    assert_eq!(version, 2, "a recording with a UDP proxy is version 2");
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f.body, FrameBody::Data { .. } | FrameBody::HalfClose { .. })),
        "a UDP session has no stream frames"
    );
    for (client, sent) in &sessions {
        let (conn, open) = open_of(&frames, &client.to_string());
        assert_eq!(open.transport, Transport::Udp);
        assert!(!open.mid_session);
        assert_eq!(open.upstream, echo.to_string());
        assert_eq!(&datagrams_of(&frames, conn, Direction::C2s), sent);
        assert_eq!(&datagrams_of(&frames, conn, Direction::S2c), sent);
        let closes: Vec<_> = frames
            .iter()
            .filter(|f| f.conn == conn)
            .filter_map(|f| match &f.body {
                FrameBody::Close { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(closes, ["idle"], "session {conn}");
    }
    match end {
        End::Complete(footer) => {
            let s = footer.summary;
            let n: u64 = sessions.iter().map(|(_, m)| m.len() as u64).sum();
            assert_eq!((s.datagrams_c2s, s.datagrams_s2c), (n, n));
            assert_eq!((s.chunks_c2s, s.chunks_s2c), (0, 0));
            assert!(
                footer
                    .connections
                    .iter()
                    .all(|c| c.transport == Transport::Udp)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp_share_a_recording_and_open_sessions_are_mid_session() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let udp = start_udp_proxy(&a, echo, "game", "30s").await;
    let udp_listen: SocketAddr = udp["listen"].as_str().unwrap().parse().unwrap();
    let tcp_echo = echo_server().await;
    let tcp_upstream = tcp_echo.to_string();
    let tcp = only(
        &reelctl_async(&[
            "-a",
            &a,
            "--json",
            "proxy",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &tcp_upstream,
            "--name",
            "lobby",
        ])
        .await,
    );
    let tcp_listen: SocketAddr = tcp["listen"].as_str().unwrap().parse().unwrap();

    // A session that opened before the recording.
    let early = udp_client(udp_listen).await;
    assert_eq!(ask(&early, b"before").await, b"before");
    let id = record_start(&a).await;
    // The proxy lists the recording.
    let game = listed(&a, "game").await;
    assert_eq!(game["recordings"][0], id.as_str(), "{game}");

    assert_eq!(ask(&early, b"during").await, b"during");
    let late = udp_client(udp_listen).await;
    assert_eq!(ask(&late, b"hello").await, b"hello");
    let mut tcp_client = tokio::net::TcpStream::connect(tcp_listen).await.unwrap();
    assert_eq!(
        round_trip(&mut tcp_client, b"lobby bytes").await,
        b"lobby bytes"
    );
    drop(tcp_client);
    // The TCP close reaches the recording before it stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = record_stop(&a, &id).await;
    assert_eq!(stopped["connections"], 3, "{stopped}");

    let (header, frames, _) = read_recording(&recording_path(&data, &id));
    let kinds: Vec<_> = header
        .proxies
        .iter()
        .map(|p| (p.name.as_str(), p.transport))
        .collect();
    assert!(kinds.contains(&("game", Transport::Udp)), "{kinds:?}");
    assert!(kinds.contains(&("lobby", Transport::Tcp)), "{kinds:?}");

    let (conn, open) = open_of(&frames, &early.local_addr().unwrap().to_string());
    assert!(open.mid_session, "the session opened before the recording");
    assert_eq!(
        datagrams_of(&frames, conn, Direction::C2s),
        [b"during".to_vec()]
    );
    let (conn, open) = open_of(&frames, &late.local_addr().unwrap().to_string());
    assert!(!open.mid_session);
    assert_eq!(
        datagrams_of(&frames, conn, Direction::S2c),
        [b"hello".to_vec()]
    );
    let tcp_conn = frames
        .iter()
        .find_map(|f| match &f.body {
            FrameBody::Open(o) if o.transport == Transport::Tcp => Some(f.conn),
            _ => None,
        })
        .expect("the TCP connection's OPEN");
    assert_eq!(
        payload_of(&frames, tcp_conn, Direction::C2s),
        b"lobby bytes"
    );
}
