//! A recording in the store as readers take it: its segments, listed by its
//! index, each opened as a ranged reader (see `ranged`).

use std::io::Read;
use std::sync::Arc;

use tokio::runtime::Handle;

use super::ranged::RangedRead;
use super::remote::Store;
use crate::format::{FormatError, Index, SegmentSource};

/// The segments of one stored recording.
#[derive(Debug)]
pub struct StoreSource {
    store: Arc<Store>,
    index: Index,
    handle: Handle,
}

impl StoreSource {
    /// The source of the recording `index` describes; `handle` is the
    /// runtime the blocking readers fetch on.
    pub fn new(store: Arc<Store>, index: Index, handle: Handle) -> Self {
        Self {
            store,
            index,
            handle,
        }
    }
}

impl StoreSource {
    /// The recording's index as the store holds it.
    pub fn index_ref(&self) -> &Index {
        &self.index
    }
}

impl SegmentSource for StoreSource {
    fn names(&self) -> std::io::Result<Vec<String>> {
        Ok(self.index.segments.iter().map(|s| s.name.clone()).collect())
    }

    fn open(&self, name: &str) -> std::io::Result<Box<dyn Read + Send>> {
        let Some(segment) = self.index.segments.iter().find(|s| s.name == name) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "recording {} in the store has no segment {name:?}",
                    self.index.id
                ),
            ));
        };
        Ok(Box::new(RangedRead::new(
            self.store.object_store(),
            self.store.key(&self.index.id, name),
            segment.size,
            self.handle.clone(),
        )))
    }

    fn index(&self) -> Result<Option<Index>, FormatError> {
        Ok(Some(self.index.clone()))
    }
}
