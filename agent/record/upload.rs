//! Recordings that arrive as files (uploads, `reelctl record push`): where
//! they are written while in transit, and how they join the catalog once
//! checked. An upload counts against the disk limits byte by byte as it
//! is written (a [`Charge`]), and a file whose frames are damaged is refused.

use std::path::{Path, PathBuf};

use super::catalog::{CatalogEntry, Recordings};
use super::files::{load, upload_temp_name};
use super::info::RecordingInfo;
use super::quota::Charge;
use crate::error::{Error, Result};
use crate::format::{End, scan_file};
use crate::ids;

/// Bytes of an upload between two checks of the free space (`--min-free`).
pub const UPLOAD_SPACE_CHECK_BYTES: u64 = 1024 * 1024;

/// Reads every frame of the uploaded file at `tmp` (blocking: call it off
/// the runtime) and refuses it when the read ends in `Corrupted`: a
/// recording with a damaged frame, or a valid header followed by garbage. A
/// truncated file (a recorder killed mid-write) is accepted, as recovered.
///
/// # Errors
/// `Format` when the header is not a recording's, `InvalidArgument` naming
/// `data` when a frame is damaged.
pub fn check_upload(id: &str, tmp: &Path) -> Result<()> {
    let scan = scan_file(tmp).map_err(|source| Error::Format {
        id: id.to_string(),
        source,
    })?;
    if let End::Corrupted { offset, reason, .. } = scan.end {
        return Err(Error::invalid(
            "data",
            format!(
                "the file is not a readable recording: corrupted frame at offset {offset} of {}: {reason}",
                scan.file_size
            ),
        ));
    }
    Ok(())
}

impl Recordings {
    /// Where an upload of recording `id` is written before it is checked:
    /// a hidden temporary name in the data directory, so the final rename
    /// is atomic and a failed upload leaves no half file under a real name.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `RecordingExists`,
    /// `FailedPrecondition` when `size` more bytes would break the disk limits.
    pub fn upload_path(&self, id: &str, size: u64) -> Result<PathBuf> {
        ids::validate("name", id)?;
        self.quota
            .admit(size)
            .and_then(|()| self.quota.free_space_ok())?;
        if self.entries().contains_key(id) || self.path_of(id).exists() {
            return Err(Error::RecordingExists(id.to_string()));
        }
        Ok(self.dir.join(upload_temp_name(id)))
    }

    /// A charge for an upload's bytes against `--max-disk`, empty at first.
    pub fn upload_charge(&self) -> Charge {
        Charge::new(self.quota.clone())
    }

    /// Whether the data directory's filesystem still has `--min-free` left.
    ///
    /// # Errors
    /// `FailedPrecondition` naming the floor.
    pub fn free_space_ok(&self) -> Result<()> {
        Ok(self.quota.free_space_ok()?)
    }

    /// Adds an uploaded file (at `tmp`, checked by [`check_upload`]) to the
    /// catalog as recording `id`, after checking that it is a readable
    /// recording with that id; `charge` (its bytes) then stays counted as
    /// the recording's size.
    ///
    /// # Errors
    /// `Format` when the file is not a recording, `InvalidArgument` when its
    /// header names another id, `RecordingExists`, `Io`.
    pub fn adopt(&self, id: &str, tmp: &Path, charge: Charge) -> Result<RecordingInfo> {
        let info = load(tmp).map_err(|source| Error::Format {
            id: id.to_string(),
            source,
        })?;
        if info.id != id {
            return Err(Error::invalid(
                "name",
                format!("the file is recording {:?}, not {id:?}", info.id),
            ));
        }
        let mut entries = self.entries();
        let path = self.path_of(id);
        if entries.contains_key(id) || path.exists() {
            return Err(Error::RecordingExists(id.to_string()));
        }
        std::fs::rename(tmp, &path)
            .map_err(|e| Error::io(format!("renaming into {}", path.display()), e))?;
        charge.settle(info.size_bytes);
        entries.insert(id.to_string(), CatalogEntry::Done(Box::new(info.clone())));
        Ok(info)
    }
}
