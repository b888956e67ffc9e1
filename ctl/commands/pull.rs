//! `reelctl record pull ID... [-o DIR] [--force]`: downloads recordings into
//! DIR/<ID>.reel. Each file is written to a hidden temporary file in DIR,
//! checked (size and SHA-256 against what the agent announced), synced, and
//! only then given its name, so DIR never holds half a recording under a
//! real name. An existing file is kept unless `--force`.

use std::io;
use std::path::{Path, PathBuf};

use reel::record::RECORDING_EXT;
use serde::Serialize;

use crate::args::RecordPullArgs;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::settings::Settings;
use crate::transfer;
use reel::rewrite::hex;

/// One downloaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PulledFile {
    pub(crate) id: String,
    /// Where it was written (DIR joined with `<id>.reel`).
    pub(crate) path: String,
    pub(crate) size_bytes: u64,
    /// Lower-case hex.
    pub(crate) sha256: String,
}

/// The answer to `record pull` from one agent.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PulledFiles {
    pub(crate) files: Vec<PulledFile>,
}

/// Checks that every id can be a file name (no path, no odd characters).
///
/// # Errors
/// A usage error naming the first bad id.
pub(crate) fn check_ids(ids: &[String]) -> Result<(), String> {
    for id in ids {
        reel::ids::validate("id", id).map_err(|e| format!("cannot pull {id:?}: {e}"))?;
    }
    Ok(())
}

/// Downloads every id from every agent; an agent fails at its first id
/// that cannot be pulled.
pub(crate) async fn run(settings: &Settings, args: &RecordPullArgs) -> Report<PulledFiles> {
    let ids = args.ids.clone();
    let dir = args.dir.clone();
    let force = args.force;
    fleet::run_all(settings, |agent| {
        let ids = ids.clone();
        let dir = dir.clone();
        async move {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| AgentError::Local(format!("creating {}: {e}", dir.display())))?;
            let mut files = Vec::new();
            for id in ids {
                files.push(pull_one(&agent, &id, &dir, force).await?);
            }
            Ok(PulledFiles { files })
        }
    })
    .await
}

/// Removes a temporary file unless it was given its final name.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn exists_error(path: &Path) -> AgentError {
    AgentError::Local(format!(
        "{} already exists; use --force to replace it",
        path.display()
    ))
}

async fn pull_one(
    agent: &AgentClient,
    id: &str,
    dir: &Path,
    force: bool,
) -> Result<PulledFile, AgentError> {
    let name = format!("{id}.{RECORDING_EXT}");
    let path = dir.join(&name);
    let local = |what: &Path, e: io::Error| AgentError::Local(format!("{}: {e}", what.display()));
    if !force
        && tokio::fs::try_exists(&path)
            .await
            .map_err(|e| local(&path, e))?
    {
        return Err(exists_error(&path));
    }
    let suffix: u32 = rand::random();
    let temp_path = dir.join(format!(".{name}.{suffix:08x}.part"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp_path)
        .await
        .map_err(|e| local(&temp_path, e))?;
    let mut temp = TempFile(Some(temp_path.clone()));
    let received = transfer::download_into(agent, id, &mut file, &temp_path)
        .await
        .map_err(|e| match e {
            AgentError::Rejected(status) => AgentError::Rejected(tonic::Status::new(
                status.code(),
                format!("recording {id}: {}", status.message()),
            )),
            other => other,
        })?;
    file.sync_all().await.map_err(|e| local(&temp_path, e))?;
    drop(file);
    install(&temp_path, &path, force).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => exists_error(&path),
        _ => local(&path, e),
    })?;
    temp.0 = None;
    Ok(PulledFile {
        id: id.to_owned(),
        path: path.display().to_string(),
        size_bytes: received.size,
        sha256: hex(&received.sha256),
    })
}

/// Gives the checked temporary file its final name. Without `force` this
/// never replaces a file, even one created meanwhile (a hard link fails
/// when the name is taken); with `force` it is an atomic rename.
fn install(temp: &Path, path: &Path, force: bool) -> io::Result<()> {
    if force {
        return std::fs::rename(temp, path);
    }
    std::fs::hard_link(temp, path)?;
    std::fs::remove_file(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_file_names() {
        assert!(check_ids(&["20261126-221503-a3f9".into(), "r_1".into()]).is_ok());
        for bad in ["../etc/passwd", "a/b", "", "x.reel", "a b"] {
            let err = check_ids(&[bad.into()]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn install_never_replaces_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, path) = (dir.path().join(".t.part"), dir.path().join("r.reel"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::write(&temp, b"new").unwrap();
        let err = install(&temp, &path, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        install(&temp, &path, true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!temp.exists());

        std::fs::write(&temp, b"fresh").unwrap();
        let other = dir.path().join("s.reel");
        install(&temp, &other, false).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"fresh");
        assert!(!temp.exists());
    }
}
