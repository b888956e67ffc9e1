//! The object store for recordings (`--store`, issue 17 item 3), against a
//! real S3-compatible server on loopback (moto, `REEL_TEST_S3`; skipped
//! without it) and a `file://` store (always): segments and the index reach
//! the store, index last; another agent with an empty data directory lists
//! the recording and reads it back byte for byte; `record rm` removes it
//! there; a store that stops answering keeps segments on disk until it is
//! back; kill -9 mid-upload never leaves a recording that lists as complete.
//!
//! The recordings are segmented directories made by hand as the recorder
//! leaves them (`common::s3::segmented`); the agent finds them at start as
//! it finds uploads a restart cut short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::s3::{Moto, object, objects, segmented, segments_dir};
use common::{AgentProc, eventually, reelctl_async};
use reel::proto as pb;
use reel::store::RangedRead;

/// Longest an upload of a few segments may take on a busy machine.
const UPLOAD_WAIT: Duration = Duration::from_secs(90);

async fn listed(agent: &AgentProc) -> Vec<pb::RecordingInfo> {
    agent
        .client()
        .await
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings
}

fn location(r: &pb::RecordingInfo) -> &'static str {
    reel::wire::json::recording_location_word(r.location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_reach_the_store_index_last_and_another_agent_lists_reads_and_removes_them() {
    let Some(moto) = Moto::start_or_skip(
        "segments_reach_the_store_index_last_and_another_agent_lists_reads_and_removes_them",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    // 5 MiB segments: a reader fetches each in two ranges.
    let made = segmented(&dir_a, "r-one", "first", 3, 5 * 1024 * 1024);
    let a = moto.agent(&dir_a, "a", "fleet");
    let client = moto.client();

    eventually(UPLOAD_WAIT, "the index in the store", || async {
        object(&*client, "fleet/r-one/index.json").await.is_some()
    })
    .await;
    let stored = objects(&*client, "fleet/r-one").await;
    let mut want: Vec<(String, u64)> = made
        .iter()
        .map(|(name, bytes)| (format!("fleet/r-one/{name}"), bytes.len() as u64))
        .collect();
    let index_size = stored
        .iter()
        .find(|(k, _)| k.ends_with("index.json"))
        .unwrap()
        .1;
    want.push(("fleet/r-one/index.json".into(), index_size));
    want.sort();
    assert_eq!(stored, want, "one object per segment and the index");
    for (name, bytes) in &made {
        let got = object(&*client, &format!("fleet/r-one/{name}"))
            .await
            .unwrap();
        assert!(got == *bytes, "{name} is stored byte for byte");
    }
    // Complete in the store: the data directory was only the staging area.
    eventually(UPLOAD_WAIT, "the local copy released", || async {
        !segments_dir(&dir_a, "r-one").exists()
    })
    .await;
    let on_a = listed(&a).await;
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(location(&on_a[0]), "store");

    // Another agent on the same store, nothing on its disk.
    let b = moto.agent(&dir_b, "b", "fleet");
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    let r = &on_b[0];
    assert_eq!(
        (r.id.as_str(), r.label.as_str(), location(r)),
        ("r-one", "first", "store")
    );
    assert_eq!(
        r.size_bytes,
        made.iter().map(|(_, b)| b.len() as u64).sum::<u64>()
    );
    assert_eq!(r.connections, 3, "one connection per segment");
    assert_eq!(r.agent_name, "maker");
    let shown = reelctl_async(&["-a", &b.addr_str(), "record", "ls"]).await;
    shown.assert_code(0);
    assert!(shown.stdout.contains("WHERE"), "{}", shown.stdout);
    assert!(shown.stdout.contains("store"), "{}", shown.stdout);

    // Read back by ranged reads on a blocking thread, as replay reads.
    let handle = tokio::runtime::Handle::current();
    for (name, bytes) in made.clone() {
        let client = client.clone();
        let handle = handle.clone();
        let got = tokio::task::spawn_blocking(move || {
            let key = object_store::path::Path::from(format!("fleet/r-one/{name}"));
            let mut reader = RangedRead::new(client, key, bytes.len() as u64, handle);
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got == bytes
        })
        .await
        .unwrap();
        assert!(got, "a ranged read gives the segment back");
    }

    // `record rm` on either agent removes it from the store.
    let rm = reelctl_async(&["-a", &b.addr_str(), "record", "rm", "r-one"]).await;
    rm.assert_code(0);
    assert!(objects(&*client, "fleet/r-one").await.is_empty());
    assert!(listed(&a).await.is_empty());
    assert!(listed(&b).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_keeps_segments_on_disk_until_it_is_back() {
    let Some(mut moto) =
        Moto::start_or_skip("a_store_that_stops_answering_keeps_segments_on_disk_until_it_is_back")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let made = segmented(&dir, "r-wait", "waits", 2, 256 * 1024);
    moto.pause();
    // The start-up check waits for its bound, warns and goes on.
    let a = moto.agent(&dir, "a", "p");
    eventually(UPLOAD_WAIT, "a failed upload retried", || async {
        a.log().contains("retrying")
    })
    .await;
    assert!(a.log().contains("not reachable now"), "{}", a.log());
    for (name, bytes) in &made {
        let local = std::fs::read(segments_dir(&dir, "r-wait").join(name)).unwrap();
        assert!(local == *bytes, "{name} waits on disk, whole");
    }
    moto.resume();
    let client = moto.client();
    eventually(
        UPLOAD_WAIT,
        "the recording complete in the store",
        || async { object(&*client, "p/r-wait/index.json").await.is_some() },
    )
    .await;
    for (name, bytes) in &made {
        let got = object(&*client, &format!("p/r-wait/{name}")).await.unwrap();
        assert!(got == *bytes, "{name} uploaded once the store was back");
    }
    eventually(UPLOAD_WAIT, "the local copy released", || async {
        !segments_dir(&dir, "r-wait").exists()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_never_leaves_a_recording_listed_complete() {
    let Some(mut moto) =
        Moto::start_or_skip("kill_9_mid_upload_never_leaves_a_recording_listed_complete")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let made = segmented(&dir_a, "r-cut", "cut", 8, 2 * 1024 * 1024);
    let client = moto.client();
    let mut a = moto.agent(&dir_a, "a", "k");
    eventually(UPLOAD_WAIT, "a first segment in the store", || async {
        objects(&*client, "k/r-cut")
            .await
            .iter()
            .any(|(k, _)| k.ends_with(".reel"))
    })
    .await;
    // Freeze the store so the upload is surely mid-way, kill the agent,
    // then let the store serve whatever was already sent to it.
    moto.pause();
    a.kill9();
    moto.resume();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = objects(&*client, "k/r-cut").await;
    if stored.iter().any(|(k, _)| k.ends_with("index.json")) {
        // Only possible if every segment was already whole in the store.
        for (name, bytes) in &made {
            let key = format!("k/r-cut/{name}");
            assert!(
                stored.contains(&(key.clone(), bytes.len() as u64)),
                "the index is there, so {key} must be: {stored:?}"
            );
        }
    }
    let b = moto.agent(&dir_b, "b", "k");
    let on_b = listed(&b).await;
    let complete = object(&*client, "k/r-cut/index.json").await.is_some();
    assert_eq!(on_b.len(), usize::from(complete), "{on_b:?}");

    // The restarted agent finishes the upload it was cut in.
    let _a = moto.agent(&dir_a, "a", "k");
    eventually(
        UPLOAD_WAIT,
        "the cut upload resumed and complete",
        || async { object(&*client, "k/r-cut/index.json").await.is_some() },
    )
    .await;
    for (name, bytes) in &made {
        let got = object(&*client, &format!("k/r-cut/{name}")).await.unwrap();
        assert!(got == *bytes, "{name} whole after the resume");
    }
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1);
    assert_eq!(location(&on_b[0]), "store");
}

/// The same flow on a `file://` store (a shared mount), with no server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_is_shared_by_two_agents() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b, shared) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("shared"),
    );
    let made = segmented(&dir_a, "r-file", "on a mount", 2, 100 * 1024);
    let url = format!("file://{}", shared.display());
    let a = AgentProc::start_with("127.0.0.1:0", &dir_a, "a", &["--store", &url]);
    eventually(UPLOAD_WAIT, "the index on the mount", || async {
        shared.join("r-file/index.json").exists()
    })
    .await;
    for (name, bytes) in &made {
        let got = std::fs::read(shared.join("r-file").join(name)).unwrap();
        assert!(got == *bytes, "{name} copied byte for byte");
    }
    let b = AgentProc::start_with("127.0.0.1:0", &dir_b, "b", &["--store", &url]);
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(
        (on_b[0].label.as_str(), location(&on_b[0])),
        ("on a mount", "store")
    );
    let got = b
        .client()
        .await
        .get_recording(pb::GetRecordingRequest {
            id: "r-file".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(location(&got), "store");
    let rm = reelctl_async(&["-a", &a.addr_str(), "--json", "record", "rm", "r-file"]).await;
    rm.assert_code(0);
    assert!(!shared.join("r-file/index.json").exists());
    assert!(listed(&b).await.is_empty());
}

#[tokio::test]
async fn a_bad_store_is_refused_at_start_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, env, says) in [
        (
            vec!["--store", "bucket-without-scheme"],
            vec![],
            "invalid --store",
        ),
        (
            vec!["--store", "http://example.com/x"],
            vec![],
            "not a store for recordings",
        ),
        (
            vec!["--store", "s3://b/p"],
            vec![("AWS_ACCESS_KEY_ID", "k")],
            "AWS_SECRET_ACCESS_KEY is not",
        ),
    ] {
        let out = run_agent(tmp.path(), &args, &env);
        out.assert_code(1);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    // The config file's `store` is checked the same way.
    let config = tmp.path().join("agent.toml");
    std::fs::write(&config, "store = \"ftp://x/y\"\n").unwrap();
    let out = run_agent(tmp.path(), &["--config", config.to_str().unwrap()], &[]);
    out.assert_code(1);
    assert!(out.stderr.contains("store:"), "{}", out.stderr);
}

fn run_agent(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> common::CtlOutput {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().copied());
    common::run_bounded(&mut cmd, Duration::from_secs(30), "reel-agent")
}
