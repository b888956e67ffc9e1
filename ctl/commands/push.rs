//! `reelctl record push FILE...`: uploads local recording files to every
//! selected agent. A file may have any name: the id is read from its header
//! and the file is sent as `<id>.reel`; the agent checks the digest and that
//! the file reads as a recording, then lists it under that id.

use std::path::{Path, PathBuf};

use reel::format::RecordingReader;
use reel::record::RECORDING_EXT;
use serde::Serialize;

use crate::error::AgentError;
use crate::fleet::{self, Report};
use crate::settings::Settings;
use crate::transfer;
use reel::proto::RecordingInfo;

/// A file to push and the name it is sent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushFile {
    pub(crate) path: PathBuf,
    /// The id in the file's header.
    pub(crate) id: String,
    /// `<id>.reel`, whatever the local file is called.
    pub(crate) name: String,
}

/// The answer to `record push` from one agent: the recordings as it lists
/// them now.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PushedRecordings {
    pub(crate) recordings: Vec<RecordingInfo>,
}

/// The id of the recording in a local file, read from its header (the file
/// may have any name: the agent stores it as `<id>.reel`).
///
/// # Errors
/// A usage error naming the file: unreadable, not a regular file, not a
/// recording, or a header whose id is not a valid id.
pub(crate) fn recording_id(path: &Path) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let reader = RecordingReader::open(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: not a recording: {e}", path.display()))?;
    let id = reader.header().id.clone();
    reel::ids::validate("id", &id).map_err(|e| {
        format!(
            "{}: the recording's header has a bad id: {e}",
            path.display()
        )
    })?;
    Ok(id)
}

/// Checks every file before anything is sent: a readable recording whose
/// header holds a valid id, and no two files holding the same recording.
///
/// # Errors
/// A usage error naming the first bad file.
pub(crate) fn check_files(paths: &[PathBuf]) -> Result<Vec<PushFile>, String> {
    let mut files: Vec<PushFile> = Vec::with_capacity(paths.len());
    for path in paths {
        let id = recording_id(path)?;
        if let Some(same) = files.iter().find(|f| f.id == id) {
            return Err(format!(
                "{} and {} hold the same recording {id}",
                same.path.display(),
                path.display()
            ));
        }
        files.push(PushFile {
            path: path.clone(),
            name: format!("{id}.{RECORDING_EXT}"),
            id,
        });
    }
    Ok(files)
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
                let uploaded = transfer::upload_file(&agent, &file.path, &file.name).await;
                let info = match uploaded {
                    Ok(info) => info,
                    Err(AgentError::Rejected(status)) => {
                        return Err(AgentError::Rejected(tonic::Status::new(
                            status.code(),
                            format!("{}: {}", file.path.display(), status.message()),
                        )));
                    }
                    // A broken TLS session may be the agent refusing our
                    // certificate (an upload is the first call of a push).
                    Err(other) => {
                        return Err(fleet::explain(agent.address(), agent.timeout(), other).await);
                    }
                };
                recordings.push(info);
            }
            Ok(PushedRecordings { recordings })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished recording file with id `id` at `path`.
    fn recording(path: &Path, id: &str) {
        let header = reel::format::Header {
            id: id.into(),
            ..Default::default()
        };
        let mut bytes = Vec::new();
        reel::format::encode_header(&header, &mut bytes).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn any_file_name_is_sent_as_the_id_inside() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("capture from tuesday.bin");
        recording(&odd, "r1");
        let files = check_files(std::slice::from_ref(&odd)).unwrap();
        assert_eq!(
            (files[0].id.as_str(), files[0].name.as_str()),
            ("r1", "r1.reel")
        );
        let other = dir.path().join("r2.reel");
        recording(&other, "r2");
        assert_eq!(
            check_files(&[odd.clone(), other]).unwrap()[1].name,
            "r2.reel"
        );
    }

    #[test]
    fn bad_files_are_refused_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("r1.reel");
        recording(&good, "r1");
        let copy = dir.path().join("copy.reel");
        std::fs::copy(&good, &copy).unwrap();
        let text = dir.path().join("notes.reel");
        std::fs::write(&text, b"hello").unwrap();
        let bad_id = dir.path().join("bad-id.reel");
        recording(&bad_id, "../etc");
        let sub = dir.path().join("d.reel");
        std::fs::create_dir(&sub).unwrap();
        let missing = dir.path().join("r2.reel");
        let cases = [
            (vec![good.clone(), missing.clone()], "cannot read"),
            (vec![sub], "not a regular file"),
            (vec![text], "not a recording"),
            (vec![bad_id], "the recording's header has a bad id"),
            (vec![good, copy], "hold the same recording r1"),
        ];
        for (paths, expected) in cases {
            let err = check_files(&paths).unwrap_err();
            let last = paths.last().unwrap().display().to_string();
            assert!(
                err.contains(expected) && err.contains(&last),
                "{paths:?}: {err}"
            );
        }
    }
}
