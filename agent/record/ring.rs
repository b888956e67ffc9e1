//! A flight recorder's ring: a recording that keeps only its last window of
//! traffic. Its lanes rotate often (an eighth of the window), and whole
//! sealed segments older than the window are dropped from the front; the
//! open segments always stay. Dropping pauses while a dump copies the ring.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::quota::Quota;

/// The shortest window a ring may have.
pub const MIN_RING: Duration = Duration::from_secs(1);
/// The longest: a day, past which a ring is a recording that should be one.
pub const MAX_RING: Duration = Duration::from_secs(24 * 3600);

/// A sealed segment the ring holds.
#[derive(Debug)]
struct Kept {
    name: String,
    sealed: Instant,
    size: u64,
}

/// The sealed segments of one ring, oldest first, shared by its lanes.
#[derive(Debug)]
pub(crate) struct Ring {
    pub(crate) window: Duration,
    /// Held briefly: lanes add to it as they seal.
    kept: Mutex<VecDeque<Kept>>,
    /// Held by a dump while it copies, and by pruning: nothing is dropped
    /// under a dump, and the lanes never wait for either.
    copying: Mutex<()>,
    /// Bytes of the sealed segments kept.
    kept_bytes: AtomicU64,
    quota: Arc<Quota>,
}

impl Ring {
    pub(crate) fn new(window: Duration, quota: Arc<Quota>) -> Self {
        Self {
            window,
            kept: Mutex::new(VecDeque::new()),
            copying: Mutex::new(()),
            kept_bytes: AtomicU64::new(0),
            quota,
        }
    }

    /// How old a ring's segments get before they are sealed: fine enough
    /// that a dump holds the window give or take one segment.
    pub(crate) fn segment_age(&self, max: Duration) -> Duration {
        (self.window / 8).clamp(Duration::from_millis(100), max)
    }

    /// Segment `name` of `size` bytes was sealed just now (told by the lane
    /// at once, so a dump that follows a seal sees it).
    pub(crate) fn sealed(&self, name: String, size: u64) {
        self.kept_bytes.fetch_add(size, Ordering::Relaxed);
        self.lock().push_back(Kept {
            name,
            sealed: Instant::now(),
            size,
        });
    }

    /// Drops the sealed segments of `dir` that ended before the window.
    pub(crate) fn prune(&self, dir: &Path) {
        let _copying = self.copying.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        loop {
            let front = {
                let mut kept = self.lock();
                match kept.front() {
                    Some(k) if now.saturating_duration_since(k.sealed) > self.window => {
                        kept.pop_front()
                    }
                    _ => None,
                }
            };
            let Some(front) = front else {
                break;
            };
            let path = dir.join(&front.name);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    self.quota.sub(front.size);
                    self.kept_bytes.fetch_sub(front.size, Ordering::Relaxed);
                    debug!(segment = %path.display(), "flight recorder dropped a segment past its window");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    warn!(segment = %path.display(), error = %e, "cannot drop a segment past the window");
                    self.lock().push_front(front);
                    break;
                }
            }
        }
    }

    /// Bytes of the sealed segments the ring holds now.
    pub(crate) fn kept_bytes(&self) -> u64 {
        self.kept_bytes.load(Ordering::Relaxed)
    }

    /// Runs `f` over the names of the sealed segments, dropping none until
    /// it returns (a dump copying them).
    pub(crate) fn with_sealed<T>(&self, f: impl FnOnce(Vec<String>) -> T) -> T {
        let _copying = self.copying.lock().unwrap_or_else(|e| e.into_inner());
        let names = self.lock().iter().map(|k| k.name.clone()).collect();
        f(names)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}
