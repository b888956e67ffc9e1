//! A recording's segment files on disk: when a lane rotates (size, age),
//! creating each segment, sealing it beside the writer (its final sync on
//! a thread of its own, then telling the observer), and the index written
//! when the recording ends. `format::segments` is the layout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::direct::{IDLE_FLUSH_GAP, SegmentFile};
use super::error::RecordError;
use super::files::create_private;
use super::recorder::Segments;
use super::ring::Ring;
use super::syncer::Syncer;
use crate::format::{
    End, Finished, FormatError, INDEX_FILE, Index, IndexEntry, Scan, Sink, parse_segment_name,
    segment_name, survey_dir,
};

/// Default size at which a segment is sealed.
pub const DEFAULT_SEGMENT_BYTES: u64 = 256 * 1024 * 1024;
/// Default age at which a segment is sealed, so a quiet recording still
/// seals (and uploads) its traffic regularly.
pub const DEFAULT_SEGMENT_AGE: Duration = Duration::from_secs(300);
/// Most writer lanes a recording gets.
pub const MAX_LANES: usize = 16;

/// How recordings are cut into segments and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPolicy {
    /// Writer lanes (threads and open segments) per recording.
    pub lanes: usize,
    /// A segment is sealed when it reaches this size...
    pub max_bytes: u64,
    /// ... or this age.
    pub max_age: Duration,
    /// Whole chunks written with `O_DIRECT`, around the page cache, where
    /// the filesystem allows it (`--no-direct-io` turns it off).
    pub direct: bool,
}

impl Default for SegmentPolicy {
    /// One lane per core (at most [`MAX_LANES`]).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SegmentPolicy {
            lanes: cores.clamp(1, MAX_LANES),
            max_bytes: DEFAULT_SEGMENT_BYTES,
            max_age: DEFAULT_SEGMENT_AGE,
            direct: true,
        }
    }
}

/// Told about a recording's segments as they are sealed and when it is
/// complete (an uploader to an object store, a flight recorder's pruning).
pub trait SegmentObserver: Send + Sync + std::fmt::Debug {
    /// A segment of `recording_id` is sealed: `dir.join(name)` will not
    /// change again.
    fn sealed(&self, recording_id: &str, dir: &Path, name: &str);
    /// The recording ended and `dir/index.json` is written (after every
    /// `sealed`).
    fn complete(&self, recording_id: &str, dir: &Path);
}

/// One writer lane's segment files.
pub(super) struct FileSegments {
    pub dir: PathBuf,
    pub lane: u16,
    pub id: String,
    pub policy: SegmentPolicy,
    pub observer: Option<Arc<dyn SegmentObserver>>,
    /// A flight recorder's ring, which drops sealed segments past its window.
    pub ring: Option<Arc<Ring>>,
    /// Seals still syncing; joined when the lane ends, so `complete` comes
    /// after every `sealed`.
    pub sealing: Vec<JoinHandle<()>>,
}

impl FileSegments {
    fn name(&self, index: u32) -> String {
        segment_name(self.lane, index)
    }
}

impl Segments<SegmentFile> for FileSegments {
    fn due(&self, size: u64, opened: Instant, now: Instant) -> bool {
        let max_age = match &self.ring {
            Some(ring) => ring.segment_age(self.policy.max_age),
            None => self.policy.max_age,
        };
        size >= self.policy.max_bytes || now.duration_since(opened) >= max_age
    }

    fn idle_flush_gap(&self) -> Duration {
        IDLE_FLUSH_GAP
    }

    fn open(&mut self, index: u32) -> Result<(SegmentFile, Option<Syncer>), RecordError> {
        let path = self.dir.join(self.name(index));
        let file = create_private(&path).map_err(|e| RecordError::write(e.into()))?;
        let sink = SegmentFile::new(
            &path,
            file,
            self.policy.direct,
            format!("segio-{}", self.lane),
        );
        let syncer = sink
            .try_clone_file()
            .and_then(|f| {
                Syncer::spawn(&format!("{}-{}", self.id, self.lane), move || f.sync_data())
            })
            .inspect_err(
                |e| warn!(recording = %self.id, error = %e, "syncing in line: no background sync"),
            )
            .ok();
        Ok((sink, syncer))
    }

    fn sealed(&mut self, index: u32, sealed: Finished<SegmentFile>, syncer: Option<Syncer>) {
        let name = self.name(index);
        if let Some(ring) = &self.ring {
            ring.sealed(name.clone(), sealed.size);
        }
        let ring = self.ring.clone();
        let (id, dir, observer) = (self.id.clone(), self.dir.clone(), self.observer.clone());
        let seal = move || {
            let synced = syncer.map_or(Ok(()), Syncer::finish).and_then(|()| {
                let mut sink = sealed.sink;
                sink.sync()
            });
            if let Err(e) = synced {
                error!(recording = %id, segment = %name, error = %e, "a sealed segment could not be made durable");
            }
            if let Some(o) = observer {
                o.sealed(&id, &dir, &name);
            }
            if let Some(ring) = ring {
                ring.prune(&dir);
            }
        };
        match std::thread::Builder::new()
            .name(format!("seal-{}", self.lane))
            .spawn(seal)
        {
            Ok(handle) => self.sealing.push(handle),
            Err(e) => {
                error!(recording = %self.id, error = %e, "cannot start a thread to seal a segment")
            }
        }
        self.sealing.retain(|h| !h.is_finished());
    }

    fn ended(&mut self, index: u32) {
        for h in self.sealing.drain(..) {
            let _ = h.join();
        }
        if let Some(o) = &self.observer {
            o.sealed(&self.id, &self.dir, &self.name(index));
        }
    }
}

/// Surveys a finished recording's directory and writes its index.
///
/// # Errors
/// A segment cannot be read, or the index cannot be written.
pub(super) fn write_index(dir: &Path, id: &str) -> Result<Scan, FormatError> {
    let (scan, index) = survey_index(dir, id)?;
    put_index(dir, &index)?;
    Ok(scan)
}

/// The survey of a finished recording's directory, and the index of a
/// recording that ended that it makes (the merged footer when every lane
/// ended cleanly, else the surveyed totals), not written yet.
///
/// # Errors
/// A segment cannot be read.
pub(super) fn survey_index(dir: &Path, id: &str) -> Result<(Scan, Index), FormatError> {
    let scan = survey_dir(dir)?;
    let footer = match &scan.end {
        End::Complete(f) => f.clone(),
        _ => crate::format::Footer {
            summary: scan.summary.clone(),
            connections: scan.connections.clone(),
            ..Default::default()
        },
    };
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((lane, index)) = parse_segment_name(&name) {
            segments.push(IndexEntry {
                size: entry.metadata()?.len(),
                name,
                lane,
                index,
            });
        }
    }
    segments.sort_by_key(|s| (s.lane, s.index));
    let index = Index {
        id: id.to_string(),
        complete: true,
        header: scan.header.clone(),
        footer,
        segments,
    };
    Ok((scan, index))
}

/// Writes `index` into `dir`, owner-only like the segments, through a
/// temporary file renamed into place (a reader sees all or nothing).
///
/// # Errors
/// It cannot be encoded or written.
pub(super) fn put_index(dir: &Path, index: &Index) -> Result<(), FormatError> {
    let json = serde_json::to_vec_pretty(index).map_err(|e| FormatError::Encode(e.to_string()))?;
    crate::durable::replace(
        &dir.join(INDEX_FILE),
        &dir.join(format!(".{INDEX_FILE}.tmp")),
        &json,
    )?;
    Ok(())
}
