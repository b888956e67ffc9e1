//! `reelctl import IN.pcap --server HOST:PORT -o OUT.reel [--label L]`: a
//! capture (pcap or pcapng) as a recording, here, no agent involved. The
//! server's TCP flows are reassembled by `reel::pcap`; OUT's stem is the
//! recording id when it is a valid one (else a new id is made), so the id
//! agents list after `record push OUT` is the name the user chose.

use std::path::Path;
use std::time::SystemTime;

use reel::format::Header;
use reel::pcap::{ImportSummary, import_pcap_file};
use serde::Serialize;

use crate::args::ImportArgs;
use crate::error::AgentError;
use crate::plural::count;
use crate::source::{Results, Source, Sourced, local_error};

/// What one import wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Imported {
    /// The recording file written.
    pub(crate) recording: String,
    /// The id in its header.
    pub(crate) id: String,
    /// The server whose flows were imported, as matched.
    pub(crate) server: String,
    #[serde(flatten)]
    pub(crate) summary: ImportSummary,
}

impl Imported {
    /// What the user should know although the import succeeded.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(cut) = &self.summary.truncated {
            notes.push(format!(
                "the capture ends inside a record at byte {} ({} of it present); \
                 the packets before it were imported",
                cut.offset,
                count(cut.bytes, "byte", "bytes")
            ));
        }
        if self.summary.connections == 0 {
            notes.push(format!(
                "no TCP flow of server {} in the capture: the recording is empty",
                self.server
            ));
        }
        notes
    }
}

/// Imports the capture into a new recording file.
pub(crate) async fn run(args: &ImportArgs) -> Results<Imported> {
    let args_owned = args.clone();
    let result = tokio::task::spawn_blocking(move || import(&args_owned))
        .await
        .unwrap_or_else(|e| Err(AgentError::Internal(format!("import task failed: {e}"))));
    vec![Sourced {
        source: Source::File(args.input.display().to_string()),
        result,
    }]
}

/// The recording id for the file at `output`: its stem when that is a
/// valid id, else a new one.
fn id_for(output: &Path) -> String {
    output
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|stem| reel::ids::validate("id", stem).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| reel::ids::new_recording_id(SystemTime::now()))
}

fn import(args: &ImportArgs) -> Result<Imported, AgentError> {
    let id = id_for(&args.output);
    let header = Header {
        id: id.clone(),
        label: args.label.clone().unwrap_or_default(),
        agent_name: gethostname::gethostname().to_string_lossy().into_owned(),
        ..Header::default()
    };
    let summary = import_pcap_file(&args.input, &args.server, &args.output, header)
        .map_err(|e| local_error(&e))?;
    Ok(Imported {
        recording: args.output.display().to_string(),
        id,
        server: args.server.to_string(),
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_gives_the_id() {
        assert_eq!(id_for(Path::new("out/cap-1.reel")), "cap-1");
        let made = id_for(Path::new("out/my capture.reel"));
        assert!(reel::ids::validate("id", &made).is_ok() && made != "my capture");
    }

    #[test]
    fn notes_name_what_to_know() {
        let imported = Imported {
            recording: "x/other.reel".into(),
            id: "cap".into(),
            server: "127.0.0.1:5630".into(),
            summary: ImportSummary {
                truncated: Some(reel::pcap::Truncation {
                    offset: 300,
                    bytes: 7,
                }),
                ..ImportSummary::default()
            },
        };
        let notes = imported.notes().join("\n");
        assert!(notes.contains("inside a record at byte 300"), "{notes}");
        assert!(
            notes.contains("no TCP flow of server 127.0.0.1:5630"),
            "{notes}"
        );
        assert!(
            !notes.contains("record push"),
            "any name is pushed: {notes}"
        );
    }
}
