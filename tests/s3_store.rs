//! The object store for recordings (`--store`, issue 17 item 3), against a
//! real S3-compatible server on loopback (moto, `REEL_TEST_S3`; skipped
//! without it): a recording's segments and its index reach the store,
//! index last, and the local copy is released; another agent with an empty
//! data directory lists it, pulls it and replays it streaming from the
//! store, byte for byte as a local replay of the pulled file; `record rm`
//! removes it there; a store that stops answering mid-recording keeps
//! segments on disk until it is back, and past the disk quota ends the
//! recording with a marker; kill -9 mid-upload never leaves a recording
//! that lists as complete. A recording cut by kill -9 is
//! tests/s3_store_crash.rs; stores without a server (`file://`, bad URLs)
//! are tests/file_store.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::s3::{
    Moto, UPLOAD_WAIT, assert_stored_whole, capture_server, listed, location, object, objects,
    record, segments_dir, sorted, wait_stored_whole,
};
use common::segmented::SMALL_SEGMENTS;
use common::served::lock;
use common::{
    AgentProc, eventually, reelctl_async, replays::replay_request, replays::replay_within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_reaches_the_store_and_another_agent_lists_pulls_replays_and_removes_it() {
    let Some(moto) = Moto::start_or_skip(
        "a_recording_reaches_the_store_and_another_agent_lists_pulls_replays_and_removes_it",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b, dir_c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let a = moto.agent(&dir_a, "a", "fleet", &SMALL_SEGMENTS);
    let rec = record(&a, 4, 256 * 1024, || async {}).await;
    let id = rec.id.clone();
    let client = moto.client();
    let prefix = format!("fleet/{id}");
    wait_stored_whole(&*client, &prefix, UPLOAD_WAIT, "the index in the store").await;
    // Complete in the store: the data directory was only the staging area.
    eventually(UPLOAD_WAIT, "the local copy released", || async {
        !segments_dir(&dir_a, &id).exists()
    })
    .await;
    let on_a = listed(&a).await;
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(location(&on_a[0]), "store");

    // Another agent on the same store, nothing on its disk.
    let b = moto.agent(&dir_b, "b", "fleet", &[]);
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    let r = &on_b[0];
    assert_eq!(
        (r.id.as_str(), r.label.as_str(), location(r)),
        (id.as_str(), "stored", "store")
    );
    assert_eq!(
        (
            r.connections,
            r.bytes_c2s,
            r.bytes_s2c,
            r.agent_name.as_str()
        ),
        (rec.connections, rec.bytes_c2s, rec.bytes_s2c, "a")
    );
    let shown = reelctl_async(&["-a", &b.addr_str(), "record", "ls"]).await;
    shown.assert_code(0);
    assert!(
        shown.stdout.contains("WHERE") && shown.stdout.contains("store"),
        "{}",
        shown.stdout
    );

    // Pulled from the store as one portable file, pushed to a third agent
    // without a store: a local replay there and a replay streamed from the
    // store on B send the same bytes on every connection.
    let pulled = tmp.path().join("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    let out = reelctl_async(&[
        "-a",
        &b.addr_str(),
        "record",
        "pull",
        &id,
        "-o",
        pulled.to_str().unwrap(),
    ])
    .await;
    out.assert_code(0);
    let file = pulled.join(format!("{id}.reel"));
    let c = AgentProc::start("127.0.0.1", &dir_c);
    reelctl_async(&[
        "-a",
        &c.addr_str(),
        "record",
        "push",
        file.to_str().unwrap(),
    ])
    .await
    .assert_code(0);
    let (local_seen, local_target) = capture_server().await;
    let (store_seen, store_target) = capture_server().await;
    let local = replay_within(
        &mut c.client().await,
        replay_request(&id, local_target, "fast"),
        Duration::from_secs(60),
    )
    .await;
    let streamed = replay_within(
        &mut b.client().await,
        replay_request(&id, store_target, "fast"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        common::replays::state(&streamed),
        "finished",
        "{streamed:?}"
    );
    assert_eq!(common::replays::state(&local), "finished", "{local:?}");
    eventually(
        Duration::from_secs(20),
        "both targets saw every connection end",
        || async { local_seen.state().len() == 4 && store_seen.state().len() == 4 },
    )
    .await;
    let (l, s) = (sorted(&local_seen.state()), sorted(&store_seen.state()));
    assert!(
        l == s,
        "the replay from the store sent what the local one sent"
    );
    assert_eq!(l.iter().map(Vec::len).sum::<usize>() as u64, rec.bytes_c2s);

    // `record rm` on either agent removes it from the store.
    reelctl_async(&["-a", &b.addr_str(), "record", "rm", &id])
        .await
        .assert_code(0);
    assert!(objects(&*client, &prefix).await.is_empty());
    assert!(listed(&a).await.is_empty());
    assert!(listed(&b).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_mid_recording_gets_the_segments_when_it_is_back() {
    let Some(moto) = Moto::start_or_skip(
        "a_store_that_stops_answering_mid_recording_gets_the_segments_when_it_is_back",
    ) else {
        return;
    };
    let moto = Arc::new(Mutex::new(moto));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let a = lock(&moto).agent(&dir, "a", "p", &SMALL_SEGMENTS);
    let paused = moto.clone();
    // Half the traffic, then the store stops answering, then the rest.
    let rec = record(&a, 2, 512 * 1024, || async move { lock(&paused).pause() }).await;
    let id = rec.id.clone();
    eventually(UPLOAD_WAIT, "a failed upload retried", || async {
        a.log().contains("retrying")
    })
    .await;
    let local = segments_dir(&dir, &id);
    assert!(
        local.join("index.json").exists(),
        "the recording ended with its index on disk"
    );
    let waiting = std::fs::read_dir(&local).unwrap().count();
    assert!(waiting > 2, "segments wait on disk: {waiting} files");
    uploaded_once_back(&moto, &local, &format!("p/{id}")).await;
}

/// Lets the paused store answer again and waits until the recording whose
/// local copy is `local` is whole in it under `prefix`, and that copy is
/// released.
async fn uploaded_once_back(moto: &Mutex<Moto>, local: &std::path::Path, prefix: &str) {
    lock(moto).resume();
    let client = lock(moto).client();
    wait_stored_whole(
        &*client,
        prefix,
        UPLOAD_WAIT,
        "the recording complete in the store once it is back",
    )
    .await;
    eventually(UPLOAD_WAIT, "the local copy released", || async {
        !local.exists()
    })
    .await;
}

/// With the store away, sealed segments wait on disk, counted by the disk
/// quota; past it the recording ends with its marker as on a full disk
/// (the traffic goes on), and what it kept reaches the store once the
/// store is back, listed there as ended by the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_away_past_the_disk_quota_ends_the_recording_and_uploads_it_when_back() {
    let Some(moto) = Moto::start_or_skip(
        "a_store_away_past_the_disk_quota_ends_the_recording_and_uploads_it_when_back",
    ) else {
        return;
    };
    let moto = Mutex::new(moto);
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut args = SMALL_SEGMENTS.to_vec();
    args.extend(["--max-disk", "600KB"]);
    let a = lock(&moto).agent(&dir_a, "a", "q", &args);
    lock(&moto).pause();
    // 2 MiB each way on each of 2 connections: far past the quota. Every
    // round trip is checked by `record`, so the traffic is whole.
    let rec = record(&a, 2, 2 * 1024 * 1024, || async {}).await;
    let id = rec.id.clone();
    assert!(rec.error.contains("--max-disk"), "{rec:?}");
    assert!(
        rec.bytes_c2s < 2 * 1024 * 1024,
        "the recording ended while the traffic went on: {rec:?}"
    );
    let local = segments_dir(&dir_a, &id);
    let held: u64 = std::fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        held <= 600_000 + 2 * 64 * 1024 + 16 * 1024,
        "the segments waiting on disk stayed near the quota: {held} bytes"
    );
    assert!(
        local.join("index.json").exists(),
        "the recording ended, its index on disk"
    );

    uploaded_once_back(&moto, &local, &format!("q/{id}")).await;
    let b = lock(&moto).agent(&dir_b, "b", "q", &[]);
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    let r = &on_b[0];
    assert_eq!(location(r), "store");
    assert!(r.error.contains("disk quota"), "{r:?}");
    assert_eq!(
        (r.bytes_c2s, r.bytes_s2c, r.lost_bytes),
        (rec.bytes_c2s, rec.bytes_s2c, rec.lost_bytes),
        "listed from the store as the agent that made it ended it"
    );
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
    let client = moto.client();
    let mut a = moto.agent(&dir_a, "a", "k", &SMALL_SEGMENTS);
    let rec = record(&a, 2, 1024 * 1024, || async {}).await;
    let prefix = format!("k/{}", rec.id);
    // Freeze the store with the upload under way, kill the agent, then let
    // the store serve whatever had reached it.
    eventually(UPLOAD_WAIT, "segments arriving in the store", || async {
        objects(&*client, &prefix).await.len() >= 2
    })
    .await;
    moto.pause();
    a.kill9();
    moto.resume();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let complete = object(&*client, &format!("{prefix}/index.json"))
        .await
        .is_some();
    eprintln!("after the kill: complete in the store = {complete}");
    if complete {
        // Only possible if every segment was whole in the store already.
        assert_stored_whole(&*client, &prefix).await;
    }
    let b = moto.agent(&dir_b, "b", "k", &[]);
    let on_b = listed(&b).await;
    assert_eq!(
        on_b.len(),
        usize::from(complete),
        "listed only if complete: {on_b:?}"
    );

    // The restarted agent finishes the upload it was cut in.
    let _a = moto.agent(&dir_a, "a", "k", &[]);
    wait_stored_whole(
        &*client,
        &prefix,
        UPLOAD_WAIT,
        "the cut upload resumed and complete",
    )
    .await;
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1);
    assert_eq!(location(&on_b[0]), "store");
    assert_eq!(on_b[0].bytes_c2s, rec.bytes_c2s);
}
