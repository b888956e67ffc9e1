//! A replay against a server that stops cooperating explains itself: while
//! it waits for server bytes that do not come, `GetReplay` lists the
//! waiting connection with what it expects, and a server that stops
//! reading holds a write that is counted as a server timeout every
//! `--server-timeout`, so no replay sits without progress unreported.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::Channel;

use common::replays::get_replay;
use common::*;

/// Bytes of the big client chunk: more than loopback socket buffers hold.
const BIG: usize = 16 << 20;

/// Answers `OK\n` to the first chunk of every connection, then reads and
/// discards the rest.
async fn answering_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut answered = false;
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !answered {
                        answered = true;
                        if s.write_all(b"OK\n").await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Accepts and holds connections; reads only when `read` is set, and
/// never answers.
async fn silent_server(read: bool) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                if read {
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                } else {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                drop(s);
            });
        }
    });
    addr
}

/// Polls the running replay until `seen` holds of its report (at most
/// 20 s), then stops it; returns the report that held.
async fn watch_until(
    ctl: &mut ReelClient<Channel>,
    id: &str,
    what: &str,
    seen: impl Fn(&pb::ReplayReport) -> bool,
) -> pb::ReplayReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = get_replay(ctl, id).await;
        if seen(&r) {
            let stopped = ctl
                .stop_replay(pb::StopReplayRequest { id: id.into() })
                .await
                .expect("StopReplay")
                .into_inner();
            assert_eq!(stopped.state(), reel::proto::ReplayState::Stopped);
            return r;
        }
        assert!(
            r.state() == reel::proto::ReplayState::Running
                && tokio::time::Instant::now() < deadline,
            "{what}: not seen within 20 s; report {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_replay_says_what_it_waits_for_and_counts_its_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let upstream = answering_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, upstream).await);

    // Recorded: "hello", the server's "OK\n", then a big chunk.
    let rec = start_recording(&mut ctl, "stall").await;
    let mut c = TcpStream::connect(proxy).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut ok = [0u8; 3];
    c.read_exact(&mut ok).await.unwrap();
    c.write_all(&vec![7u8; BIG]).await.unwrap();
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest).await;
    wait_idle(&ctl, 1).await;
    let rec = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(rec.bytes_c2s, 5 + BIG as u64);

    // A server that reads but never answers: the big chunk waits for the
    // "OK\n" it followed, and the live report says so.
    let mute = silent_server(true).await;
    let req = pb::StartReplayRequest {
        recordings: vec![rec.id.clone()],
        target: mute.to_string(),
        mode: reel::proto::ReplayMode::Reactive as i32,
        unpaced: true,
        server_timeout_ms: 10_000,
        ..Default::default()
    };
    let id = ctl
        .start_replay(req)
        .await
        .expect("StartReplay")
        .into_inner()
        .id;
    let r = watch_until(&mut ctl, &id, "a wait for own server bytes", |r| {
        !r.waits.is_empty()
    })
    .await;
    let w = &r.waits[0];
    assert!(w.own, "{w:?}");
    assert_eq!((w.step, w.expected, w.received), (1, 3, 0), "{w:?}");

    // A server that never reads: the big write cannot finish; every
    // --server-timeout without progress is counted while it runs.
    let deaf = silent_server(false).await;
    let req = pb::StartReplayRequest {
        recordings: vec![rec.id.clone()],
        target: deaf.to_string(),
        mode: reel::proto::ReplayMode::Fast as i32,
        server_timeout_ms: 200,
        ..Default::default()
    };
    let id = ctl
        .start_replay(req)
        .await
        .expect("StartReplay")
        .into_inner()
        .id;
    let r = watch_until(&mut ctl, &id, "a counted write stall", |r| {
        r.server_timeouts >= 2
    })
    .await;
    assert!(r.bytes_sent < 5 + BIG as u64, "the write is held: {r:?}");
    // The agent's log goes to a file here: plain text, no colour codes.
    let log = agent.log();
    assert!(!log.is_empty() && !log.contains('\x1b'), "{log}");
}

/// Proxy-only faults on a replay are refused before any agent is called,
/// naming the flags, instead of being accepted and ignored.
#[test]
fn proxy_only_faults_are_refused_on_a_replay() {
    let out = reelctl(&[
        "--agent",
        "127.0.0.1:9",
        "replay",
        "r1",
        "--reset-after",
        "1s",
        "--proxy-bandwidth",
        "1MiB/s",
    ]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--reset-after") && out.stderr.contains("--proxy-bandwidth"),
        "{}",
        out.stderr
    );
}

/// A placeholder typed literally (`<ID>`) is a usage error with a hint, and
/// a file path that is not there a usage error naming it (a file that is
/// there is pushed and replayed: `ctl_transfer`), before any agent is
/// called.
#[test]
fn a_replay_of_something_that_is_not_an_id_gets_a_usage_hint() {
    let out = reelctl(&["--agent", "127.0.0.1:9", "replay", "<ID>"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("record ls") && out.stderr.contains("local recording file"),
        "{}",
        out.stderr
    );
    let out = reelctl(&["--agent", "127.0.0.1:9", "replay", "./rec.reel"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("cannot read ./rec.reel"),
        "{}",
        out.stderr
    );
}
