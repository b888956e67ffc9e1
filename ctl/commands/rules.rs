//! `reelctl rules check FILE REC`: the dry run of a rules file on a
//! recording (`reel::rewrite::Checker`, the engine's own code), so a user
//! learning a protocol sees what the rules find before any replay. REC is
//! found as `stats` and `export` find it (`source::classify`): a local file
//! is checked here; a recording id is downloaded from every selected agent
//! into a temporary file (`transfer::download_temp`, as `export` does),
//! checked, and removed.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use reel::format::{Next, RecordingReader};
use reel::rewrite::{CheckReport, Checker, Rules};
use reel::stats::RecordingEnd;
use serde::Serialize;

use crate::args::RulesCheckArgs;
use crate::error::AgentError;
use crate::exit::Exit;
use crate::fleet::{self, AgentClient};
use crate::settings::Settings;
use crate::source::{Rec, Results, Source, Sourced, local_error};
use crate::transfer;

/// The dry run of the rules on one recording, as printed (`--json`: the
/// report's fields, then these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RulesChecked {
    /// The rules file, as given (`rules` is the report's list of rules).
    pub(crate) rules_file: String,
    #[serde(flatten)]
    pub(crate) report: CheckReport,
    /// How the recording file ended (a cut file is checked up to the cut).
    pub(crate) end: RecordingEnd,
}

/// Reads and parses the rules file.
///
/// # Errors
/// The file cannot be read, or is malformed: the message names the file
/// and the table, index and field at fault (a usage error, exit 2).
pub(crate) fn load(path: &Path) -> Result<Rules, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
    Rules::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks the rules on the local file, or on the id from every selected agent.
pub(crate) async fn check(
    settings: &Settings,
    args: &RulesCheckArgs,
    rules: Rules,
    rec: Rec,
) -> Results<RulesChecked> {
    let rules = Arc::new(rules);
    let name = args.file.display().to_string();
    match rec {
        Rec::File(path) => {
            let (input, rules) = (path.clone(), Arc::clone(&rules));
            let result = tokio::task::spawn_blocking(move || check_file(rules, &input, name))
                .await
                .unwrap_or_else(|e| Err(AgentError::Internal(format!("check task failed: {e}"))));
            vec![Sourced {
                source: Source::File(path.display().to_string()),
                result,
            }]
        }
        Rec::Id(id) => {
            let report = fleet::run_all(settings, |agent| {
                check_remote(agent, id.clone(), Arc::clone(&rules), name.clone())
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

/// The exit status: that of the results, or 1 when a checked recording has
/// a rule that matched nothing.
pub(crate) fn exit(printed: Exit, results: &Results<RulesChecked>) -> Exit {
    let unmatched = results
        .iter()
        .filter_map(|s| s.result.as_ref().ok())
        .any(|c| c.report.unmatched().next().is_some());
    match printed {
        Exit::Success if unmatched => Exit::CheckFailed,
        other => other,
    }
}

/// Downloads recording `id` from `agent` into the temporary directory,
/// then checks it.
async fn check_remote(
    agent: AgentClient,
    id: String,
    rules: Arc<Rules>,
    name: String,
) -> Result<RulesChecked, AgentError> {
    let temp = transfer::download_temp(&agent, &id, &std::env::temp_dir(), &id).await?;
    tokio::task::spawn_blocking(move || {
        let checked = check_file(rules, temp.path(), name);
        drop(temp);
        checked
    })
    .await
    .unwrap_or_else(|e| Err(AgentError::Internal(format!("check task failed: {e}"))))
}

/// Runs the rules over the recording file `path`, frame by frame.
fn check_file(rules: Arc<Rules>, path: &Path, name: String) -> Result<RulesChecked, AgentError> {
    let file =
        File::open(path).map_err(|e| AgentError::Local(format!("{}: {e}", path.display())))?;
    let mut reader = RecordingReader::open(file).map_err(|e| local_error(&e))?;
    let mut checker = Checker::new(rules);
    let end = loop {
        match reader.next().map_err(|e| local_error(&e))? {
            Next::Frame(frame) => checker.push(&frame),
            Next::End(end) => break end,
        }
    };
    Ok(RulesChecked {
        rules_file: name,
        report: checker.finish(),
        end: (&end).into(),
    })
}
