//! Prints the results of the commands that work on recordings wherever they
//! are (`stats`, `export`, `import`): one JSON document whose entries name
//! a local `file`, or an `agent` and its `recording`; or human sections with
//! failures and notes on stderr. Exit status 1 when any result failed.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::exit::Exit;
use crate::output::human::Human;
use crate::output::report::print_error;
use crate::settings::{OutputMode, Verbosity};
use crate::source::{Results, Source, Sourced};

/// `{"results":[...]}`.
#[derive(Serialize)]
struct Document<'a, T> {
    results: Vec<Entry<'a, T>>,
}

/// One result in the JSON document.
#[derive(Serialize)]
struct Entry<'a, T> {
    /// The local file, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    /// The agent's address, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
    /// The fleet file's name for the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// The recording id on the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    recording: Option<&'a str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn entry<T>(sourced: &Sourced<T>) -> Entry<'_, T> {
    let (file, agent, name, recording) = match &sourced.source {
        Source::File(path) => (Some(path.as_str()), None, None, None),
        Source::AgentClient { agent, recording } => (
            None,
            Some(agent.address.as_str()),
            agent.name.as_deref(),
            Some(recording.as_str()),
        ),
    };
    Entry {
        file,
        agent,
        name,
        recording,
        ok: sourced.result.is_ok(),
        data: sourced.result.as_ref().ok(),
        error: sourced.result.as_ref().err().map(ToString::to_string),
    }
}

fn write_json<T: Serialize>(out: &mut dyn Write, results: &Results<T>) -> io::Result<()> {
    let document = Document {
        results: results.iter().map(entry).collect(),
    };
    serde_json::to_writer(&mut *out, &document)?;
    writeln!(out)
}

/// Prints the results and returns the exit status. `notes` says what the
/// user should know about a success (printed as warnings in human mode;
/// they do not fail the run).
///
/// # Errors
/// Writing stdout failed.
pub(crate) fn print_sources<T: Serialize + Human>(
    results: &Results<T>,
    mode: OutputMode,
    notes: impl Fn(&T) -> Vec<String>,
) -> io::Result<Exit> {
    let mut out = BufWriter::new(io::stdout().lock());
    if mode.json {
        write_json(&mut out, results)?;
    } else {
        // Escaped as a whole: labels and names come from agents and files.
        let mut doc = Vec::new();
        let sections = results.len() > 1 && mode.verbosity != Verbosity::Quiet;
        let mut first = true;
        for sourced in results {
            let Ok(data) = &sourced.result else { continue };
            if sections {
                if !first {
                    writeln!(doc)?;
                }
                writeln!(doc, "==> {} <==", sourced.source.label())?;
            }
            first = false;
            match mode.verbosity {
                Verbosity::Quiet => data.write_ids(&mut doc)?,
                Verbosity::Normal => data.write_human(&mut doc, false)?,
                Verbosity::Verbose => data.write_human(&mut doc, true)?,
            }
        }
        crate::output::escape::write_safe(&mut out, &doc)?;
    }
    out.flush()?;
    drop(out);
    let mut oks = Vec::with_capacity(results.len());
    for sourced in results {
        match &sourced.result {
            Err(error) => {
                if !mode.json {
                    let code = match error.code() {
                        Some(code) if mode.verbosity == Verbosity::Verbose => {
                            format!(" (gRPC code {code:?})")
                        }
                        _ => String::new(),
                    };
                    print_error(&format!(
                        "{}: {}{code}",
                        sourced.source.label(),
                        error.brief()
                    ));
                }
                oks.push(false);
            }
            Ok(data) => {
                if !mode.json && mode.verbosity != Verbosity::Quiet {
                    let mut err = io::stderr().lock();
                    for note in notes(data) {
                        let note = crate::output::escape::safe_lines(&note);
                        let _ = writeln!(err, "warning: {}: {note}", sourced.source.label());
                    }
                }
                oks.push(true);
            }
        }
    }
    Ok(Exit::from_results(oks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AgentError;
    use crate::settings::AgentTarget;
    use serde_json::json;

    #[test]
    fn json_entries_name_their_file_or_agent() {
        let results = vec![
            Sourced {
                source: Source::File("/tmp/a.reel".into()),
                result: Ok(1),
            },
            Sourced {
                source: Source::AgentClient {
                    agent: AgentTarget {
                        address: "h:1".into(),
                        name: Some("web-1".into()),
                    },
                    recording: "r1".into(),
                },
                result: Err(AgentError::Local("gone".into())),
            },
        ];
        let mut out = Vec::new();
        write_json(&mut out, &results).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            json!({"results": [
                {"file": "/tmp/a.reel", "ok": true, "data": 1},
                {"agent": "h:1", "name": "web-1", "recording": "r1", "ok": false, "error": "gone"},
            ]})
        );
    }
}
