//! The recordings of an agent: the files in its data directory plus the ones
//! being written. On open it reads every file's footer (or, for a file left
//! by a crash, scans it; a segmented recording a crash cut short is first
//! indexed as such, `recover`), so a restart lists everything that was
//! there. Starting and stopping a recording are `start` and `stop`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::{info, warn};

use super::active::Active;
use super::files::load;
use super::info::{RecordingInfo, RecordingStatus};
use super::quota::{DiskLimits, Quota};
use super::recover::index_if_cut;
use super::segments::{SegmentObserver, SegmentPolicy};
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::format::{SEGMENTS_EXT, Source};
use crate::ids;

/// File name extension of recordings in the data directory.
pub const RECORDING_EXT: &str = "reel";

pub use super::info::AgentIdentity;

pub(super) enum CatalogEntry {
    Active(Arc<Active>),
    Done(Box<RecordingInfo>),
}

/// Every recording of the agent.
pub struct Recordings {
    pub(super) dir: PathBuf,
    pub(super) agent: AgentIdentity,
    pub(super) bus: EventBus,
    /// Disk limits shared with every recorder.
    pub(super) quota: Arc<Quota>,
    entries: Mutex<BTreeMap<String, CatalogEntry>>,
    /// How new recordings are cut into segments and written.
    policy: Mutex<SegmentPolicy>,
    /// Told of sealed segments and complete recordings (an uploader).
    observer: Mutex<Option<Arc<dyn SegmentObserver>>>,
    /// Bytes written and lost by the recordings that ended since the agent
    /// started, added under the `entries` lock as each ends, so that with
    /// the live figures of those in progress they make totals that never
    /// go back (`meters`).
    ended: Mutex<EndedTotals>,
}

#[derive(Debug, Default, Clone, Copy)]
struct EndedTotals {
    written: u64,
    lost: u64,
}

/// Recording totals at one moment, for the metrics exporter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordingMeters {
    /// Recordings in progress.
    pub active: u64,
    /// Bytes written by recordings since the agent started (those in
    /// progress included).
    pub bytes_written: u64,
    /// Bytes known not captured since the agent started.
    pub bytes_lost: u64,
    /// Bytes the recordings in the data directory take.
    pub disk_used: u64,
}

impl Recordings {
    /// Loads the catalog of `dir` (which must exist). Files that are not
    /// recordings are left alone and logged.
    ///
    /// # Errors
    /// `Io` when the directory cannot be listed.
    pub fn open(dir: &Path, agent: AgentIdentity, bus: EventBus) -> Result<Self> {
        let mut entries = BTreeMap::new();
        // Uploads cut by a crash: counted against the quota until removed.
        let mut stale_uploads = Vec::new();
        let listing = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        for entry in listing.flatten() {
            let path = entry.path();
            if entry
                .file_name()
                .to_str()
                .is_some_and(super::files::is_upload_temp)
            {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                stale_uploads.push((path, size));
                continue;
            }
            let ext = path.extension().and_then(|e| e.to_str());
            if ext != Some(RECORDING_EXT) && ext != Some(SEGMENTS_EXT) {
                continue;
            }
            let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if ids::validate("id", &id).is_err() {
                warn!(path = %path.display(), "ignoring a file whose name is not a valid recording id");
                continue;
            }
            if ext == Some(SEGMENTS_EXT) && path.is_dir() {
                index_if_cut(&path, &id);
            }
            match load(&path) {
                Ok(info) => {
                    if info.status == RecordingStatus::Recovered {
                        info!(recording = %id, truncated_bytes = info.truncated_bytes, "recovered a recording without footer");
                    }
                    entries.insert(id, CatalogEntry::Done(Box::new(info)));
                }
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "ignoring unreadable recording")
                }
            }
        }
        let used = entries
            .values()
            .map(|e| match e {
                CatalogEntry::Done(i) => i.size_bytes,
                CatalogEntry::Active(_) => 0,
            })
            .chain(stale_uploads.iter().map(|(_, size)| *size))
            .sum();
        let quota = Arc::new(Quota::new(dir.to_path_buf(), used));
        for (path, size) in stale_uploads {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    quota.sub(size);
                    info!(path = %path.display(), size, "removed an upload left by a crash");
                }
                Err(e) => {
                    warn!(path = %path.display(), size, error = %e, "cannot remove an upload left by a crash; it counts against the disk quota")
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            agent,
            bus,
            quota,
            entries: Mutex::new(entries),
            policy: Mutex::new(SegmentPolicy::default()),
            observer: Mutex::new(None),
            ended: Mutex::default(),
        })
    }

    /// Sets `--max-disk` and `--min-free` for recordings from now on.
    pub fn set_disk_limits(&self, limits: DiskLimits) {
        self.quota.set_limits(limits);
    }

    /// Bytes the recordings take now, as the quota counts them.
    pub fn disk_used(&self) -> u64 {
        self.quota.used()
    }

    pub(super) fn entries(&self) -> MutexGuard<'_, BTreeMap<String, CatalogEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where recording `id` is: its segments' directory, or the single
    /// file of an older or uploaded recording.
    pub(super) fn path_of(&self, id: &str) -> PathBuf {
        let dir = self.segments_dir(id);
        if dir.is_dir() {
            dir
        } else {
            self.dir.join(format!("{id}.{RECORDING_EXT}"))
        }
    }

    /// The directory a new recording's segments go to.
    pub(super) fn segments_dir(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{SEGMENTS_EXT}"))
    }

    /// Sets how recordings started from now on are cut into segments.
    pub fn set_segment_policy(&self, policy: SegmentPolicy) {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    pub(super) fn segment_policy(&self) -> SegmentPolicy {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Has `observer` told of the segments of recordings started from now
    /// on, and of their completion.
    pub fn observe_segments(&self, observer: Arc<dyn SegmentObserver>) {
        *self.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(observer);
    }

    pub(super) fn observer(&self) -> Option<Arc<dyn SegmentObserver>> {
        self.observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Recording `id`, which must be in progress (`why` says what for, when
    /// it is not).
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `UnknownRecording`,
    /// `FailedPrecondition` when it has ended.
    pub(super) fn in_progress(&self, id: &str, why: &str) -> Result<Arc<Active>> {
        ids::validate("id", id)?;
        match self.entries().get(id) {
            Some(CatalogEntry::Active(a)) => Ok(a.clone()),
            Some(CatalogEntry::Done(_)) => Err(Error::FailedPrecondition(format!(
                "recording {id:?} is not in progress{why}"
            ))),
            None => Err(Error::UnknownRecording(id.to_string())),
        }
    }

    /// Puts recording `id`, which ended, in the catalog as `info` and adds
    /// its bytes to the totals since start, under the catalog's lock (so
    /// `meters` counts it once).
    pub(super) fn put_ended(&self, id: &str, info: RecordingInfo) {
        let mut entries = self.entries();
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        ended.written += info.size_bytes;
        ended.lost += info.lost_bytes;
        entries.insert(id.to_string(), CatalogEntry::Done(Box::new(info)));
    }

    /// Every recording, oldest first.
    pub fn list(&self) -> Vec<RecordingInfo> {
        let mut all: Vec<RecordingInfo> = self
            .entries()
            .values()
            .map(|e| match e {
                CatalogEntry::Active(a) => a.info(),
                CatalogEntry::Done(i) => (**i).clone(),
            })
            .collect();
        all.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        all
    }

    /// # Errors
    /// `InvalidArgument` for a malformed id, `UnknownRecording`.
    pub fn get(&self, id: &str) -> Result<RecordingInfo> {
        ids::validate("id", id)?;
        match self.entries().get(id) {
            Some(CatalogEntry::Active(a)) => Ok(a.info()),
            Some(CatalogEntry::Done(i)) => Ok((**i).clone()),
            None => Err(Error::UnknownRecording(id.to_string())),
        }
    }

    /// Deletes a finished recording's file.
    ///
    /// # Errors
    /// `InvalidArgument`, `UnknownRecording`, `FailedPrecondition` while it
    /// is being recorded, `Io` when the file cannot be removed.
    pub fn delete(&self, id: &str) -> Result<RecordingInfo> {
        ids::validate("id", id)?;
        let mut entries = self.entries();
        let info = match entries.get(id) {
            Some(CatalogEntry::Active(_)) => {
                return Err(Error::FailedPrecondition(format!(
                    "recording {id:?} is in progress; stop it before deleting it"
                )));
            }
            Some(CatalogEntry::Done(i)) => (**i).clone(),
            None => return Err(Error::UnknownRecording(id.to_string())),
        };
        let path = self.path_of(id);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("deleting {}", path.display()), e)),
        }
        entries.remove(id);
        self.quota.sub(info.size_bytes);
        Ok(info)
    }

    /// Totals since the agent started, read under the catalog's lock so a
    /// recording that ends meanwhile is counted once.
    pub fn meters(&self) -> RecordingMeters {
        let entries = self.entries();
        let ended = *self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = RecordingMeters {
            bytes_written: ended.written,
            bytes_lost: ended.lost,
            ..RecordingMeters::default()
        };
        for e in entries.values() {
            if let CatalogEntry::Active(a) = e {
                let live = a.info();
                m.active += 1;
                m.bytes_written += live.size_bytes;
                m.bytes_lost += live.lost_bytes;
            }
        }
        drop(entries);
        m.disk_used = self.disk_used();
        m
    }

    /// How many recordings the catalog holds.
    pub fn count(&self) -> usize {
        self.entries().len()
    }

    /// Path of a recording's file, for readers of finished recordings.
    ///
    /// # Errors
    /// As `get`.
    pub fn file_of(&self, id: &str) -> Result<PathBuf> {
        self.get(id)?;
        Ok(self.path_of(id))
    }

    /// What to open to read recording `id` (replay, stats, export, pull).
    ///
    /// # Errors
    /// As `get`.
    pub fn source_of(&self, id: &str) -> Result<Source> {
        Ok(Source::from_path(&self.file_of(id)?))
    }
}
