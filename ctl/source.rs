//! Where a recording named on the command line is: a local file (worked on
//! here, no agent involved) or an id on the agents. Results of the analysis
//! and pcap commands are keyed by that source, not only by agent, so a
//! local file's result carries its path instead of an agent address.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use reel::format::SEGMENTS_EXT;
use reel::record::RECORDING_EXT;

use crate::error::AgentError;
use crate::settings::AgentTarget;

/// A REC argument, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rec {
    /// A recording file on this host.
    File(PathBuf),
    /// A recording id on the selected agents.
    Id(String),
}

/// Classifies REC: a local recording when a file of that name exists, the
/// name ends in `.reel` (so a missing file is reported as such) or it is
/// a segmented recording's directory (`.segments`), else an id.
///
/// # Errors
/// A usage error when REC is neither (it names no file and is not a valid id).
pub(crate) fn classify(rec: &str) -> Result<Rec, String> {
    let path = Path::new(rec);
    let ext = path.extension();
    if path.is_file()
        || ext.is_some_and(|e| e == RECORDING_EXT)
        || (path.is_dir() && ext.is_some_and(|e| e == SEGMENTS_EXT))
    {
        return Ok(Rec::File(path.to_path_buf()));
    }
    match reel::ids::validate("id", rec) {
        Ok(()) => Ok(Rec::Id(rec.to_owned())),
        Err(_) => Err(format!(
            "{rec:?} is neither a file nor a recording id (ids use letters, digits, '-' and '_')"
        )),
    }
}

/// Classifies every REC.
///
/// # Errors
/// The first REC that is neither a file nor an id.
pub(crate) fn classify_all(recs: &[String]) -> Result<Vec<Rec>, String> {
    recs.iter().map(|r| classify(r)).collect()
}

/// What a result is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A local file, as the user named it.
    File(String),
    /// Recording `recording` on `agent`.
    AgentClient {
        agent: AgentTarget,
        recording: String,
    },
}

impl Source {
    /// How a human sees it: the path, or `AGENT recording ID`.
    pub(crate) fn label(&self) -> String {
        match self {
            Source::File(path) => path.clone(),
            Source::AgentClient { agent, recording } => {
                format!("{} recording {recording}", agent.label())
            }
        }
    }

    /// What output file names get when there are several results: the
    /// file's stem (its id when named ID.reel), or the recording id, plus
    /// the agent (its fleet name or address) when `per_agent`.
    pub(crate) fn suffix(&self, per_agent: bool) -> String {
        let raw = match self {
            Source::File(path) => Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "recording".to_owned()),
            Source::AgentClient { agent, recording } if per_agent => {
                let who = agent.name.as_deref().unwrap_or(&agent.address);
                format!("{recording}-{who}")
            }
            Source::AgentClient { recording, .. } => recording.clone(),
        };
        file_safe(&raw)
    }
}

/// One result of a command over sources.
#[derive(Debug)]
pub(crate) struct Sourced<T> {
    pub(crate) source: Source,
    pub(crate) result: Result<T, AgentError>,
}

/// The results of a command, in the order the sources were given.
pub(crate) type Results<T> = Vec<Sourced<T>>;

/// `path` with `-suffix` before its extension: `out/t.csv` → `out/t-r1.csv`.
pub(crate) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{suffix}"),
    };
    path.with_file_name(name)
}

/// Letters, digits, `.`, `-` and `_` kept; anything else (`:` of an
/// address, `/`, spaces) becomes `_`.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An error with its causes: `outer: inner: innermost`.
pub(crate) fn with_causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        // thiserror's `transparent` and `{source}` messages already hold it.
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// A failure on this host (a local file's analysis, export or import),
/// with the error's causes.
pub(crate) fn local_error(error: &dyn StdError) -> AgentError {
    AgentError::Local(with_causes(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capture");
        std::fs::write(&file, b"x").unwrap();
        let file_s = file.to_str().unwrap();
        assert_eq!(classify(file_s), Ok(Rec::File(file.clone())));
        assert_eq!(
            classify("missing/r1.reel"),
            Ok(Rec::File("missing/r1.reel".into()))
        );
        assert_eq!(classify("r1"), Ok(Rec::Id("r1".into())));
        let err = classify("/no/such/file").unwrap_err();
        assert!(err.contains("neither a file nor a recording id"), "{err}");
        assert!(classify_all(&["r1".into(), "a b".into()]).is_err());
    }

    #[test]
    fn suffixes_for_several_results() {
        let agent = AgentTarget {
            address: "127.0.0.1:7700".into(),
            name: None,
        };
        let remote = Source::AgentClient {
            agent: agent.clone(),
            recording: "r1".into(),
        };
        assert_eq!(remote.suffix(false), "r1");
        assert_eq!(remote.suffix(true), "r1-127.0.0.1_7700");
        assert_eq!(Source::File("d/x y.reel".into()).suffix(false), "x_y");
        assert_eq!(
            suffixed(Path::new("out/t.csv"), "r1"),
            PathBuf::from("out/t-r1.csv")
        );
        assert_eq!(suffixed(Path::new("plot"), "r1"), PathBuf::from("plot-r1"));
        assert_eq!(remote.label(), "127.0.0.1:7700 recording r1");
    }

    #[test]
    fn causes_are_chained_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = reel::stats::StatsError::Open {
            path: "/x.reel".into(),
            source: io,
        };
        assert_eq!(with_causes(&err), "could not open recording /x.reel: gone");
    }
}
