//! When the disk limit or the disk itself runs out, the recording ends with
//! a marker and an event while the proxy keeps forwarding byte-exact; a
//! crash during a replay leaves the catalog as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::format::FrameBody;
use reel::proto as pb;
use tokio::net::TcpStream;

use common::disk::SmallDisk;
use common::*;

/// Sends `total` bytes through `proxy` to an echo server in 64 KiB messages
/// and checks every echo.
async fn push_through(proxy: std::net::SocketAddr, total: usize) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let mut sent = 0;
    let mut i = 0u8;
    while sent < total {
        let msg = vec![i; 64 * 1024];
        assert_eq!(
            round_trip(&mut s, &msg).await,
            msg,
            "echo through the proxy stays exact"
        );
        sent += msg.len();
        i = i.wrapping_add(1);
    }
    close_and_drain(s).await;
}

async fn recording_event(stream: &mut tonic::Streaming<pb::Event>) -> pb::RecordingEvent {
    loop {
        let ev = next_event(stream, Duration::from_secs(20)).await;
        if let Some(pb::event::Body::Recording(r)) = ev.body
            && r.phase != pb::recording_event::Phase::Started as i32
        {
            return r;
        }
    }
}

async fn watch_recordings(
    ctl: &mut reel::proto::reel_client::ReelClient<tonic::transport::Channel>,
) -> tonic::Streaming<pb::Event> {
    ctl.watch(pb::WatchRequest {
        kinds: vec![pb::EventKind::Recording as i32],
        proxies: vec![],
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_quota_ends_the_recording_not_the_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start_with("127.0.0.1:0", &data, "quota", &["--max-disk", "300KB"]);
    let mut ctl = agent.client().await;
    let mut events = watch_recordings(&mut ctl).await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);
    let rec = start_recording(&mut ctl, "quota").await;

    push_through(proxy, 1 << 20).await;

    let ev = recording_event(&mut events).await;
    assert_eq!(ev.phase, pb::recording_event::Phase::Failed as i32);
    let info = ev.recording.unwrap();
    assert!(info.error.contains("disk quota reached"), "{}", info.error);
    let got = ctl
        .get_recording(pb::GetRecordingRequest { id: rec.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status, pb::RecordingStatus::Failed as i32);
    assert!(
        got.lost_bytes > 0,
        "bytes after the limit are counted as lost"
    );
    let stopped = stop_recording(&mut ctl, &rec.id).await;
    assert!(stopped.error.contains("--max-disk"), "{}", stopped.error);

    // The file ends cleanly: a marker, then the footer carrying the reason.
    let path = recording_path(&data, &rec.id);
    let size = recording_size(&path);
    assert!(
        size <= 300_000 + 64 * 1024,
        "the recording stayed near the limit: {size} bytes"
    );
    let footer = recording_footer(&path);
    assert!(footer.error.unwrap().contains("disk quota"));
    let (_, frames, _) = read_recording(&path);
    assert!(
        frames.iter().any(
            |f| matches!(&f.body, FrameBody::Annotation { text } if text.contains("disk quota"))
        )
    );

    // Over the quota, a new recording is refused up front.
    let err = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: vec![],
            label: String::new(),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("disk quota"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_recording_not_the_traffic() {
    if !common::needs::enabled(
        common::needs::Need::Root,
        "a_full_disk_ends_the_recording_not_the_traffic",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), "512k");
    let data = disk.0.join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let mut events = watch_recordings(&mut ctl).await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);
    let rec = start_recording(&mut ctl, "enospc").await;

    push_through(proxy, 2 << 20).await;

    let ev = recording_event(&mut events).await;
    assert_eq!(ev.phase, pb::recording_event::Phase::Failed as i32);
    let error = ev.recording.unwrap().error;
    assert!(
        error.contains("No space left") || error.contains("os error 28"),
        "{error}"
    );
    // The proxy still relays new connections.
    push_through(proxy, 64 * 1024).await;
    let _ = ctl
        .stop_recording(pb::StopRecordingRequest { id: rec.id.clone() })
        .await;

    // What was written reads back: up to the last complete frame.
    let (_, frames, _) = read_recording(&recording_path(&data, &rec.id));
    assert!(
        frames
            .iter()
            .any(|f| matches!(f.body, FrameBody::Data { .. })),
        "some data was recorded"
    );
    agent.kill9();
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_replay_leaves_the_catalog_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);
    let rec = start_recording(&mut ctl, "crash").await;
    for _ in 0..3 {
        let mut s = TcpStream::connect(proxy).await.unwrap();
        round_trip(&mut s, b"hello").await;
        // Part of the scenario: a gap the slow replay below stretches to 4 s.
        tokio::time::sleep(Duration::from_millis(200)).await;
        round_trip(&mut s, b"again").await;
        close_and_drain(s).await;
    }
    wait_idle(&ctl, 3).await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    let before = recording_snapshot(&recording_path(&data, &rec.id));

    // A slow replay (speed 0.05: the 200 ms gaps become 4 s), killed midway.
    let started = ctl
        .start_replay(pb::StartReplayRequest {
            recordings: vec![rec.id.clone()],
            target: echo.to_string(),
            speed: 0.05,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Midway: the first bytes have gone out and the replay still runs.
    let last = std::sync::Mutex::new(pb::ReplayReport::default());
    eventually(Duration::from_secs(20), "the replay under way", || {
        let mut ctl = ctl.clone();
        let id = started.id.clone();
        let last = &last;
        async move {
            let now = ctl
                .get_replay(pb::GetReplayRequest { id })
                .await
                .unwrap()
                .into_inner();
            let seen = now.bytes_sent > 0 || now.state() != pb::ReplayState::Running;
            *last.lock().unwrap() = now;
            seen
        }
    })
    .await;
    let running = last.into_inner().unwrap();
    assert_eq!(running.state(), pb::ReplayState::Running, "{running:?}");
    agent.kill9();

    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let list = ctl
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, pb::RecordingStatus::Complete as i32);
    assert_eq!(
        (list[0].bytes_c2s, list[0].bytes_s2c),
        (done.bytes_c2s, done.bytes_s2c)
    );
    assert!(
        recording_snapshot(&recording_path(&data, &rec.id)) == before,
        "the recording is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // proxies.json: the running proxies, saved to come back (finding 15).
        .filter(|n| {
            !["agent-id", "replays", "proxies.json"].contains(&n.as_str())
                && !n.ends_with(".reel")
                && !n.ends_with(".segments")
        })
        .collect();
    assert!(leftovers.is_empty(), "no stray files: {leftovers:?}");
    // The replay's report file said running: it comes back failed, and a
    // new replay runs.
    let cut = ctl
        .get_replay(pb::GetReplayRequest { id: started.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (cut.state(), cut.error.as_str()),
        (
            pb::ReplayState::Failed,
            "the agent stopped during the replay"
        )
    );
    let again = ctl
        .start_replay(pb::StartReplayRequest {
            recordings: vec![rec.id.clone()],
            target: echo.to_string(),
            mode: reel::proto::ReplayMode::Fast as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.planned, 3);
}
