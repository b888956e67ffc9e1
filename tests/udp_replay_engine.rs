//! The replay engine on UDP sessions, through an agent in the test process:
//! a session recorded through a real UDP proxy replays in every mode
//! (`fast` twice over with `multiply`) with every datagram arriving whole
//! and counted in the report; `--verify` tells a lost reply from a changed
//! one; a datagram larger than UDP allows is a clear error naming its
//! size; a dead target's refusals are counted and reported. (reelctl end to end, and a stateful server, are in
//! tests/udp_replay.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel::format::{Direction, Frame};
use reel::proto as pb;
use tokio::net::UdpSocket;

use common::in_process::InProcessAgent;
use common::inspect::{read_recording, recording_path};
use common::known::{close, frame};
use common::replays::{replay_request, replay_within};
use common::*;

/// Longest a replay of these few datagrams may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);

/// Datagram sizes of the recorded session: 1 byte to 60,000, all over
/// loopback's 65,536-byte MTU in one piece.
const SIZES: [usize; 5] = [1, 700, 1_400, 9_000, 60_000];

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 31 + k) as u8).collect()
}

/// A UDP echo server that also keeps every datagram it got, in order.
async fn keeping_echo_server() -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            keep.lock().unwrap().push(buf[..n].to_vec());
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    (addr, got)
}

/// Records one session of `SIZES` datagrams through a UDP proxy in front
/// of an echo server; the recording's id.
async fn record_session(agent: &InProcessAgent) -> String {
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    let proxy = ctl
        .start_proxy(pb::StartProxyRequest {
            udp: true,
            idle_timeout_ms: 60_000,
            ..proxy_req("127.0.0.1:0", &echo.to_string())
        })
        .await
        .expect("StartProxy --udp")
        .into_inner();
    let rec = start_recording(&mut ctl, "udp session").await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(proxy_addr(&proxy)).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    for (i, len) in SIZES.iter().enumerate() {
        let msg = payload(i, *len);
        client.send(&msg).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), client.recv(&mut buf))
            .await
            .expect("echo through the proxy within 10 s")
            .unwrap();
        assert_eq!(&buf[..n], &msg[..], "datagram {i} echoed whole");
    }
    stop_recording(&mut ctl, &rec.id).await;
    rec.id
}

/// The datagrams of a recording, by direction.
fn datagrams(frames: &[Frame], dir: Direction) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter_map(|f| match &f.body {
            reel::format::FrameBody::Datagram { dir: d, payload } if *d == dir => {
                Some(payload.to_vec())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_udp_session_replays_whole_datagrams_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let agent = InProcessAgent::start(&dir.path().join("data")).await;
    let id = record_session(&agent).await;
    let (_, frames, _) = read_recording(&recording_path(&agent.data_dir, &id));
    let sent: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, n)| payload(i, *n))
        .collect();
    assert_eq!(datagrams(&frames, Direction::C2s), sent, "recorded whole");
    assert_eq!(datagrams(&frames, Direction::S2c), sent);

    let mut ctl = agent.client().await;
    for (mode, multiply) in [("fast", 2), ("causal", 1), ("timed", 1), ("reactive", 1)] {
        let (server, got) = keeping_echo_server().await;
        let mut req = replay_request(&id, server, mode);
        req.verify = true;
        req.multiply = multiply;
        let r = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
        let n = SIZES.len() as u64 * u64::from(multiply);
        assert_eq!((r.failed, r.divergences), (0, 0), "{mode}: {r:?}");
        assert_eq!(r.udp_sessions, u64::from(multiply), "{mode}");
        assert_eq!(
            (r.datagrams_sent, r.expected_datagrams_sent),
            (n, n),
            "{mode}"
        );
        assert_eq!(
            (r.datagrams_received, r.datagrams_missing),
            (n, 0),
            "{mode}"
        );
        let bytes: u64 = SIZES.iter().sum::<usize>() as u64 * u64::from(multiply);
        assert_eq!((r.bytes_sent, r.bytes_received), (bytes, bytes), "{mode}");
        for c in &r.connections {
            assert!(c.udp, "{mode}: {c:?}");
            // Paced modes (all but fast) time each datagram they send; the
            // session's end (the proxy's idle CLOSE) is not paced.
            let paced = if mode != "fast" {
                SIZES.len() as u64
            } else {
                0
            };
            assert_eq!(
                c.lateness.unwrap_or_default().samples,
                paced,
                "{mode}: {c:?}"
            );
            assert_eq!(c.datagrams_received, SIZES.len() as u64, "{mode}: {c:?}");
            assert_eq!(c.expected_datagrams_received, SIZES.len() as u64);
        }
        // Every datagram reached the server whole: one receive each, the
        // recorded bytes (two sessions interleave in fast mode).
        let mut got = got.lock().unwrap().clone();
        let mut want: Vec<Vec<u8>> = (0..multiply).flat_map(|_| sent.clone()).collect();
        if multiply == 1 {
            assert_eq!(got, want, "{mode}: in order");
        }
        got.sort();
        want.sort();
        assert_eq!(got, want, "{mode}");
    }
    agent.stop().await;
}

/// Writes a UDP recording of `frames` into the agent's data directory.
fn write_udp_recording(data_dir: &std::path::Path, id: &str, frames: Vec<Frame>) {
    std::fs::create_dir_all(data_dir).unwrap();
    let started = reel::fixtures::STARTED_UNIX_NS;
    common::known::write_recording(
        &recording_path(data_dir, id),
        id,
        frames,
        started,
        started + 1_000_000_000,
    );
}

fn open_udp(upstream: &str) -> Frame {
    frame(1, 0, reel::fixtures::open_udp("127.0.0.1:40000", upstream))
}

fn datagram(ts: u64, dir: Direction, bytes: &[u8]) -> Frame {
    frame(1, ts, reel::fixtures::datagram(dir, bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_larger_than_udp_allows_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let echo = udp_echo_server().await;
    // 65,507 bytes is the most an IPv4 UDP datagram carries.
    let huge = vec![7u8; 70_000];
    write_udp_recording(
        &data_dir,
        "too-large",
        vec![
            open_udp(&echo.to_string()),
            datagram(1_000, Direction::C2s, &huge),
            datagram(2_000, Direction::C2s, b"small"),
            datagram(3_000, Direction::S2c, b"small"),
            frame(1, 4_000, close("idle")),
        ],
    );
    let agent = InProcessAgent::start(&data_dir).await;
    let mut ctl = agent.client().await;
    let r = replay_within(
        &mut ctl,
        replay_request("too-large", echo, "fast"),
        REPLAY_LIMIT,
    )
    .await;
    assert_eq!(r.connections.len(), 1, "{r:?}");
    let c = &r.connections[0];
    assert!(
        c.error
            .contains("datagram 1 of 70000 bytes not sent: larger than the path"),
        "{}",
        c.error
    );
    // The session went on after it, as a UDP client does.
    assert_eq!((c.datagrams_sent, c.datagrams_received), (1, 1), "{c:?}");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_target_has_its_refusals_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // A UDP port nothing listens on: bound, then released.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut frames = vec![open_udp(&dead.to_string())];
    for i in 0..5u64 {
        frames.push(datagram(i * 10 + 1, Direction::C2s, b"ping"));
        frames.push(datagram(i * 10 + 2, Direction::S2c, b"pong"));
    }
    frames.push(frame(1, 100, close("idle")));
    write_udp_recording(&data_dir, "dead", frames);
    let agent = InProcessAgent::start(&data_dir).await;
    let mut ctl = agent.client().await;
    let mut req = replay_request("dead", dead, "reactive");
    req.server_timeout_ms = 300;
    let r = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
    let c = &r.connections[0];
    assert!(c.datagrams_refused >= 1, "{c:?}");
    assert!(c.error.contains("the target refused"), "{}", c.error);
    assert!(c.error.contains("ICMP port unreachable"), "{}", c.error);
    assert_eq!((c.datagrams_received, c.datagrams_missing), (0, 5), "{c:?}");
    assert_eq!(r.datagrams_missing, 5);
    assert!(r.datagrams_refused >= 1);
    agent.stop().await;
}

/// A UDP echo server that loses its reply to the second datagram of each
/// client and changes the first byte of its reply to the fourth.
async fn lossy_echo_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut seen = std::collections::HashMap::new();
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let i = seen.entry(from).or_insert(0u32);
            *i += 1;
            match *i {
                2 => continue,
                4 => buf[0] ^= 0xff,
                _ => {}
            }
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tells_a_lost_reply_from_a_changed_one() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = lossy_echo_server().await;
    let mut frames = vec![open_udp(&server.to_string())];
    for i in 0..5u64 {
        let msg = format!("ping {i}");
        frames.push(datagram(i * 10 + 1, Direction::C2s, msg.as_bytes()));
        frames.push(datagram(i * 10 + 2, Direction::S2c, msg.as_bytes()));
    }
    frames.push(frame(1, 100, close("idle")));
    write_udp_recording(&data_dir, "lossy", frames);
    let agent = InProcessAgent::start(&data_dir).await;
    let mut ctl = agent.client().await;
    let mut req = replay_request("lossy", server, "reactive");
    req.verify = true;
    // The lost reply costs one wait this long; the others come at once.
    req.server_timeout_ms = 1_000;
    let r = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
    let c = &r.connections[0];
    assert_eq!((c.datagrams_sent, c.datagrams_received), (5, 4), "{c:?}");
    assert_eq!(
        c.datagrams_missing, 1,
        "the lost reply, not the changed one"
    );
    assert_eq!(c.server_timeouts, 1, "one wait for the lost reply");
    let d = c.divergence.as_ref().expect("a divergence");
    assert_eq!(d.offset, 3, "{}", d.reason);
    assert_eq!(
        (d.expected.as_slice(), d.received.as_slice()),
        (&b"ping 3"[..], &b"\x8fing 3"[..])
    );
    assert!(
        d.reason.contains("datagram 3 differs from byte 0"),
        "{}",
        d.reason
    );
    assert!(
        d.reason
            .contains("1 different, 1 missing, 0 extra, 0 out of order"),
        "{}",
        d.reason
    );
    assert_eq!((r.divergences, r.datagrams_missing), (1, 1));
    agent.stop().await;
}
