//! Uploads against the disk limits, on a real agent: bytes count against
//! `--max-disk` as they arrive whatever size the client declared, a file
//! with a damaged frame is refused, and either refusal leaves nothing on
//! disk; an upload's temporary file left by a crash is removed at start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use reel::format::{Header, encode_header};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use common::disk::SmallDisk;
use common::*;

/// Bytes per data message of the uploads below.
const CHUNK: usize = 256 * 1024;

/// The encoded header of an empty recording `id`: a file that reads as
/// truncated at a frame boundary (accepted, as recovered).
fn header_only(id: &str) -> Vec<u8> {
    let header = Header {
        id: id.into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        ..Header::default()
    };
    let mut out = Vec::new();
    encode_header(&header, &mut out).unwrap();
    out
}

/// Uploads `chunks` (the first names the file `<id>.reel` and declares
/// `size`), then the SHA-256 of them all.
async fn upload(
    ctl: &mut ReelClient<Channel>,
    id: &str,
    size: u64,
    chunks: Vec<Vec<u8>>,
) -> Result<pb::RecordingInfo, tonic::Status> {
    let mut hash = Sha256::new();
    let mut msgs: Vec<pb::FileChunk> = chunks
        .into_iter()
        .map(|data| {
            hash.update(&data);
            pb::FileChunk {
                data,
                ..Default::default()
            }
        })
        .collect();
    msgs[0].name = format!("{id}.reel");
    msgs[0].size = size;
    msgs.push(pb::FileChunk {
        sha256: hash.finalize().to_vec(),
        ..Default::default()
    });
    ctl.upload_recording(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner())
}

/// `n` pseudo-random bytes (xorshift, fixed seed).
fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Files in the data directory other than the agent's own.
fn stray_files(data: &Path) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "agent-id" && n != "replays")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_past_the_disk_quota_is_stopped_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &data,
        "upload-quota",
        &["--max-disk", "1MiB"],
    );
    let mut ctl = agent.client().await;

    // Declares 0 bytes, then sends a valid header and 50 MiB of garbage.
    let id = "20261207-002900-9a9a";
    let mut chunks = vec![header_only(id)];
    chunks.extend((0..200).map(|i| garbage(CHUNK, i + 1)));
    let err = upload(&mut ctl, id, 0, chunks).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("--max-disk"), "{err}");
    assert!(stray_files(&data).is_empty(), "{:?}", stray_files(&data));
    let list = ctl
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings;
    assert!(list.is_empty(), "{list:?}");

    // The refused bytes left the quota: a small upload still fits.
    let ok = "20261207-002901-9b9b";
    let info = upload(&mut ctl, ok, 0, vec![header_only(ok)])
        .await
        .unwrap();
    assert_eq!(info.status, pb::RecordingStatus::Recovered as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_a_damaged_frame_is_refused_and_a_cut_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;

    // A header, then garbage under every limit.
    let id = "20261207-002902-9c9c";
    let mut file = header_only(id);
    file.extend(garbage(100_000, 7));
    let err = upload(&mut ctl, id, file.len() as u64, vec![file])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("corrupted frame"), "{err}");

    // A finished recording (valid footer) with one payload byte flipped.
    let known = common::known::write_known(dir.path());
    let mut file = std::fs::read(&known).unwrap();
    let at = file
        .windows(5)
        .position(|w| w == b"hello")
        .expect("the payload is in the file");
    file[at] ^= 0x20;
    let err = upload(&mut ctl, common::known::ID, file.len() as u64, vec![file])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("corrupted frame"), "{err}");
    assert!(stray_files(&data).is_empty(), "{:?}", stray_files(&data));

    // Cut inside a frame: accepted as recovered, as before.
    let mut file = std::fs::read(&known).unwrap();
    file.truncate(file.len() / 2);
    let info = upload(&mut ctl, common::known::ID, file.len() as u64, vec![file])
        .await
        .unwrap();
    assert_eq!(info.status, pb::RecordingStatus::Recovered as i32);
    assert!(info.truncated_bytes > 0, "{info:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_by_a_crash_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Larger than the quota: were it still counted, nothing would fit.
    std::fs::write(data.join(".upload-x.tmp"), garbage(2 << 20, 3)).unwrap();
    let agent = AgentProc::start_with("127.0.0.1:0", &data, "stale", &["--max-disk", "1MiB"]);
    let mut ctl = agent.client().await;
    assert!(!data.join(".upload-x.tmp").exists(), "removed at start");
    assert!(
        agent.log().contains("removed an upload left by a crash"),
        "{}",
        agent.log()
    );
    let id = "20261207-002903-9d9d";
    let info = upload(&mut ctl, id, 0, vec![header_only(id)])
        .await
        .unwrap();
    assert_eq!(info.status, pb::RecordingStatus::Recovered as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_eats_the_free_space_floor_is_stopped() {
    if !common::needs::enabled(
        common::needs::Need::Root,
        "an_upload_that_eats_the_free_space_floor_is_stopped",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), "8m");
    let data = disk.0.join("data");
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "floor", &["--min-free", "4MiB"]);
    let mut ctl = agent.client().await;

    // Room at the start (about 8 MiB free), not for 6 MiB more.
    let id = "20261207-002904-9e9e";
    let mut chunks = vec![header_only(id)];
    chunks.extend((0..24).map(|i| garbage(CHUNK, i + 1)));
    let err = upload(&mut ctl, id, 0, chunks).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("--min-free"), "{err}");
    assert!(stray_files(&data).is_empty(), "{:?}", stray_files(&data));
    agent.kill9();
    drop(disk);
}
