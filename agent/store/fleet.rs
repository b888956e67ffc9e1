//! The fleet's recordings as one agent lists them: its own (in its data
//! directory) and every recording complete in the shared store, each once,
//! with where it lives.

use std::collections::HashMap;
use std::time::Duration;

use super::index::Index;
use crate::domain::{RecordingInfo, RecordingStatus};
use crate::record::unix_ns_to_time;

/// Where a listed recording lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Only in this agent's data directory (being written, being uploaded,
    /// or no store).
    Local,
    /// Only in the store (uploaded and released here, or another agent's).
    Store,
    /// In both.
    Both,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Store => "store",
            Self::Both => "both",
        }
    }
}

/// One line of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub info: RecordingInfo,
    pub location: Location,
}

/// What a listing shows of a recording from its index in the store.
pub fn info_of(index: &Index) -> RecordingInfo {
    let l = index.listing.clone().unwrap_or_default();
    RecordingInfo {
        id: index.id.clone(),
        label: l.label,
        status: if l.error.is_some() {
            RecordingStatus::Failed
        } else {
            RecordingStatus::Complete
        },
        started_at: unix_ns_to_time(l.started_at_unix_ns),
        duration: Duration::from_millis(l.duration_ms),
        size_bytes: index.size(),
        connections: l.connections,
        bytes_c2s: l.bytes_c2s,
        bytes_s2c: l.bytes_s2c,
        frames: l.frames,
        proxies: l.proxies,
        lost_bytes: l.lost_bytes,
        truncated_bytes: 0,
        error: l.error,
        agent_name: l.agent_name,
    }
}

/// Local recordings and stored ones, each id once (the local info wins:
/// it is live while the recording is written), oldest first.
pub fn merge(local: Vec<RecordingInfo>, stored: Vec<Index>) -> Vec<Listed> {
    let mut stored: HashMap<String, Index> =
        stored.into_iter().map(|i| (i.id.clone(), i)).collect();
    let mut all: Vec<Listed> = local
        .into_iter()
        .map(|info| {
            let location = if stored.remove(&info.id).is_some() {
                Location::Both
            } else {
                Location::Local
            };
            Listed { info, location }
        })
        .collect();
    all.extend(stored.values().map(|index| Listed {
        info: info_of(index),
        location: Location::Store,
    }));
    all.sort_by(|a, b| {
        a.info
            .started_at
            .cmp(&b.info.started_at)
            .then(a.info.id.cmp(&b.info.id))
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::{Listing, SegmentEntry};

    fn index(id: &str, started_ns: i64) -> Index {
        Index {
            id: id.into(),
            complete: true,
            segments: vec![SegmentEntry {
                name: "00-000000.reel".into(),
                lane: 0,
                index: 0,
                size: 10,
            }],
            listing: Some(Listing {
                started_at_unix_ns: started_ns,
                label: "x".into(),
                ..Listing::default()
            }),
            rest: serde_json::Map::new(),
        }
    }

    #[test]
    fn each_recording_once_with_where_it_lives() {
        let mut local = info_of(&index("a", 2_000_000_000));
        local.size_bytes = 99;
        let listed = merge(
            vec![local],
            vec![index("b", 1_000_000_000), index("a", 2_000_000_000)],
        );
        let got: Vec<_> = listed
            .iter()
            .map(|l| (l.info.id.as_str(), l.location, l.info.size_bytes))
            .collect();
        assert_eq!(
            got,
            vec![("b", Location::Store, 10), ("a", Location::Both, 99)]
        );
    }
}
