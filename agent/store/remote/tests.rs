use super::*;
use crate::format::{Header, IndexEntry};

fn index_bytes(id: &str, label: &str) -> Vec<u8> {
    let index = Index {
        id: id.into(),
        complete: true,
        header: Header {
            id: id.into(),
            label: label.into(),
            ..Header::default()
        },
        segments: vec![IndexEntry {
            name: "00-000000.reel".into(),
            lane: 0,
            index: 0,
            size: 10,
        }],
        ..Index::default()
    };
    serde_json::to_vec(&index).unwrap()
}

async fn labels(store: &Store) -> Vec<(String, String)> {
    let mut got: Vec<_> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.label))
        .collect();
    got.sort();
    got
}

fn pair(id: &str, label: &str) -> (String, String) {
    (id.to_owned(), label.to_owned())
}

#[tokio::test]
async fn each_index_is_read_once_and_a_recording_that_leaves_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&format!("file://{}", root.display())).unwrap();
    store
        .put_index("r1", index_bytes("r1", "first"))
        .await
        .unwrap();
    store
        .put_index("r2", index_bytes("r2", "other"))
        .await
        .unwrap();
    // A recording whose segments are there but not its index yet.
    std::fs::create_dir_all(root.join("r3")).unwrap();
    std::fs::write(root.join("r3/00-000000.reel"), b"x").unwrap();
    assert_eq!(
        labels(&store).await,
        vec![pair("r1", "first"), pair("r2", "other")]
    );

    // An index in the store never changes, so it is not read again: one
    // changed behind the agent's back still lists as it was read.
    std::fs::write(root.join("r1/index.json"), index_bytes("r1", "changed")).unwrap();
    // The one still being uploaded is read until its index comes.
    store
        .put_index("r3", index_bytes("r3", "late"))
        .await
        .unwrap();
    assert_eq!(
        labels(&store).await,
        vec![pair("r1", "first"), pair("r2", "other"), pair("r3", "late")]
    );

    // Removed by another agent: forgotten, and read anew if it comes back.
    std::fs::remove_dir_all(root.join("r1")).unwrap();
    assert_eq!(
        labels(&store).await,
        vec![pair("r2", "other"), pair("r3", "late")]
    );
    store
        .put_index("r1", index_bytes("r1", "again"))
        .await
        .unwrap();
    assert_eq!(labels(&store).await[0], pair("r1", "again"));

    // Removed by this agent: forgotten at once.
    assert!(store.delete("r2").await.unwrap());
    assert_eq!(
        labels(&store).await,
        vec![pair("r1", "again"), pair("r3", "late")]
    );
}
