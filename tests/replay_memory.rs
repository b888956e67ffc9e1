//! Replay memory is bounded: a recording of more than 1 GiB replays in
//! `fast` mode while the agent's peak resident memory stays under 200 MiB
//! (`RSS_BOUND_KIB`), so a replay reads its recording as it goes instead of
//! loading it whole (issue 11: "agent RSS during a replay is independent of
//! the recording's size"). The recording is written with the library's writer
//! straight into a real agent's data dir (4 connections of 256 KiB client
//! chunks, no server bytes), replayed against a loopback sink that reads and
//! discards, and the agent's `VmHWM` (the kernel's peak RSS) is read from
//! /proc. The file is deleted with its temp dir at the end, pass or fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reel::format::{Direction, Frame, FrameBody, Header, OpenInfo, RecordingWriter};
use reel::proto as pb;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use common::replays::{describe_live, replay_request, replay_within};
use common::*;

/// Client bytes in the recording: 1 GiB (the file is a little larger).
const RECORDED_BYTES: u64 = 1 << 30;
/// Size of every client chunk.
const CHUNK: usize = 256 * 1024;
const CONNECTIONS: u64 = 4;
/// The bound on the agent's peak RSS (VmHWM, whole process, start-up
/// included) while it replays a recording of any size: a streaming replay
/// holds a bounded look-ahead, not the file.
const RSS_BOUND_KIB: u64 = 200 * 1024;
/// Free space the test needs where temp files go: the file and a margin.
const DISK_NEEDED: u64 = RECORDED_BYTES + (1 << 30);
/// Longest the replay may take (1 GiB over loopback takes seconds).
const REPLAY_LIMIT: Duration = Duration::from_secs(180);
const ID: &str = "big-1gib";

/// Writes the recording into `data_dir` with the library's writer; returns
/// the file size.
fn write_big_recording(data_dir: &Path) -> u64 {
    let header = Header {
        id: ID.into(),
        label: "bounded-memory".into(),
        agent_name: "test".into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        ..Header::default()
    };
    let path = recording_path(data_dir, ID);
    let file = std::fs::File::create(&path).expect("create the big recording");
    let mut w = RecordingWriter::new(BufWriter::with_capacity(1 << 20, file), &header).unwrap();
    let payload = Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let mut ts = 0u64;
    let mut frame = |w: &mut RecordingWriter<_>, conn: u64, body: FrameBody| {
        ts += 1_000_000;
        w.write_frame(&Frame {
            conn,
            ts_ns: ts,
            body,
        })
        .expect("write a frame");
    };
    for conn in 1..=CONNECTIONS {
        let open = FrameBody::Open(OpenInfo {
            client: format!("127.0.0.1:{}", 40_000 + conn),
            proxy_id: "p1".into(),
            upstream: "127.0.0.1:9".into(),
            mid_session: false,
            opened_unix_ns: 0,
            ..OpenInfo::default()
        });
        frame(&mut w, conn, open);
    }
    let chunks = RECORDED_BYTES / CHUNK as u64;
    for i in 0..chunks {
        let body = FrameBody::Data {
            dir: Direction::C2s,
            payload: payload.clone(),
        };
        frame(&mut w, 1 + i % CONNECTIONS, body);
    }
    for conn in 1..=CONNECTIONS {
        let close = FrameBody::Close {
            reason: "client closed".into(),
        };
        frame(&mut w, conn, close);
    }
    w.finish(header.started_at_unix_ns + ts as i64, "generated", None)
        .expect("finish the big recording");
    std::fs::metadata(&path).unwrap().len()
}

/// A server that reads every connection to its end and discards the bytes;
/// returns its address and the count of bytes read.
async fn sink_server() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let total = Arc::new(AtomicU64::new(0));
    let count = total.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (addr, total)
}

/// Free bytes for unprivileged use on the filesystem of `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let st = rustix::fs::statvfs(dir).expect("statvfs of the temp dir");
    st.f_bavail * st.f_frsize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_replay_of_a_1gib_recording_keeps_the_agent_under_200mib() {
    let tmp = std::env::temp_dir();
    let free = free_bytes(&tmp);
    if free < DISK_NEEDED {
        skipped(
            "fast_replay_of_a_1gib_recording_keeps_the_agent_under_200mib",
            &format!(
                "{} has {} MiB free, the test needs {} MiB",
                tmp.display(),
                free >> 20,
                DISK_NEEDED >> 20
            ),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let size = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || write_big_recording(&data))
            .await
            .expect("writer thread")
    };
    assert!(size > RECORDED_BYTES, "file of {size} bytes");

    let agent = AgentProc::start("127.0.0.1", &data);
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let info = ctl
        .get_recording(pb::GetRecordingRequest { id: ID.into() })
        .await
        .expect("the agent lists the recording")
        .into_inner();
    assert_eq!(info.bytes_c2s, RECORDED_BYTES, "{info:?}");
    let (sink, received) = sink_server().await;
    let before_kib = proc_kib(pid, "VmHWM");

    // Sample RSS while the replay runs, as a second witness of the peak.
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let stop = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.is_cancelled() {
                peak = peak.max(proc_kib(pid, "VmRSS"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let report = replay_within(&mut ctl, replay_request(ID, sink, "fast"), REPLAY_LIMIT).await;
    sampling.cancel();
    let sampled_kib = sampler.await.unwrap();
    let peak_kib = proc_kib(pid, "VmHWM");
    eprintln!(
        "fast replay of {} MiB: {} ms; agent peak RSS {} MiB (VmHWM; {} MiB before the replay, \
         {} MiB the highest sampled)",
        size >> 20,
        report.duration_ms,
        peak_kib / 1024,
        before_kib / 1024,
        sampled_kib / 1024
    );
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(report.failed, 0, "{:?}", report.connections);
    assert_eq!(report.bytes_sent, RECORDED_BYTES);
    eventually(Duration::from_secs(20), "the sink read every byte", || {
        let n = received.load(Ordering::Relaxed);
        async move { n == RECORDED_BYTES }
    })
    .await;
    assert!(
        peak_kib < RSS_BOUND_KIB,
        "the agent's peak RSS was {} MiB replaying a {} MiB recording; the bound is {} MiB",
        peak_kib / 1024,
        size >> 20,
        RSS_BOUND_KIB / 1024
    );
    drop(agent);
    std::fs::remove_file(recording_path(&data, ID)).expect("delete the big recording");
}
