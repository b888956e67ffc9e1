//! `reelctl stats REC...`: the traffic analysis of recordings. A local file
//! is analysed here with `reel::stats` (the agent's own code); a recording
//! id is analysed by every selected agent where it lies (AnalyzeRecording),
//! without downloading it. `--timeline` and `--plot` are written here from
//! the analysis, whichever side computed it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel::proto as pb;
use reel::stats::{Analysis, AnalyzeOptions, Projection, analyze_file};
use reel::wire::analysis;
use serde::Serialize;

use crate::args::StatsArgs;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient};
use crate::settings::Settings;
use crate::source::{Rec, Results, Source, Sourced, local_error, suffixed};

/// Slowest rate at which an agent is expected to analyse a recording: the
/// deadline of an analysis grows with the file's size beyond `--timeout`.
const ANALYZE_BYTES_PER_SEC: u64 = 32 * 1024 * 1024;

/// Largest analysis an agent may send: the timeline has at most 1,000 rows,
/// so the size is the top-connections list's (`--top` up to 100,000 rows).
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

/// The analysis of one recording, as printed (`--json`: the `Analysis`
/// fields, then the extras).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StatsReport {
    #[serde(flatten)]
    pub(crate) analysis: Analysis,
    /// With `--online N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) projection: Option<Projection>,
    /// Where `--timeline` was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeline_csv: Option<String>,
    /// Where `--plot` was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plot_svg: Option<String>,
}

/// A result still being computed.
enum Pending {
    Local(
        PathBuf,
        tokio::task::JoinHandle<Result<StatsReport, AgentError>>,
    ),
    Remote(String, tokio::task::JoinHandle<fleet::Report<StatsReport>>),
}

/// Analyses every REC (files here, ids on every agent), all at once; the
/// results come in the order of `recs`, an id's once per agent.
pub(crate) async fn run(
    settings: &Settings,
    args: &StatsArgs,
    recs: Vec<Rec>,
) -> Results<StatsReport> {
    let options = AnalyzeOptions {
        top: args.top as usize,
        framing: args.framing,
    };
    let online = args.online;
    let mut pending = Vec::with_capacity(recs.len());
    for rec in recs {
        match rec {
            Rec::File(path) => {
                let (p, options) = (path.clone(), options.clone());
                let task = tokio::task::spawn_blocking(move || analyze_local(&p, options, online));
                pending.push(Pending::Local(path, task));
            }
            Rec::Id(id) => {
                let (settings, args, task_id) = (settings.clone(), args.clone(), id.clone());
                let task = tokio::spawn(async move {
                    fleet::run_all(&settings, |agent| {
                        analyze_remote(agent, task_id.clone(), args.clone())
                    })
                    .await
                });
                pending.push(Pending::Remote(id, task));
            }
        }
    }
    let mut results = Vec::new();
    for p in pending {
        match p {
            Pending::Local(path, task) => results.push(Sourced {
                source: Source::File(path.display().to_string()),
                result: task.await.unwrap_or_else(|e| {
                    Err(AgentError::Internal(format!("analysis task failed: {e}")))
                }),
            }),
            Pending::Remote(id, task) => match task.await {
                Ok(report) => results.extend(report.into_iter().map(|o| Sourced {
                    source: Source::AgentClient {
                        agent: o.agent,
                        recording: id.clone(),
                    },
                    result: o.result,
                })),
                Err(e) => {
                    for agent in &settings.agents {
                        results.push(Sourced {
                            source: Source::AgentClient {
                                agent: agent.clone(),
                                recording: id.clone(),
                            },
                            result: Err(AgentError::Internal(format!("agent task failed: {e}"))),
                        });
                    }
                }
            },
        }
    }
    write_files(&mut results, args, settings.agents.len() > 1);
    results
}

/// Analyses a local file.
fn analyze_local(
    path: &Path,
    options: AnalyzeOptions,
    online: Option<u64>,
) -> Result<StatsReport, AgentError> {
    let analysis = analyze_file(path, options).map_err(|e| local_error(&e))?;
    Ok(report(analysis, online))
}

fn report(analysis: Analysis, online: Option<u64>) -> StatsReport {
    StatsReport {
        projection: online.map(|n| analysis.project(n)),
        analysis,
        timeline_csv: None,
        plot_svg: None,
    }
}

/// How long an agent may take to analyse `size` bytes.
fn analysis_deadline(timeout: Duration, size: u64) -> Duration {
    timeout + Duration::from_secs(size / ANALYZE_BYTES_PER_SEC)
}

/// Has `agent` analyse its recording `id`.
async fn analyze_remote(
    agent: AgentClient,
    id: String,
    args: StatsArgs,
) -> Result<StatsReport, AgentError> {
    let request = pb::GetRecordingRequest { id: id.clone() };
    let info = agent
        .unary(|mut client| async move { client.get_recording(request).await })
        .await?;
    let request = pb::AnalyzeRecordingRequest {
        id,
        framing: args.framing.map(|f| f.to_string()).unwrap_or_default(),
        top: args.top,
        online: args.online.unwrap_or(0),
    };
    let deadline = analysis_deadline(agent.timeout(), info.size_bytes);
    let answer = agent
        .unary_within(deadline, |client| async move {
            client
                .max_decoding_message_size(MAX_ANSWER_BYTES)
                .analyze_recording(request)
                .await
        })
        .await?;
    let analysis = answer
        .analysis
        .ok_or_else(|| AgentError::Protocol("the agent sent no analysis".to_owned()))?;
    let analysis = analysis::from_proto(analysis)
        .map_err(|e| AgentError::Protocol(format!("the analysis does not parse: {e}")))?;
    let projection = match (args.online, answer.projection) {
        (None, _) => None,
        (Some(_), Some(p)) => Some(analysis::projection_from(p)),
        (Some(_), None) => {
            return Err(AgentError::Protocol(
                "the agent sent no projection".to_owned(),
            ));
        }
    };
    Ok(StatsReport {
        analysis,
        projection,
        timeline_csv: None,
        plot_svg: None,
    })
}

/// Writes `--timeline` and `--plot` for every successful result; a file
/// that cannot be written fails its result.
fn write_files(results: &mut Results<StatsReport>, args: &StatsArgs, several_agents: bool) {
    if args.timeline.is_none() && args.plot.is_none() {
        return;
    }
    let several = results.len() > 1;
    for sourced in results.iter_mut() {
        let Ok(report) = &mut sourced.result else {
            continue;
        };
        let name = |path: &Path| {
            if several {
                suffixed(path, &sourced.source.suffix(several_agents))
            } else {
                path.to_path_buf()
            }
        };
        let mut written = Ok(());
        if let Some(path) = &args.timeline {
            let path = name(path);
            written = write(&path, report.analysis.timeline_csv().as_bytes());
            report.timeline_csv = Some(path.display().to_string());
        }
        if let Some(path) = args.plot.as_ref().filter(|_| written.is_ok()) {
            let path = name(path);
            let title = format!("reel: {}", sourced.source.label());
            written = write(&path, report.analysis.svg(&title).as_bytes());
            report.plot_svg = Some(path.display().to_string());
        }
        if let Err(e) = written {
            sourced.result = Err(e);
        }
    }
}

fn write(path: &Path, data: &[u8]) -> Result<(), AgentError> {
    std::fs::write(path, data)
        .map_err(|e| AgentError::Local(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_recordings_get_time_to_be_analysed() {
        let timeout = Duration::from_secs(5);
        assert_eq!(analysis_deadline(timeout, 1 << 20), timeout);
        assert_eq!(
            analysis_deadline(timeout, 10 * ANALYZE_BYTES_PER_SEC),
            Duration::from_secs(15)
        );
    }
}
