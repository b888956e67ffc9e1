//! Rotating a lane's segment: when the open one is old or large enough, the
//! next is opened, the old one sealed (footer written, handed to the OS)
//! and passed on to be made durable and announced beside the writer.

use std::time::{Duration, Instant, SystemTime};

use super::{Books, Finished, Header, Quota, RecordError, RecordingWriter, Sink, Syncer};
use crate::record::info::time_to_unix_ns;

/// Where a writer lane's segments come from, and where sealed ones go.
pub(crate) trait Segments<S: Sink>: Send {
    /// Whether a segment of `size` bytes opened at `opened` is due to be
    /// sealed at `now`.
    fn due(&self, size: u64, opened: Instant, now: Instant) -> bool;
    /// Shortest time between two flushes of a lane that ran out of work
    /// (see `Policy::with_idle_gap`); none by default.
    fn idle_flush_gap(&self) -> Duration {
        Duration::ZERO
    }
    /// Creates segment `index` of the lane, and its background syncer.
    ///
    /// # Errors
    /// It cannot be created.
    fn open(&mut self, index: u32) -> Result<(S, Option<Syncer>), RecordError>;
    /// Segment `index` is sealed: make it durable once `syncer`'s sync in
    /// flight is done, then announce it; never on the writer's path.
    fn sealed(&mut self, index: u32, sealed: Finished<S>, syncer: Option<Syncer>);
    /// The lane ended; `index` was its last segment (finished and synced).
    fn ended(&mut self, index: u32);
}

/// Seals the open segment and opens the next when `files` says it is due,
/// or at once when `force` (a flight recorder's dump). Called with nothing
/// staged, so the sealed segment holds every message taken so far.
pub(super) fn rotate<S: Sink>(
    writer: &mut RecordingWriter<S>,
    syncer: &mut Option<Syncer>,
    files: &mut dyn Segments<S>,
    header: &Header,
    quota: &Quota,
    books: &mut Books,
    force: bool,
) -> Result<(), RecordError> {
    let now = Instant::now();
    let opened = *books.opened.get_or_insert(now);
    if !force && !files.due(writer.position(), opened, now) {
        return Ok(());
    }
    let index = books.index + 1;
    let (sink, next_syncer) = files.open(index)?;
    // The header reaches the OS at once: a kill right after the rotation
    // leaves a segment that reads as empty, not one without a header.
    let next = RecordingWriter::new(sink, header)
        .and_then(|mut w| w.flush().map(|()| w))
        .map_err(RecordError::write)?;
    let old = std::mem::replace(writer, next);
    let old_syncer = std::mem::replace(syncer, next_syncer);
    let sealed = old
        .seal(time_to_unix_ns(SystemTime::now()), "rotated")
        .map_err(RecordError::write)?;
    quota.add(sealed.size.saturating_sub(books.counted));
    books.counted = 0;
    books.sealed_size += sealed.size;
    books.sealed.add(&sealed.footer.summary);
    books.known.clear();
    files.sealed(books.index, sealed, old_syncer);
    books.index = index;
    books.opened = Some(now);
    Ok(())
}
