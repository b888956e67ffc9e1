use super::*;
use crate::store::fixtures::index;

fn index_bytes(id: &str, label: &str) -> Vec<u8> {
    serde_json::to_vec(&index(id, label, 0)).unwrap()
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
async fn a_listing_shows_each_index_as_it_is_now() {
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
    // Read before and unchanged: listed as read (the store's listing says
    // the index is the same version).
    assert_eq!(
        labels(&store).await,
        vec![pair("r1", "first"), pair("r2", "other")]
    );

    // An index replaced is read again; one that arrives is read.
    store
        .put_index("r1", index_bytes("r1", "replaced"))
        .await
        .unwrap();
    store
        .put_index("r3", index_bytes("r3", "late"))
        .await
        .unwrap();
    assert_eq!(
        labels(&store).await,
        vec![
            pair("r1", "replaced"),
            pair("r2", "other"),
            pair("r3", "late")
        ]
    );

    // Another agent's delete removes the index first: with the segments
    // (or an empty directory) still there, the recording is gone.
    std::fs::remove_file(root.join("r3/index.json")).unwrap();
    assert_eq!(
        labels(&store).await,
        vec![pair("r1", "replaced"), pair("r2", "other")]
    );
    // This agent's delete: gone at once.
    assert!(store.delete("r2").await.unwrap());
    assert_eq!(labels(&store).await, vec![pair("r1", "replaced")]);
}
