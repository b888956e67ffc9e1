//! Replay reports on disk: one JSON file per replay in `<data>/replays/`,
//! written whole (temporary file, fsync, rename, fsync of the directory)
//! when a replay is accepted, when it starts and when it ends, so GetReplay
//! and ListReplays answer for it after a restart. A report a crash left
//! `scheduled` or `running` comes back `failed`; a file that cannot be read
//! is skipped with a warning.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::report::{ReplayReport, ReplayState};
use crate::error::Error;
use crate::ids;
use crate::record::{time_to_unix_ns, unix_ns_to_time};

/// Folder of the report files inside the data directory.
pub const REPORTS_DIR: &str = "replays";
/// Extension of a report file; its stem is the replay id.
const REPORT_EXT: &str = "json";
/// Layout version of report files, written in each. Changing the serde
/// shape of `ReplayReport` (or anything in it) breaks reading old files:
/// bump this, and older files are skipped with a warning.
const FORMAT_VERSION: u32 = 1;
/// The error of a replay that was running when its agent died.
pub const INTERRUPTED: &str = "the agent stopped during the replay";

/// A report file as written.
#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    /// When the agent accepted the replay: listings sort by it.
    accepted_unix_ns: i64,
    report: &'a ReplayReport,
}

/// A report file as read.
#[derive(Deserialize)]
struct FileIn {
    version: u32,
    accepted_unix_ns: i64,
    report: ReplayReport,
}

/// A report read back, with the instant its replay was accepted.
#[derive(Debug, Clone)]
pub struct Stored {
    pub accepted: SystemTime,
    pub report: ReplayReport,
}

/// What can go wrong with a report file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation of ours failed on this host (disk full, permissions).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The file is not a report this agent reads: truncated, corrupted, or
    /// written by a newer agent.
    #[error("{path}: not a readable replay report: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::Io { context, source } => Error::io(context, source),
            e @ StoreError::Unreadable { .. } => {
                Error::io("reading a replay report", io::Error::other(e.to_string()))
            }
        }
    }
}

fn io_error(context: String) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

/// The report files of an agent.
#[derive(Debug)]
pub struct ReportStore {
    dir: PathBuf,
}

impl ReportStore {
    /// Uses `<data_dir>/replays`, created owner-only when missing: reports
    /// name targets and hold excerpts of server bytes.
    ///
    /// # Errors
    /// `Io` when the folder cannot be created.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.join(REPORTS_DIR);
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&dir)
            .map_err(io_error(format!("creating {}", dir.display())))?;
        Ok(Self { dir })
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{REPORT_EXT}"))
    }

    /// Writes `report` whole, replacing its previous file only once the new
    /// one is on disk: a crash leaves either version, never half of one.
    ///
    /// # Errors
    /// `Io` (disk full, permissions); the previous file is then intact.
    pub fn save(&self, accepted: SystemTime, report: &ReplayReport) -> Result<(), StoreError> {
        let path = self.path_of(&report.id);
        let tmp = self.dir.join(format!(".{}.{REPORT_EXT}.tmp", report.id));
        let body = serde_json::to_vec(&FileOut {
            version: FORMAT_VERSION,
            accepted_unix_ns: time_to_unix_ns(accepted),
            report,
        })
        .map_err(|e| StoreError::Io {
            context: format!("encoding report {}", report.id),
            source: e.into(),
        })?;
        crate::durable::replace(&path, &tmp, &body)
            .map_err(io_error(format!("writing {}", path.display())))
    }

    /// Reads the report of replay `id`.
    ///
    /// # Errors
    /// `Io` when the file cannot be read, `Unreadable` when it is not a report.
    pub fn load(&self, id: &str) -> Result<Stored, StoreError> {
        read(&self.path_of(id))
    }

    /// Deletes the report of replay `id`, if there is one.
    pub fn remove(&self, id: &str) {
        let path = self.path_of(id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot delete an old replay report")
            }
        }
    }

    /// Every readable report, newest first, at most `keep` of them: older
    /// files are deleted, leftovers of interrupted writes too. A report left
    /// `scheduled` or `running` is rewritten as `failed` (`INTERRUPTED`).
    pub fn load_all(&self, keep: usize) -> Vec<Stored> {
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                warn!(dir = %self.dir.display(), error = %e, "cannot list replay reports");
                return Vec::new();
            }
        };
        let mut all = Vec::new();
        for entry in listing.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(id) = name.strip_suffix(&format!(".{REPORT_EXT}")) else {
                continue;
            };
            if ids::validate("id", id).is_err() {
                warn!(path = %path.display(), "ignoring a file whose name is not a replay id");
                continue;
            }
            match read(&path) {
                Ok(s) if s.report.id == id => all.push(s),
                Ok(s) => warn!(path = %path.display(), id = %s.report.id,
                               "ignoring a replay report filed under another id"),
                Err(e) => warn!(error = %e, "skipping a replay report"),
            }
        }
        all.sort_by(|a, b| (b.accepted, &b.report.id).cmp(&(a.accepted, &a.report.id)));
        for old in all.drain(keep.min(all.len())..) {
            self.remove(&old.report.id);
        }
        for s in &mut all {
            if matches!(
                s.report.state,
                ReplayState::Scheduled | ReplayState::Running
            ) {
                s.report.state = ReplayState::Failed;
                s.report.error = Some(INTERRUPTED.to_string());
                info!(replay = %s.report.id, "a replay was cut short by the agent stopping");
                if let Err(e) = self.save(s.accepted, &s.report) {
                    warn!(error = %e, "cannot mark an interrupted replay as failed");
                }
            }
        }
        all
    }
}

/// Writes a report file off the async threads; a failure is logged, and
/// the replay goes on with its report in memory. Returns whether it worked.
pub(super) async fn write(
    store: &Arc<ReportStore>,
    accepted: SystemTime,
    report: ReplayReport,
) -> bool {
    let store = store.clone();
    let id = report.id.clone();
    match tokio::task::spawn_blocking(move || store.save(accepted, &report)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn!(replay = %id, error = %e, "cannot write the replay's report file; it is kept in memory only");
            false
        }
        Err(e) => {
            warn!(replay = %id, error = %e, "writing the replay's report file failed");
            false
        }
    }
}

fn read(path: &Path) -> Result<Stored, StoreError> {
    let body = std::fs::read(path).map_err(io_error(format!("reading {}", path.display())))?;
    let unreadable = |reason: String| StoreError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let file: FileIn = serde_json::from_slice(&body).map_err(|e| unreadable(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(unreadable(format!(
            "layout version {} (this agent reads {FORMAT_VERSION})",
            file.version
        )));
    }
    Ok(Stored {
        accepted: unix_ns_to_time(file.accepted_unix_ns),
        report: file.report,
    })
}

#[cfg(test)]
mod tests;
