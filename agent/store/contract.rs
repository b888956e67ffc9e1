//! The two seams between recordings and the store, with the shapes the
//! segmented-recordings work pins (issue 17, item 1): a recorder tells an
//! observer when a segment is sealed and when the recording is complete,
//! and readers take a recording's segments from a source. Stand-ins until
//! `crate::record::SegmentObserver` and `crate::format::SegmentSource`
//! exist; then these become re-exports of those.

use std::io::Read;
use std::path::Path;

/// Told by the recorder as a segmented recording's files become final.
pub trait SegmentObserver: Send + Sync + std::fmt::Debug {
    /// A segment of `recording_id` is sealed: `dir.join(name)` will not change again.
    fn sealed(&self, recording_id: &str, dir: &Path, name: &str);
    /// The recording ended and `dir/index.json` is written (after every `sealed`).
    fn complete(&self, recording_id: &str, dir: &Path);
}

/// Where a segmented recording's segment files come from (a local dir, an object store).
pub trait SegmentSource: Send + Sync + std::fmt::Debug {
    /// The segment file names.
    fn names(&self) -> std::io::Result<Vec<String>>;
    /// One segment, read from its start.
    fn open(&self, name: &str) -> std::io::Result<Box<dyn Read + Send>>;
}
