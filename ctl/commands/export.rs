//! `reelctl export REC --pcap OUT.pcapng`: a recording as a pcapng capture
//! for Wireshark and tshark. A local file is exported here; a recording id
//! is first downloaded from every selected agent (the `record pull`
//! transfer, SHA-256 checked) into a hidden temporary file beside OUT,
//! which is removed afterwards.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use reel::pcap::export_pcapng_file;
use reel::stats::RecordingEnd;
use serde::Serialize;

use crate::args::ExportArgs;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient};
use crate::plural::{count, noun};
use crate::settings::Settings;
use crate::source::{Rec, Results, Source, Sourced, local_error, suffixed};
use crate::transfer;

/// What one export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Exported {
    /// The recording: the local file, or the id on the agent.
    pub(crate) recording: String,
    /// The pcapng file written.
    pub(crate) pcap: String,
    pub(crate) size_bytes: u64,
    /// Flows written, one per recorded connection (UDP sessions included).
    pub(crate) connections: u64,
    /// Of `connections`, the UDP sessions (a UDP flow each).
    pub(crate) udp_sessions: u64,
    /// Flows without a handshake (the connection was open before recording).
    pub(crate) mid_session_connections: u64,
    /// Connections whose addresses did not parse (127.0.0.1 stands in).
    pub(crate) fallback_addresses: u64,
    pub(crate) packets: u64,
    pub(crate) bytes_c2s: u64,
    pub(crate) bytes_s2c: u64,
    /// UDP datagrams written, one packet each.
    pub(crate) datagrams_c2s: u64,
    pub(crate) datagrams_s2c: u64,
    /// Datagrams too large for one IP packet: skipped (not fragmented).
    pub(crate) oversized_datagrams: u64,
    /// Recorded losses, shown as sequence gaps.
    pub(crate) lost_bytes: u64,
    /// Frames with no packet (annotations, frames after a CLOSE).
    pub(crate) skipped_frames: u64,
    /// How the recording ended (a cut file is exported up to the cut).
    pub(crate) end: RecordingEnd,
}

impl Exported {
    /// What the user should know although the export succeeded.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        match &self.end {
            RecordingEnd::Complete => {}
            RecordingEnd::Truncated { cut_bytes, .. } => notes.push(format!(
                "the recording is cut short ({} of a partial frame dropped); \
                 exported up to the cut",
                count(*cut_bytes, "byte", "bytes")
            )),
            RecordingEnd::Corrupted { offset, reason } => notes.push(format!(
                "the recording is damaged at byte {offset} ({reason}); exported up to there"
            )),
        }
        if self.oversized_datagrams > 0 {
            notes.push(format!(
                "{} larger than one IP packet carries (65,507 bytes over IPv4) {} skipped",
                count(self.oversized_datagrams, "datagram", "datagrams"),
                noun(self.oversized_datagrams, "was", "were")
            ));
        }
        if self.fallback_addresses > 0 {
            notes.push(format!(
                "{} no usable address and {} 127.0.0.1",
                count(self.fallback_addresses, "connection had", "connections had"),
                noun(self.fallback_addresses, "uses", "use")
            ));
        }
        notes
    }
}

/// Exports the local file, or the id from every selected agent.
pub(crate) async fn run(settings: &Settings, args: &ExportArgs, rec: Rec) -> Results<Exported> {
    match rec {
        Rec::File(path) => {
            let (input, out) = (path.clone(), args.pcap.clone());
            let result = tokio::task::spawn_blocking(move || {
                export_file(&input, &out, input.display().to_string())
            })
            .await
            .unwrap_or_else(|e| Err(AgentError::Internal(format!("export task failed: {e}"))));
            vec![Sourced {
                source: Source::File(path.display().to_string()),
                result,
            }]
        }
        Rec::Id(id) => {
            let several = settings.agents.len() > 1;
            let outputs: HashMap<String, PathBuf> = settings
                .agents
                .iter()
                .map(|agent| {
                    let source = Source::AgentClient {
                        agent: agent.clone(),
                        recording: id.clone(),
                    };
                    let out = if several {
                        suffixed(&args.pcap, &source.suffix(true))
                    } else {
                        args.pcap.clone()
                    };
                    (agent.address.clone(), out)
                })
                .collect();
            let report = fleet::run_all(settings, |agent| {
                let out = outputs.get(agent.address()).cloned();
                export_remote(agent, id.clone(), out)
            })
            .await;
            report
                .into_iter()
                .map(|o| Sourced {
                    source: Source::AgentClient {
                        agent: o.agent,
                        recording: id.clone(),
                    },
                    result: o.result,
                })
                .collect()
        }
    }
}

/// Downloads recording `id` from `agent` beside `out`, then exports it.
async fn export_remote(
    agent: AgentClient,
    id: String,
    out: Option<PathBuf>,
) -> Result<Exported, AgentError> {
    let out = out.ok_or_else(|| AgentError::Internal("no output for this agent".to_owned()))?;
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = transfer::download_temp(&agent, &id, &dir, &name).await?;
    tokio::task::spawn_blocking(move || {
        let exported = export_file(temp.path(), &out, id);
        drop(temp);
        exported
    })
    .await
    .unwrap_or_else(|e| Err(AgentError::Internal(format!("export task failed: {e}"))))
}

/// Exports the recording file `input` to `out`; no `out` is left on error.
fn export_file(input: &Path, out: &Path, recording: String) -> Result<Exported, AgentError> {
    let file = File::create(out)
        .map_err(|e| AgentError::Local(format!("creating {}: {e}", out.display())))?;
    let summary = match export_pcapng_file(input, BufWriter::new(file)) {
        Ok(summary) => summary,
        Err(e) => {
            // No half capture is left behind; the error says why.
            let _ = std::fs::remove_file(out);
            return Err(local_error(&e));
        }
    };
    let size_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Exported {
        recording,
        pcap: out.display().to_string(),
        size_bytes,
        connections: summary.connections,
        udp_sessions: summary.udp_sessions,
        mid_session_connections: summary.mid_session_connections,
        fallback_addresses: summary.fallback_addresses,
        packets: summary.packets,
        bytes_c2s: summary.bytes_c2s,
        bytes_s2c: summary.bytes_s2c,
        datagrams_c2s: summary.datagrams_c2s,
        datagrams_s2c: summary.datagrams_s2c,
        oversized_datagrams: summary.oversized_datagrams,
        lost_bytes: summary.lost_bytes,
        skipped_frames: summary.skipped_frames,
        end: (&summary.end).into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_recording_leaves_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("notes.txt");
        std::fs::write(&input, b"hello, not a recording").unwrap();
        let out = dir.path().join("out.pcapng");
        let err = export_file(&input, &out, "notes.txt".into()).unwrap_err();
        assert!(err.to_string().contains("not a"), "{err}");
        assert!(!out.exists());
    }
}
