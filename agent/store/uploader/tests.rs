//! Tests of `uploader`.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A data directory with recording `id`'s segments (named, with their
/// bytes) and its index; and a `file://` store beside it.
fn setup(segments: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf, Arc<Store>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").join("r1.segments");
    std::fs::create_dir_all(&dir).unwrap();
    let mut entries = Vec::new();
    for (name, bytes) in segments {
        std::fs::write(dir.join(name), bytes).unwrap();
        entries.push(serde_json::json!({"name": name, "size": bytes.len()}));
    }
    let index = serde_json::json!({"id": "r1", "complete": true, "segments": entries});
    std::fs::write(dir.join(INDEX_NAME), index.to_string()).unwrap();
    let url = format!("file://{}", tmp.path().join("store").display());
    let store = Store::open(&url).unwrap();
    (tmp, dir, store)
}

fn counting() -> (Arc<AtomicUsize>, Release) {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    (
        n,
        Box::new(move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn sealed_segments_go_up_then_the_index_then_the_copy_is_released() {
    let (tmp, dir, store) = setup(&[("00-000000.reel", b"one"), ("01-000000.reel", b"two")]);
    let (released, release) = counting();
    let cancel = CancellationToken::new();
    let up = Uploader::start(store.clone(), release, Box::new(|_| false), cancel.clone());
    up.sealed("r1", &dir, "00-000000.reel");
    up.sealed("r1", &dir, "01-000000.reel");
    until("both segments", || up.counts().segments == 2).await;
    assert!(
        store.index("r1").await.unwrap().is_none(),
        "no index before complete"
    );
    up.complete("r1", &dir);
    until("the release", || released.load(Ordering::SeqCst) == 1).await;
    let index = store.index("r1").await.unwrap().unwrap();
    assert_eq!(index.size(), 6);
    let counts = up.counts();
    assert_eq!((counts.segments, counts.recordings), (2, 1));
    assert!(!up.is_pending("r1"));
    let stored = tmp.path().join("store").join("r1");
    assert_eq!(
        std::fs::read(stored.join("01-000000.reel")).unwrap(),
        b"two"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_segment_gone_before_its_upload_leaves_no_index() {
    let (_tmp, dir, store) = setup(&[("00-000000.reel", b"one"), ("00-000001.reel", b"two")]);
    std::fs::remove_file(dir.join("00-000001.reel")).unwrap();
    let (released, release) = counting();
    let cancel = CancellationToken::new();
    let up = Uploader::start(store.clone(), release, Box::new(|_| false), cancel.clone());
    up.complete("r1", &dir);
    until("the upload given up", || !up.is_pending("r1")).await;
    assert!(store.index("r1").await.unwrap().is_none());
    assert_eq!(released.load(Ordering::SeqCst), 0, "the local copy stays");
    cancel.cancel();
}

#[tokio::test]
async fn resume_finds_ended_recordings_and_skips_a_ring_s_sealed_segments() {
    let (tmp, dir, store) = setup(&[("00-000000.reel", b"one")]);
    let (released, release) = counting();
    let cancel = CancellationToken::new();
    let up = Uploader::start(
        store.clone(),
        release,
        Box::new(|id| id == "ring"),
        cancel.clone(),
    );
    up.sealed("ring", &dir, "00-000000.reel");
    assert!(
        !up.is_pending("ring"),
        "a ring's sealed segment is not queued"
    );
    assert_eq!(up.resume(&tmp.path().join("data")), 1);
    until("the release", || released.load(Ordering::SeqCst) == 1).await;
    assert!(store.index("r1").await.unwrap().is_some());
    // Already complete in the store: a second resume only releases.
    assert_eq!(up.resume(&tmp.path().join("data")), 1);
    until("the second release", || {
        released.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(up.counts().segments, 1, "nothing sent twice");
    cancel.cancel();
}
