//! `reelctl record push FILE...`: uploads local recording files to every
//! selected agent. The name sent is the file's base name, which must be
//! `<id>.reel`; the agent checks the digest and that the file reads as a
//! recording, then lists it under the id in its header.

use std::path::{Path, PathBuf};

use reel::record::RECORDING_EXT;
use serde::Serialize;

use crate::commands::record::RecordingView;
use crate::error::AgentError;
use crate::fleet::{self, Report};
use crate::settings::Settings;
use crate::transfer;

/// A file to push and the name it is sent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushFile {
    pub(crate) path: PathBuf,
    /// `<id>.reel`.
    pub(crate) name: String,
}

/// The answer to `record push` from one agent: the recordings as it lists
/// them now.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PushedRecordings {
    pub(crate) recordings: Vec<RecordingView>,
}

/// The name a file is sent under: its base name, if that is `<id>.reel`.
///
/// # Errors
/// A usage error naming the file.
pub(crate) fn upload_name(path: &Path) -> Result<String, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let id = name
        .strip_suffix(&format!(".{RECORDING_EXT}"))
        .ok_or_else(|| {
            format!(
                "{}: a recording file must be named <ID>.{RECORDING_EXT}",
                path.display()
            )
        })?;
    reel::ids::validate("id", id).map_err(|e| {
        format!(
            "{}: the name must be <ID>.{RECORDING_EXT} with a valid id: {e}",
            path.display()
        )
    })?;
    Ok(name.to_owned())
}

/// Checks every file before anything is sent: named `<id>.reel`, and a
/// readable regular file.
///
/// # Errors
/// A usage error naming the first bad file.
pub(crate) fn check_files(paths: &[PathBuf]) -> Result<Vec<PushFile>, String> {
    paths
        .iter()
        .map(|path| {
            let name = upload_name(path)?;
            let metadata = std::fs::metadata(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if !metadata.is_file() {
                return Err(format!("{}: not a regular file", path.display()));
            }
            Ok(PushFile {
                path: path.clone(),
                name,
            })
        })
        .collect()
}

/// Uploads every file to every agent, one file after the other per agent;
/// an agent fails at its first refused file.
pub(crate) async fn run(settings: &Settings, files: &[PushFile]) -> Report<PushedRecordings> {
    let files = files.to_vec();
    fleet::run_all(settings, |agent| {
        let files = files.clone();
        async move {
            let mut recordings = Vec::new();
            for file in files {
                let info = transfer::upload_file(&agent, &file.path, &file.name)
                    .await
                    .map_err(|e| match e {
                        AgentError::Rejected(status) => AgentError::Rejected(tonic::Status::new(
                            status.code(),
                            format!("{}: {}", file.path.display(), status.message()),
                        )),
                        other => other,
                    })?;
                recordings.push(RecordingView::from(info));
            }
            Ok(PushedRecordings { recordings })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_recording_files() {
        assert_eq!(
            upload_name(Path::new("/tmp/x/20261126-221503-a3f9.reel")).unwrap(),
            "20261126-221503-a3f9.reel"
        );
        assert_eq!(upload_name(Path::new("r1.reel")).unwrap(), "r1.reel");
        for bad in ["x.txt", "/tmp/.reel", "a b.reel", "r1.reel.part", "dir/"] {
            let err = upload_name(Path::new(bad)).unwrap_err();
            assert!(err.contains(bad.trim_end_matches('/')), "{bad}: {err}");
        }
    }

    #[test]
    fn missing_files_are_refused_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("r1.reel");
        std::fs::write(&good, b"x").unwrap();
        let files = check_files(std::slice::from_ref(&good)).unwrap();
        assert_eq!(files[0].name, "r1.reel");
        let missing = dir.path().join("r2.reel");
        let err = check_files(&[good, missing]).unwrap_err();
        assert!(
            err.starts_with("cannot read") && err.contains("r2.reel"),
            "{err}"
        );
        let sub = dir.path().join("d.reel");
        std::fs::create_dir(&sub).unwrap();
        assert!(
            check_files(&[sub])
                .unwrap_err()
                .contains("not a regular file")
        );
    }
}
