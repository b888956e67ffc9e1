//! Prints watch updates as they come: one line per event on stdout, stream
//! status and lag notices on stderr; with `--json`, everything as JSON Lines
//! on stdout (`watch_json`).

use std::io::{self, Write};
use std::time::Duration;

use crate::commands::watch::{Update, WatchItem};
use crate::event::{EventBody, WatchEvent};
use crate::output::escape::safe_lines;
use crate::output::format::{bytes, delay, duration_ms, kilobytes, rate};
use crate::output::watch_json;
use crate::settings::{AgentTarget, OutputMode, Verbosity};

/// Turns updates into lines.
#[derive(Debug)]
pub(crate) struct WatchPrinter {
    agents: Vec<AgentTarget>,
    mode: OutputMode,
    /// Width of the agent column in human lines.
    agent_width: usize,
}

impl WatchPrinter {
    pub(crate) fn new(agents: &[AgentTarget], mode: OutputMode) -> WatchPrinter {
        let agent_width = agents.iter().map(|a| short(a).chars().count()).max();
        WatchPrinter {
            agents: agents.to_vec(),
            mode,
            agent_width: agent_width.unwrap_or(0),
        }
    }

    /// Prints one update.
    ///
    /// # Errors
    /// Writing stdout failed (the reader went away).
    pub(crate) fn print(&self, update: &Update) -> io::Result<()> {
        let Some(agent) = self.agents.get(update.agent) else {
            return Ok(());
        };
        if self.mode.json {
            let mut out = io::stdout().lock();
            watch_json::write_line(&mut out, agent, &update.item)?;
            return out.flush();
        }
        match &update.item {
            WatchItem::Event(event) => match &event.body {
                EventBody::Lagged { missed } => {
                    note(&format!(
                        "{}: missed {missed} events (reading too slowly)",
                        short(agent)
                    ));
                    Ok(())
                }
                _ => {
                    // Rendered first, so the agent's text in it (names,
                    // labels, reasons) reaches the terminal escaped.
                    let mut line = Vec::new();
                    self.write_event(&mut line, agent, event)?;
                    let line = safe_lines(&String::from_utf8_lossy(&line));
                    let mut out = io::stdout().lock();
                    out.write_all(line.as_bytes())?;
                    out.flush()
                }
            },
            WatchItem::Connected => {
                if self.mode.verbosity != Verbosity::Quiet {
                    note(&format!("{}: connected", short(agent)));
                }
                Ok(())
            }
            WatchItem::Disconnected {
                error,
                retry_in,
                was_connected,
            } => {
                if self.mode.verbosity != Verbosity::Quiet {
                    note(&disconnected(
                        short(agent),
                        error,
                        *retry_in,
                        *was_connected,
                    ));
                }
                Ok(())
            }
        }
    }

    fn write_event(
        &self,
        out: &mut dyn Write,
        agent: &AgentTarget,
        event: &WatchEvent,
    ) -> io::Result<()> {
        let verbose = self.mode.verbosity == Verbosity::Verbose;
        let agent = format!("{:<w$}", short(agent), w = self.agent_width);
        let proxy = if event.proxy.is_empty() {
            "-"
        } else {
            &event.proxy
        };
        let head = format!("{}  {agent}  {proxy}", event.at.hms());
        match &event.body {
            EventBody::Stats {
                active_connections,
                total_connections,
                bytes_c2s_per_sec,
                bytes_s2c_per_sec,
                bytes_c2s,
                bytes_s2c,
            } => {
                write!(
                    out,
                    "{head}  conns={active_connections}  c2s={}  s2c={}",
                    rate(*bytes_c2s_per_sec),
                    rate(*bytes_s2c_per_sec)
                )?;
                if verbose {
                    write!(
                        out,
                        "  total={total_connections}  c2s_total={}  s2c_total={}",
                        bytes(*bytes_c2s),
                        bytes(*bytes_s2c)
                    )?;
                }
                writeln!(out)
            }
            EventBody::ConnectionOpened {
                connection,
                client,
                upstream,
            } => writeln!(
                out,
                "{head}  conn {connection} opened  {client} -> {upstream}"
            ),
            EventBody::ConnectionClosed {
                connection,
                reason,
                bytes_c2s,
                bytes_s2c,
                duration_ms: ms,
                ..
            } => writeln!(
                out,
                "{head}  conn {connection} closed ({reason})  {}  c2s={}  s2c={}",
                duration_ms(*ms),
                bytes(*bytes_c2s),
                bytes(*bytes_s2c)
            ),
            EventBody::Transfer {
                connection,
                direction,
                bytes: n,
                delay_us,
            } => {
                write!(
                    out,
                    "{} {} {proxy} conn {connection} transported {} KB {direction}",
                    event.at.hms_millis(),
                    agent.trim_end(),
                    kilobytes(*n)
                )?;
                if *delay_us > 0 {
                    write!(out, " (delayed {:.1} ms)", *delay_us as f64 / 1000.0)?;
                }
                writeln!(out)
            }
            EventBody::Recording { phase, recording } => {
                let Some(r) = recording else {
                    return writeln!(out, "{head}  recording {phase}");
                };
                let label = if r.label.is_empty() {
                    String::new()
                } else {
                    format!(" {:?}", r.label)
                };
                match *phase {
                    "started" => writeln!(out, "{head}  recording {}{label} started", r.id),
                    "failed" => writeln!(
                        out,
                        "{head}  recording {}{label} FAILED: {}",
                        r.id,
                        r.error.as_deref().unwrap_or("no reason given")
                    ),
                    _ => writeln!(
                        out,
                        "{head}  recording {}{label} {phase}: {}, {} connections, {}",
                        r.id,
                        duration_ms(r.duration_ms),
                        r.connections,
                        bytes(r.size_bytes)
                    ),
                }
            }
            EventBody::Proxy {
                phase,
                listen,
                upstream,
            } => writeln!(out, "{head}  proxy {phase}  {listen} -> {upstream}"),
            EventBody::Lagged { missed } => writeln!(out, "{head}  missed {missed} events"),
            EventBody::Replay {
                id,
                state,
                planned,
                opened,
                failed,
                finished,
                bytes_sent,
                expected_sent,
                ..
            } => writeln!(
                out,
                "{head}  replay {id} {state}  conns {finished}/{planned} done, {opened} opened, {failed} failed  sent {} of {}",
                bytes(*bytes_sent),
                bytes(*expected_sent)
            ),
        }
    }
}

/// The agent as watch lines name it: its fleet name, else its address.
fn short(agent: &AgentTarget) -> &str {
    agent.name.as_deref().unwrap_or(&agent.address)
}

fn disconnected(agent: &str, error: &str, retry_in: Duration, was_connected: bool) -> String {
    if was_connected {
        format!(
            "{agent}: disconnected ({error}); reconnecting in {}",
            delay(retry_in)
        )
    } else {
        format!("{agent}: {error}; retrying in {}", delay(retry_in))
    }
}

/// A status line on stderr.
fn note(text: &str) {
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "{}", safe_lines(text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::UnixNanos;

    fn printer() -> WatchPrinter {
        let agents = [
            AgentTarget {
                address: "10.0.0.1:7700".into(),
                name: None,
            },
            AgentTarget {
                address: "10.0.0.2:7700".into(),
                name: Some("web".into()),
            },
        ];
        WatchPrinter::new(
            &agents,
            OutputMode {
                json: false,
                verbosity: Verbosity::Normal,
            },
        )
    }

    fn line(printer: &WatchPrinter, agent: usize, body: EventBody) -> String {
        let event = WatchEvent {
            at: UnixNanos(1_714_564_984_034_000_000),
            proxy: "p1".into(),
            body,
        };
        let mut out = Vec::new();
        printer
            .write_event(&mut out, &printer.agents[agent], &event)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn human_lines() {
        let p = printer();
        let stats = EventBody::Stats {
            active_connections: 3,
            total_connections: 9,
            bytes_c2s_per_sec: 12_595,
            bytes_s2c_per_sec: 4096,
            bytes_c2s: 0,
            bytes_s2c: 0,
        };
        assert_eq!(
            line(&p, 1, stats),
            "12:03:04  web            p1  conns=3  c2s=12.3 KiB/s  s2c=4.0 KiB/s\n"
        );
        let transfer = EventBody::Transfer {
            connection: 3,
            direction: "c2s",
            bytes: 34,
            delay_us: 0,
        };
        assert_eq!(
            line(&p, 0, transfer),
            "12:03:04.034 10.0.0.1:7700 p1 conn 3 transported 0.034 KB c2s\n"
        );
    }

    #[test]
    fn status_lines() {
        let d = Duration::from_millis(400);
        assert_eq!(
            disconnected("h:1", "connection to agent lost: connection reset", d, true),
            "h:1: disconnected (connection to agent lost: connection reset); reconnecting in 400ms"
        );
        assert_eq!(
            disconnected("h:1", "cannot reach agent: connection refused", d, false),
            "h:1: cannot reach agent: connection refused; retrying in 400ms"
        );
    }
}
