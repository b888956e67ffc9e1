//! Test fixtures of the store's modules: an index as the uploader puts it.

use crate::format::{Header, Index, IndexEntry};

/// A complete recording `id` of one 10-byte segment, labelled `label`,
/// started at `started_ns`.
pub(crate) fn index(id: &str, label: &str, started_ns: i64) -> Index {
    Index {
        id: id.into(),
        complete: true,
        header: Header {
            id: id.into(),
            label: label.into(),
            started_at_unix_ns: started_ns,
            ..Header::default()
        },
        segments: vec![IndexEntry {
            name: "00-000000.reel".into(),
            lane: 0,
            index: 0,
            size: 10,
        }],
        ..Index::default()
    }
}
