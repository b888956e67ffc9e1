//! Uploads segmented recordings to the store as they are written: each
//! sealed segment as soon as the recorder seals it, the index last, so a
//! recording is complete in the store only once everything it names is
//! there. One task works through the queue in order; when the store fails
//! or is away it retries the same step with backoff while segments wait in
//! the data directory, where the disk quota (`--max-disk`) counts them, so
//! the local backlog is bounded by the quota and a recording that would
//! cross it ends with a marker as on a full disk. Once a recording is
//! complete in the store, its local copy is released (the data directory is
//! a staging area). Nothing is kept only in memory: after a crash or a
//! restart, `resume` finds what was cut short from the data directory.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::error::StoreError;
use super::index::{INDEX_NAME, parse_index};
use super::remote::Store;
use crate::format::SEGMENTS_EXT;
use crate::record::SegmentObserver;

/// First wait after a failed step; doubled at each failure in a row.
const BACKOFF_START: Duration = Duration::from_millis(250);
/// Longest wait between two tries.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Drops the local copy of a recording complete in the store (the agent
/// removes it from its catalog and the disk quota).
pub type Release = Box<dyn Fn(&str, &Path) + Send + Sync>;
/// Whether the segments of a recording are not to be uploaded as they are
/// sealed: a flight recorder's, which it prunes as its window moves on (its
/// index, when it stops, still brings every segment it names).
pub type SkipSealed = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Work left on one recording.
#[derive(Debug)]
struct Pending {
    dir: PathBuf,
    /// Sealed segments not yet in the store, oldest first.
    sealed: VecDeque<String>,
    /// Its index is written: once `sealed` is empty, the index goes up.
    complete: bool,
    /// Resumed at start: first ask whether the store already has it all.
    check_first: bool,
}

impl Pending {
    /// The work queued for `id`, made when there is none yet.
    fn of<'q>(queue: &'q mut BTreeMap<String, Pending>, id: &str, dir: &Path) -> &'q mut Pending {
        queue.entry(id.to_owned()).or_insert_with(|| Pending {
            dir: dir.to_path_buf(),
            sealed: VecDeque::new(),
            complete: false,
            check_first: false,
        })
    }
}

/// The next step the worker takes.
#[derive(Debug, Clone)]
enum Step {
    Check,
    Segment(String),
    Index,
}

/// Counts for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UploadCounts {
    pub segments: u64,
    pub bytes: u64,
    pub recordings: u64,
    /// Steps that failed and were retried.
    pub retries: u64,
}

struct Shared {
    store: Arc<Store>,
    queue: Mutex<BTreeMap<String, Pending>>,
    wake: Notify,
    release: Release,
    skip_sealed: SkipSealed,
    counts: Mutex<UploadCounts>,
}

/// The uploader: a handle to the queue its task works through.
#[derive(Clone)]
pub struct Uploader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("store", &self.shared.store.url())
            .field("queued", &self.queue().len())
            .finish()
    }
}

impl Uploader {
    /// Starts the upload task on the current runtime; it stops with `cancel`
    /// (what it had not finished is resumed at the next start).
    pub fn start(
        store: Arc<Store>,
        release: Release,
        skip_sealed: SkipSealed,
        cancel: CancellationToken,
    ) -> Self {
        let up = Self {
            shared: Arc::new(Shared {
                store,
                queue: Mutex::default(),
                wake: Notify::new(),
                release,
                skip_sealed,
                counts: Mutex::default(),
            }),
        };
        tokio::spawn(up.clone().run(cancel));
        up
    }

    fn queue(&self) -> MutexGuard<'_, BTreeMap<String, Pending>> {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What was uploaded so far.
    pub fn counts(&self) -> UploadCounts {
        *self.shared.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether recording `id` still has work queued.
    pub fn is_pending(&self, id: &str) -> bool {
        self.queue().contains_key(id)
    }

    /// Stops uploading recording `id` (it is being deleted).
    pub fn forget(&self, id: &str) {
        self.queue().remove(id);
    }

    /// Queues what the data directory holds that the store may lack:
    /// every `<id>.segments` directory with an index (a recording that
    /// ended, or one a crash cut short, indexed as such when the catalog
    /// opened) whose upload a crash, a kill or a shutdown cut short. The
    /// worker first asks the store whether its index is there.
    pub fn resume(&self, data_dir: &Path) -> usize {
        let Ok(listing) = std::fs::read_dir(data_dir) else {
            return 0;
        };
        let mut resumed = 0;
        for entry in listing.flatten() {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(SEGMENTS_EXT))
                .and_then(|n| n.strip_suffix('.'))
            else {
                continue;
            };
            if crate::ids::validate("id", id).is_err() {
                continue;
            }
            let dir = entry.path();
            let index_path = dir.join(INDEX_NAME);
            let index = match std::fs::read(&index_path) {
                Ok(bytes) => parse_index(&index_path.display().to_string(), id, &bytes),
                Err(_) => continue, // not ended yet: the recorder's to finish
            };
            match index {
                Ok(index) => {
                    let sealed = index.segments.iter().map(|s| s.name.clone()).collect();
                    self.queue().insert(
                        id.to_owned(),
                        Pending {
                            dir,
                            sealed,
                            complete: true,
                            check_first: true,
                        },
                    );
                    resumed += 1;
                }
                Err(e) => warn!(error = %e, "not uploading a recording whose index is unreadable"),
            }
        }
        if resumed > 0 {
            info!(recordings = resumed, store = %self.shared.store.url(), "resuming uploads to the store");
            self.shared.wake.notify_one();
        }
        resumed
    }

    /// The step to take next: the oldest recording with work first.
    fn next_step(&self) -> Option<(String, PathBuf, Step)> {
        let queue = self.queue();
        queue.iter().find_map(|(id, p)| {
            let step = if p.check_first {
                Step::Check
            } else if let Some(name) = p.sealed.front() {
                Step::Segment(name.clone())
            } else if p.complete {
                Step::Index
            } else {
                return None;
            };
            Some((id.clone(), p.dir.clone(), step))
        })
    }

    /// Marks `step` of `id` done (if the recording is still queued).
    fn done(&self, id: &str, step: &Step) {
        let mut queue = self.queue();
        let Some(p) = queue.get_mut(id) else {
            return;
        };
        match step {
            Step::Check => p.check_first = false,
            Step::Segment(name) => {
                if p.sealed.front() == Some(name) {
                    p.sealed.pop_front();
                }
            }
            Step::Index => {
                queue.remove(id);
            }
        }
    }

    async fn run(self, cancel: CancellationToken) {
        let mut backoff = BACKOFF_START;
        loop {
            let Some((id, dir, step)) = self.next_step() else {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = self.shared.wake.notified() => continue,
                }
            };
            let outcome = tokio::select! {
                () = cancel.cancelled() => return,
                r = self.take(&id, &dir, &step) => r,
            };
            match outcome {
                Ok(()) => {
                    backoff = BACKOFF_START;
                    self.done(&id, &step);
                }
                Err(e) if e.is_local_file_gone() => {
                    // Nothing to retry: the recording stays local (listed
                    // there), and incomplete in the store.
                    warn!(recording = %id, error = %e, "a file to upload is gone; not uploading this recording");
                    self.forget(&id);
                }
                Err(e) => {
                    self.shared
                        .counts
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retries += 1;
                    warn!(recording = %id, error = %e, retry_in_ms = backoff.as_millis() as u64, "upload to the store failed; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    async fn take(&self, id: &str, dir: &Path, step: &Step) -> Result<(), StoreError> {
        let store = &self.shared.store;
        match step {
            Step::Check => {
                if store.index(id).await?.is_some() {
                    info!(recording = %id, "already complete in the store");
                    self.queue().remove(id);
                    (self.shared.release)(id, dir);
                }
                Ok(())
            }
            Step::Segment(name) => {
                let path = dir.join(name);
                let size = std::fs::metadata(&path)
                    .map_err(|e| StoreError::local(format!("reading {}", path.display()), e))?
                    .len();
                // After a restart the store may already hold it whole.
                if store.object_size(id, name).await? == Some(size) {
                    return Ok(());
                }
                let sent = store.upload_file(id, name, &path).await?;
                let mut counts = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
                counts.segments += 1;
                counts.bytes += sent;
                Ok(())
            }
            Step::Index => {
                let path = dir.join(INDEX_NAME);
                let bytes = std::fs::read(&path)
                    .map_err(|e| StoreError::local(format!("reading {}", path.display()), e))?;
                let index = parse_index(&path.display().to_string(), id, &bytes)?;
                // Every segment the index names must be in the store, whole,
                // before the index makes the recording complete there.
                for s in &index.segments {
                    if store.object_size(id, &s.name).await? != Some(s.size) {
                        let local = dir.join(&s.name);
                        store.upload_file(id, &s.name, &local).await?;
                    }
                }
                store.put_index(id, bytes).await?;
                self.shared
                    .counts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .recordings += 1;
                info!(recording = %id, segments = index.segments.len(), bytes = index.size(), "recording complete in the store");
                self.queue().remove(id);
                (self.shared.release)(id, dir);
                Ok(())
            }
        }
    }
}

impl SegmentObserver for Uploader {
    fn sealed(&self, recording_id: &str, dir: &Path, name: &str) {
        if (self.shared.skip_sealed)(recording_id) {
            return;
        }
        Pending::of(&mut self.queue(), recording_id, dir)
            .sealed
            .push_back(name.to_owned());
        self.shared.wake.notify_one();
    }

    fn complete(&self, recording_id: &str, dir: &Path) {
        Pending::of(&mut self.queue(), recording_id, dir).complete = true;
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests;
