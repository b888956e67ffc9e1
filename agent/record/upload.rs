//! Recordings that arrive as files (uploads, `reelctl record push`): where
//! they are written while in transit, and how they join the catalog once
//! checked.

use std::path::{Path, PathBuf};

use super::catalog::{Entry, Recordings};
use super::files::load;
use super::info::RecordingInfo;
use crate::error::{Error, Result};
use crate::ids;

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
            .and_then(|()| self.quota.free_space_ok())
            .map_err(Error::FailedPrecondition)?;
        if self.entries().contains_key(id) || self.path_of(id).exists() {
            return Err(Error::RecordingExists(id.to_string()));
        }
        Ok(self
            .dir
            .join(format!(".upload-{id}-{:08x}.tmp", rand::random::<u32>())))
    }

    /// Adds an uploaded file (at `tmp`) to the catalog as recording `id`,
    /// after checking that it is a readable recording with that id.
    ///
    /// # Errors
    /// `Format` when the file is not a recording, `InvalidArgument` when its
    /// header names another id, `RecordingExists`, `Io`.
    pub fn adopt(&self, id: &str, tmp: &Path) -> Result<RecordingInfo> {
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
        self.quota.add(info.size_bytes);
        entries.insert(id.to_string(), Entry::Done(Box::new(info.clone())));
        Ok(info)
    }
}
