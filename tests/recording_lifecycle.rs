//! A recording's life: what it holds for half-closed and mid-session
//! connections, how it survives `kill -9` and SIGTERM, deletion, several
//! proxies in one file, and one proxy named several times. The kill -9 and
//! SIGTERM tests run agent processes; the others an in-process agent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::format::{Direction, End, FrameBody};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::transport::Channel;

use common::*;

async fn list_recordings(ctl: &mut ReelClient<Channel>) -> Vec<pb::RecordingInfo> {
    ctl.list_recordings(pb::ListRecordingsRequest {})
        .await
        .expect("ListRecordings")
        .into_inner()
        .recordings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_is_relayed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = InProcessAgent::start(&data).await;
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, count_then_reply_server().await).await;
    let rec = start_recording(&mut ctl, "half-close").await;

    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let local = sock.local_addr().unwrap().to_string();
    let reply = tokio::time::timeout(Duration::from_secs(15), async {
        sock.write_all(&vec![0x5a; 100 * 1024]).await.unwrap();
        sock.shutdown().await.unwrap();
        let mut reply = Vec::new();
        sock.read_to_end(&mut reply).await.unwrap();
        reply
    })
    .await
    .expect("reply within 15 s");
    assert_eq!(String::from_utf8_lossy(&reply), "got 102400 bytes");

    wait_idle(&ctl, 1).await;
    stop_recording(&mut ctl, &rec.id).await;
    let (_, frames, end) = read_recording(&recording_path(&data, &rec.id));
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    let (conn, _) = open_of(&frames, &local);
    let mine: Vec<_> = frames.iter().filter(|f| f.conn == conn).collect();
    let half = mine
        .iter()
        .position(|f| {
            matches!(
                f.body,
                FrameBody::HalfClose {
                    dir: Direction::C2s
                }
            )
        })
        .expect("a c2s HALF_CLOSE frame");
    let first_reply = mine
        .iter()
        .position(|f| {
            matches!(
                f.body,
                FrameBody::Data {
                    dir: Direction::S2c,
                    ..
                }
            )
        })
        .expect("s2c data");
    assert!(
        half < first_reply,
        "HALF_CLOSE c2s (frame {half}) comes before the reply (frame {first_reply})"
    );
    assert_eq!(payload_of(&frames, conn, Direction::C2s).len(), 100 * 1024);
    assert_eq!(
        payload_of(&frames, conn, Direction::S2c),
        b"got 102400 bytes"
    );
    assert!(matches!(mine.last().unwrap().body, FrameBody::Close { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_before_the_start_are_recorded_mid_session() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = InProcessAgent::start(&data).await;
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;

    let mut early = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let early_addr = early.local_addr().unwrap().to_string();
    assert_eq!(
        round_trip(&mut early, b"before the start").await,
        b"before the start"
    );

    let rec = start_recording(&mut ctl, "mid").await;
    assert_eq!(round_trip(&mut early, b"after").await, b"after");
    let mut late = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let late_addr = late.local_addr().unwrap().to_string();
    assert_eq!(round_trip(&mut late, b"fresh").await, b"fresh");
    assert!(close_and_drain(early).await.is_empty());
    assert!(close_and_drain(late).await.is_empty());

    wait_idle(&ctl, 2).await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(done.connections, 2);
    assert_eq!(done.bytes_c2s, (b"after".len() + b"fresh".len()) as u64);

    let (_, frames, _) = read_recording(&recording_path(&data, &rec.id));
    let (early_conn, early_open) = open_of(&frames, &early_addr);
    assert!(
        early_open.mid_session,
        "opened before the recording started"
    );
    assert_eq!(payload_of(&frames, early_conn, Direction::C2s), b"after");
    assert_eq!(payload_of(&frames, early_conn, Direction::S2c), b"after");
    let (late_conn, late_open) = open_of(&frames, &late_addr);
    assert!(!late_open.mid_session, "opened after the recording started");
    assert_eq!(payload_of(&frames, late_conn, Direction::C2s), b"fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_leaves_a_recoverable_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "crash").await;

    // Three clients, two messages each; they stay open through the kill.
    let mut clients = Vec::new();
    let mut sent = 0u64;
    for i in 0..3u8 {
        let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
        let local = sock.local_addr().unwrap().to_string();
        let mut mine = 0u64;
        for n in [1_000usize, 3_000] {
            let msg = vec![i; n];
            assert_eq!(round_trip(&mut sock, &msg).await, msg);
            mine += n as u64;
        }
        sent += mine;
        clients.push((sock, local, mine));
    }
    // The recorder hands buffered frames to the OS within 100 ms when idle:
    // wait until the file holds every byte both ways, then kill.
    let path = recording_path(&data, &rec.id);
    eventually(Duration::from_secs(20), "every byte in the file", || {
        let path = path.clone();
        async move {
            reel::format::survey_dir(&path)
                .is_ok_and(|s| s.summary.bytes_c2s == sent && s.summary.bytes_s2c == sent)
        }
    })
    .await;
    agent.kill9();
    drop(ctl);

    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let listed = list_recordings(&mut ctl).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(r.id, rec.id);
    assert_eq!(r.status, pb::RecordingStatus::Recovered as i32);
    assert_eq!(r.bytes_c2s, sent);
    assert_eq!(r.bytes_s2c, sent);
    assert_eq!(r.connections, 3);
    assert_eq!(r.label, "crash");

    let path = recording_path(&data, &rec.id);
    // The restart indexed it as cut short: ended, and still saying so.
    let index = reel::format::Index::read(&path)
        .unwrap()
        .expect("indexed at start");
    assert!(!index.complete, "{index:?}");
    assert_eq!(index.footer.end_reason, reel::record::CUT_SHORT_REASON);
    let scan = scan_recording(&path);
    assert!(matches!(scan.end, End::Truncated { .. }), "{:?}", scan.end);
    assert_eq!(scan.summary.bytes_c2s, sent);
    assert_eq!(scan.summary.bytes_s2c, sent);
    for (_, local, mine) in &clients {
        let c = scan
            .connections
            .iter()
            .find(|c| c.client == *local)
            .unwrap_or_else(|| panic!("connection of {local} recovered"));
        assert_eq!((c.bytes_c2s, c.bytes_s2c), (*mine, *mine), "{local}");
        assert_eq!(c.proxy_id, proxy.id);
    }
    // Every frame before the cut is readable, data and all.
    let (_, frames, _) = read_recording(&path);
    for (i, (_, local, _)) in clients.iter().enumerate() {
        let (conn, _) = open_of(&frames, local);
        let mut want = vec![i as u8; 1_000];
        want.extend(vec![i as u8; 3_000]);
        assert_eq!(payload_of(&frames, conn, Direction::C2s), want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "graceful").await;

    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let local = sock.local_addr().unwrap().to_string();
    assert_eq!(round_trip(&mut sock, b"still open").await, b"still open");

    assert_eq!(agent.terminate(), Some(0), "log:\n{}", agent.log());
    drop(ctl);
    // The client's connection was closed by the agent.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut rest))
        .await
        .expect("client connection closed by the stopping agent");

    let path = recording_path(&data, &rec.id);
    assert!(is_finished(&path), "index written");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let listed = list_recordings(&mut ctl).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].status, pb::RecordingStatus::Complete as i32);
    assert_eq!(listed[0].bytes_c2s, b"still open".len() as u64);

    let (_, frames, end) = read_recording(&path);
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    let (conn, _) = open_of(&frames, &local);
    assert!(
        frames
            .iter()
            .any(|f| f.conn == conn && matches!(f.body, FrameBody::Close { .. })),
        "CLOSE frame for the connection open at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_recording_and_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = InProcessAgent::start(&data).await;
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "doomed").await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut sock, b"x").await, b"x");
    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&ctl, 1).await;
    stop_recording(&mut ctl, &rec.id).await;
    let path = recording_path(&data, &rec.id);
    assert!(path.exists());

    let deleted = ctl
        .delete_recording(pb::DeleteRecordingRequest { id: rec.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.recording.unwrap().id, rec.id);
    assert!(list_recordings(&mut ctl).await.is_empty());
    assert!(!path.exists(), "file removed from disk");
    let again = ctl
        .get_recording(pb::GetRecordingRequest { id: rec.id.clone() })
        .await;
    assert_eq!(again.unwrap_err().code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_recording_of_two_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = InProcessAgent::start(&data).await;
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let a = start_proxy(&mut ctl, echo).await;
    let b = start_proxy(&mut ctl, echo).await;
    let rec = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: vec![a.id.clone(), b.name.clone()],
            label: "both".into(),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut ids = rec.proxies.clone();
    ids.sort();
    assert_eq!(ids, vec![a.id.clone(), b.id.clone()]);

    let mut via = Vec::new();
    for (p, msg) in [
        (&a, &b"to a"[..]),
        (&b, &b"to b"[..]),
        (&a, &b"a again"[..]),
    ] {
        let mut sock = TcpStream::connect(proxy_addr(p)).await.unwrap();
        via.push((sock.local_addr().unwrap().to_string(), p.id.clone(), msg));
        assert_eq!(round_trip(&mut sock, msg).await, msg);
        assert!(close_and_drain(sock).await.is_empty());
    }
    wait_idle(&ctl, 3).await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(done.connections, 3);

    let (header, frames, _) = read_recording(&recording_path(&data, &rec.id));
    let mut in_header: Vec<_> = header.proxies.iter().map(|p| p.id.clone()).collect();
    in_header.sort();
    assert_eq!(in_header, ids);
    for (client, proxy_id, msg) in via {
        let (conn, open) = open_of(&frames, &client);
        assert_eq!(open.proxy_id, proxy_id, "proxy of {client}");
        assert_eq!(payload_of(&frames, conn, Direction::C2s), msg);
    }
}

/// Issue 13, finding 4: a proxy named by name and by id (and repeated) was
/// tapped once per mention, so every byte was recorded that many times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_named_several_times_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = InProcessAgent::start(&data).await;
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let p = start_proxy(&mut ctl, echo).await;
    let mut named = Vec::new();
    for _ in 0..3 {
        named.push(p.name.clone());
        named.push(p.id.clone());
    }
    let rec = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: named,
            label: "twice".into(),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rec.proxies, vec![p.id.clone()]);

    let msg = vec![b'x'; 1000];
    let mut sock = TcpStream::connect(proxy_addr(&p)).await.unwrap();
    assert_eq!(round_trip(&mut sock, &msg).await, msg);
    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&ctl, 1).await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(done.connections, 1);
    assert_eq!(done.bytes_c2s, 1000);
    assert_eq!(done.bytes_s2c, 1000);

    let (header, frames, _) = read_recording(&recording_path(&data, &rec.id));
    assert_eq!(header.proxies.len(), 1);
    let c2s: usize = frames
        .iter()
        .filter_map(|f| match &f.body {
            FrameBody::Data {
                dir: Direction::C2s,
                payload,
            } => Some(payload.len()),
            _ => None,
        })
        .sum();
    assert_eq!(c2s, 1000, "each byte recorded once");
}
