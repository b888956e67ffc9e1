//! Why a recording ended early or could not be finished. Kept typed up to
//! the catalog, which stores the message in the recording's listing; the
//! text is what `record ls` and the Failed event show.

use std::sync::Arc;

use super::quota::LimitError;
use crate::format::FormatError;

/// A recorder's failure. Cloned into the live listing and the stop reply,
/// hence the `Arc`s around errors that are not `Clone`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// `--max-disk` or `--min-free` reached: the proxies keep forwarding.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Writing or syncing the file failed (disk full, I/O error).
    #[error("write failed: {}", crate::error::with_causes(.0.as_ref()))]
    Write(Arc<FormatError>),
    /// The recording had ended for `why`, and its footer failed as well;
    /// the file reads back as recovered up to its last complete frame.
    #[error("{why}; the footer could not be written either: {footer}")]
    FooterAfter {
        why: Box<RecordError>,
        footer: Arc<FormatError>,
    },
    /// Writing the footer of a recording stopped normally failed.
    #[error("{0}")]
    Finish(Arc<FormatError>),
    /// The recorder thread ended without answering the stop request.
    #[error("the recorder ended without finishing the file")]
    NoReply,
}

impl RecordError {
    pub(crate) fn write(e: FormatError) -> Self {
        RecordError::Write(Arc::new(e))
    }
}
