//! `replay FILE`: a REC argument that names a local file (it holds a `/` or
//! ends in `.reel`; an id can do neither) is replayed by the id in the
//! file's header, after the file was uploaded to every selected agent that
//! lacks that recording, as `--spread` copies a recording between agents.

use std::path::PathBuf;

use reel::record::RECORDING_EXT;

use super::spread::{self, Copied, Pushed};
use crate::commands::push;
use crate::error::AgentError;
use crate::fleet::{self, Report};
use crate::settings::Settings;
use crate::transfer;

/// A recording file named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalRecording {
    /// As the user gave it.
    pub(crate) path: PathBuf,
    /// The id in its header: what the agents replay.
    pub(crate) id: String,
}

/// Whether REC names a file rather than a recording id.
pub(crate) fn is_file(rec: &str) -> bool {
    rec.contains('/') || rec.ends_with(&format!(".{RECORDING_EXT}"))
}

/// The recordings to replay, as ids in the order given (a file replaced
/// by the id in its header), and the files among them.
///
/// # Errors
/// A usage error naming a file that cannot be read or is not a recording.
pub(crate) fn resolve(recs: &[String]) -> Result<(Vec<String>, Vec<LocalRecording>), String> {
    let mut ids = Vec::with_capacity(recs.len());
    let mut files: Vec<LocalRecording> = Vec::new();
    for rec in recs.iter().map(|r| r.trim()) {
        if !is_file(rec) {
            ids.push(rec.to_owned());
            continue;
        }
        let path = PathBuf::from(rec);
        let id = push::recording_id(&path)?;
        if !files.iter().any(|f| f.id == id) {
            files.push(LocalRecording {
                path,
                id: id.clone(),
            });
        }
        ids.push(id);
    }
    Ok((ids, files))
}

/// Uploads each file to the ready agents that lack its recording. Returns,
/// per agent, what it received (or why it cannot take part), and what was
/// pushed where (`from` is the file's path).
pub(crate) async fn upload_missing(
    settings: &Settings,
    ready: Report<()>,
    files: &[LocalRecording],
) -> (Report<Vec<Copied>>, Vec<Pushed>) {
    let files = files.to_vec();
    let report = fleet::then_all(settings, ready, |agent, ()| {
        let files = files.clone();
        async move {
            let mut copied = Vec::new();
            for file in files {
                if spread::has(&agent, file.id.clone()).await? {
                    continue;
                }
                let name = format!("{}.{RECORDING_EXT}", file.id);
                let info = transfer::upload_file(&agent, &file.path, &name)
                    .await
                    .map_err(|e| named(e, &file))?;
                copied.push(Copied {
                    id: file.id.clone(),
                    from: file.path.display().to_string(),
                    size_bytes: info.size_bytes,
                });
            }
            Ok(copied)
        }
    })
    .await;
    let pushed = files
        .iter()
        .filter_map(|file| {
            let from = file.path.display().to_string();
            let mut size_bytes = 0;
            let to: Vec<String> = report
                .iter()
                .filter_map(|o| {
                    let copy = o.result.as_ref().ok()?.iter().find(|c| c.id == file.id)?;
                    size_bytes = copy.size_bytes;
                    Some(o.agent.address.clone())
                })
                .collect();
            (!to.is_empty()).then(|| Pushed {
                id: file.id.clone(),
                from,
                to,
                size_bytes,
            })
        })
        .collect();
    (report, pushed)
}

/// An agent's refusal of an upload, naming the file.
fn named(error: AgentError, file: &LocalRecording) -> AgentError {
    match error {
        AgentError::Rejected(status) => AgentError::Rejected(tonic::Status::new(
            status.code(),
            format!("{}: {}", file.path.display(), status.message()),
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_files_ids_are_not() {
        for rec in ["./r1", "dir/x.bin", "/tmp/r1", "r1.reel", "a b.reel"] {
            assert!(is_file(rec), "{rec}");
        }
        for rec in ["r1", "20261206-225304-17db", "a_b"] {
            assert!(!is_file(rec), "{rec}");
        }
    }

    #[test]
    fn files_become_the_id_inside_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capture.reel");
        let header = reel::format::Header {
            id: "r7".into(),
            ..Default::default()
        };
        let mut bytes = Vec::new();
        reel::format::encode_header(&header, &mut bytes).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let shown = path.to_str().unwrap().to_owned();
        let (ids, files) = resolve(&["r1".into(), shown.clone(), format!(" {shown}")]).unwrap();
        assert_eq!(ids, ["r1", "r7", "r7"]);
        assert_eq!(
            files,
            [LocalRecording {
                path,
                id: "r7".into()
            }]
        );
        let err = resolve(&["missing/r1.reel".into()]).unwrap_err();
        assert!(err.contains("cannot read missing/r1.reel"), "{err}");
    }
}
