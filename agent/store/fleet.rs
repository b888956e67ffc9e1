//! The fleet's recordings as one agent lists them: its own (in its data
//! directory) and every recording complete in the shared store, each once,
//! with where it lives.

use std::collections::HashMap;

use crate::domain::RecordingInfo;

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

/// Local recordings and stored ones, each id once (the local info wins:
/// it is live while the recording is written), oldest first.
pub fn merge(local: Vec<RecordingInfo>, stored: Vec<RecordingInfo>) -> Vec<Listed> {
    let mut stored: HashMap<String, RecordingInfo> =
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
    all.extend(stored.into_values().map(|info| Listed {
        info,
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
    use crate::format::Index;
    use crate::record::from_index;
    use crate::store::fixtures;

    fn index(id: &str, started_ns: i64) -> Index {
        fixtures::index(id, "x", started_ns)
    }

    #[test]
    fn each_recording_once_with_where_it_lives() {
        let mut local = from_index(&index("a", 2_000_000_000));
        local.size_bytes = 99;
        let listed = merge(
            vec![local],
            vec![
                from_index(&index("b", 1_000_000_000)),
                from_index(&index("a", 2_000_000_000)),
            ],
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
