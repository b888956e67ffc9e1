//! Prints a fan-out's results: one JSON document, or per-agent human
//! sections with the failures on stderr; and decides the exit status: 1 when
//! an agent failed or its result names a problem (a replay's failed
//! connections), else 0. A coordinated start adds its skew: a line under
//! the sections, `skew_us` beside `results` in JSON.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::commands::agents::AgentSummary;
use crate::error::AgentError;
use crate::exit::Exit;
use crate::fleet::{Outcome, Report};
use crate::output::format;
use crate::output::human::Human;
use crate::output::table::{Align, Table};
use crate::schedule::Skew;
use crate::settings::{OutputMode, Settings, Verbosity};

/// `{"results":[...]}`, and `"skew_us"` after a coordinated start.
#[derive(Serialize)]
struct Document<'a, T> {
    results: Vec<Entry<'a, T>>,
    /// Max − min of the agents' start instants (local clock); null when no
    /// agent started. Absent unless the start was coordinated.
    #[serde(skip_serializing_if = "Option::is_none")]
    skew_us: Option<Option<u64>>,
}

/// One agent's result in the JSON document.
#[derive(Serialize)]
struct Entry<'a, T> {
    /// The address exactly as given.
    agent: &'a str,
    /// The fleet file's name for the agent, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn document<T>(report: &Report<T>, skew: Option<Skew>) -> Document<'_, T> {
    let results = report
        .iter()
        .map(|outcome| Entry {
            agent: &outcome.agent.address,
            name: outcome.agent.name.as_deref(),
            ok: outcome.result.is_ok(),
            data: outcome.result.as_ref().ok(),
            error: outcome.result.as_ref().err().map(ToString::to_string),
        })
        .collect();
    Document {
        results,
        skew_us: skew.map(|s| s.skew_us),
    }
}

fn write_json<T: Serialize>(
    out: &mut dyn Write,
    report: &Report<T>,
    skew: Option<Skew>,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &document(report, skew))?;
    writeln!(out)
}

/// Prints a command's results and returns the exit status.
///
/// # Errors
/// Writing stdout failed (a broken pipe is the caller's to forgive).
pub(crate) fn print_report<T: Serialize + Human>(
    report: &Report<T>,
    mode: OutputMode,
) -> io::Result<Exit> {
    print_checked(report, mode, None, |_| Vec::new())
}

/// Prints results whose data may still fail the run: `problems` says why
/// (each is printed as an error line naming the agent, and makes the exit
/// status 1). `skew` adds the skew of a coordinated start.
///
/// # Errors
/// Writing stdout failed.
pub(crate) fn print_checked<T: Serialize + Human>(
    report: &Report<T>,
    mode: OutputMode,
    skew: Option<Skew>,
    problems: impl Fn(&T) -> Vec<String>,
) -> io::Result<Exit> {
    let mut out = BufWriter::new(io::stdout().lock());
    if mode.json {
        write_json(&mut out, report, skew)?;
    } else {
        // The whole human document passes through the escaper, so no
        // agent-provided control character reaches the terminal raw.
        let mut doc = Vec::new();
        let sections = report.len() > 1 && mode.verbosity != Verbosity::Quiet;
        let mut first = true;
        for outcome in report {
            let Ok(data) = &outcome.result else { continue };
            if sections {
                if !first {
                    writeln!(doc)?;
                }
                writeln!(doc, "==> {} <==", outcome.agent.label())?;
            }
            first = false;
            match mode.verbosity {
                Verbosity::Quiet => data.write_ids(&mut doc)?,
                Verbosity::Normal => data.write_human(&mut doc, false)?,
                Verbosity::Verbose => data.write_human(&mut doc, true)?,
            }
        }
        if let Some(skew) = skew
            && mode.verbosity != Verbosity::Quiet
        {
            write_skew(&mut doc, skew)?;
        }
        crate::output::escape::write_safe(&mut out, &doc)?;
    }
    out.flush()?;
    finish_checked(report, mode, problems)
}

/// `start skew across 3 agents: 412µs`, when any agent started.
fn write_skew(out: &mut dyn Write, skew: Skew) -> io::Result<()> {
    let Some(us) = skew.skew_us else {
        return Ok(());
    };
    let agents = if skew.agents == 1 { "agent" } else { "agents" };
    writeln!(
        out,
        "start skew across {} {agents}: {}",
        skew.agents,
        format::skew_us(us)
    )
}

/// Prints `agents` results: one table, a row per agent that answered.
///
/// # Errors
/// Writing stdout failed.
pub(crate) fn print_agents(report: &Report<AgentSummary>, mode: OutputMode) -> io::Result<Exit> {
    let mut out = BufWriter::new(io::stdout().lock());
    if mode.json {
        write_json(&mut out, report, None)?;
    } else if mode.verbosity == Verbosity::Quiet {
        for outcome in report {
            if let Ok(agent) = &outcome.result {
                writeln!(out, "{}", agent.id)?;
            }
        }
    } else {
        let mut doc = Vec::new();
        write_agents_table(&mut doc, report, mode.verbosity == Verbosity::Verbose)?;
        crate::output::escape::write_safe(&mut out, &doc)?;
    }
    out.flush()?;
    finish(report, mode)
}

fn write_agents_table(
    out: &mut dyn Write,
    report: &Report<AgentSummary>,
    verbose: bool,
) -> io::Result<()> {
    let mut columns = vec![
        ("AGENT", Align::Left),
        ("NAME", Align::Left),
        ("ID", Align::Left),
        ("VERSION", Align::Left),
        ("UPTIME", Align::Right),
        ("OFFSET", Align::Right),
        ("RTT", Align::Right),
        ("PROXIES", Align::Right),
        ("RECORDINGS", Align::Right),
    ];
    if verbose {
        columns.push(("DATA DIR", Align::Left));
    }
    let mut table = Table::new(&columns);
    let mut rows = 0;
    for outcome in report {
        let Ok(a) = &outcome.result else { continue };
        table.row(vec![
            outcome.agent.label(),
            a.name.clone(),
            a.id.clone(),
            a.version.clone(),
            format::duration_ms(a.uptime_ms),
            format::offset_us(a.clock_offset_us),
            format::micros(a.rtt_us),
            a.proxies.to_string(),
            a.recordings.to_string(),
            a.data_dir.clone(),
        ]);
        rows += 1;
    }
    if rows > 0 {
        table.write(out)?;
    }
    Ok(())
}

/// Prints the failures on stderr (human mode) and returns the exit status.
fn finish<T>(report: &Report<T>, mode: OutputMode) -> io::Result<Exit> {
    finish_checked(report, mode, |_| Vec::new())
}

/// Prints the failures and the problems on stderr (human mode) and returns
/// the exit status.
fn finish_checked<T>(
    report: &Report<T>,
    mode: OutputMode,
    problems: impl Fn(&T) -> Vec<String>,
) -> io::Result<Exit> {
    let mut oks = Vec::with_capacity(report.len());
    for outcome in report {
        match &outcome.result {
            Err(error) => {
                if !mode.json {
                    print_agent_error(outcome, error, mode.verbosity);
                }
                oks.push(false);
            }
            Ok(data) => {
                let problems = problems(data);
                if !mode.json {
                    for problem in &problems {
                        print_error(&format!("{}: {problem}", outcome.agent.label()));
                    }
                }
                oks.push(problems.is_empty());
            }
        }
    }
    Ok(Exit::from_results(oks))
}

fn print_agent_error<T>(outcome: &Outcome<T>, error: &AgentError, verbosity: Verbosity) {
    let code = match error.code() {
        Some(code) if verbosity == Verbosity::Verbose => format!(" (gRPC code {code:?})"),
        _ => String::new(),
    };
    print_error(&format!(
        "{}: {}{code}",
        outcome.agent.label(),
        error.brief()
    ));
}

/// `error: MESSAGE` on stderr, with the message's causes.
pub(crate) fn print_error(message: &dyn std::fmt::Display) {
    // Messages carry agents' text (echoed names, labels): escaped.
    let message = crate::output::escape::safe_lines(&message.to_string());
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "error: {message}");
}

/// The single-threaded runtime a command runs on; when it cannot start,
/// the error is printed and the exit status to end with returned.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            print_error(&format!("cannot start the async runtime: {error}"));
            Exit::Internal
        })
}

/// The settings' warnings on stderr, unless `-q`.
pub(crate) fn print_warnings(settings: &Settings) {
    if settings.output.verbosity == Verbosity::Quiet {
        return;
    }
    let mut err = io::stderr().lock();
    for warning in &settings.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
}

#[cfg(test)]
mod tests;
