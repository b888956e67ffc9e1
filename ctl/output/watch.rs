//! Prints watch updates as they come: one line per event on stdout (proxies
//! by name, idle proxies' stats left out, a total line per second across
//! proxies and agents: `watch_seconds`), stream status and lag notices on
//! stderr; with `--json`, every event exactly as received (plus its proxy's
//! name) as JSON Lines on stdout (`watch_json`).

use std::io::{self, Write};
use std::time::Duration;

use crate::commands::watch::{Update, WatchItem, WatchSink};
use crate::event::{EventBody, WatchEvent};
use crate::exit::Exit;
use crate::output::escape::safe_lines;
use crate::output::format::delay;
use crate::output::watch_seconds::{Seconds, StatsFigures};
use crate::output::{watch_json, watch_lines};
use crate::plural::count;
use crate::settings::{AgentTarget, OutputMode, Verbosity};
use crate::timestamp::UnixNanos;

/// Turns updates into lines.
#[derive(Debug)]
pub(crate) struct WatchPrinter {
    agents: Vec<AgentTarget>,
    mode: OutputMode,
    /// Width of the agent column in human lines.
    agent_width: usize,
    /// Which stats lines to print, and the totals (human output only).
    seconds: Seconds,
}

impl WatchSink for WatchPrinter {
    fn update(&mut self, update: Update) -> io::Result<()> {
        self.print(&update)
    }

    fn second(&mut self) -> io::Result<()> {
        let Some(total) = self.seconds.second() else {
            return Ok(());
        };
        if self.mode.json {
            return Ok(());
        }
        let now = UnixNanos(crate::clock::now_unix_ns());
        let mut out = io::stdout().lock();
        out.write_all(watch_lines::total_line(now, self.agent_width, &total).as_bytes())?;
        out.flush()
    }
}

impl WatchPrinter {
    pub(crate) fn new(agents: &[AgentTarget], mode: OutputMode) -> WatchPrinter {
        let agent_width = agents.iter().map(|a| short(a).chars().count()).max();
        WatchPrinter {
            agents: agents.to_vec(),
            mode,
            agent_width: agent_width.unwrap_or(0),
            seconds: Seconds::default(),
        }
    }

    /// Prints one update.
    ///
    /// # Errors
    /// Writing stdout failed (the reader went away).
    fn print(&mut self, update: &Update) -> io::Result<()> {
        if !self.mode.json {
            match &update.item {
                WatchItem::Event(event) if !self.worth_a_line(update.agent, event) => {
                    return Ok(());
                }
                WatchItem::Disconnected { .. } => self.seconds.agent_gone(update.agent),
                _ => {}
            }
        }
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
                EventBody::Lagged(reel::proto::Lagged { missed }) => {
                    note(&format!(
                        "{}: missed {} (reading too slowly)",
                        short(agent),
                        count(*missed, "event", "events")
                    ));
                    Ok(())
                }
                _ => {
                    // Rendered first, so the agent's text in it (names,
                    // labels, reasons) reaches the terminal escaped.
                    let mut line = Vec::new();
                    let column = format!("{:<w$}", short(agent), w = self.agent_width);
                    let verbose = self.mode.verbosity == Verbosity::Verbose;
                    watch_lines::write_event(&mut line, &column, verbose, event)?;
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

    /// Whether an event gets a line: not the stats of a proxy idle in
    /// that second (unless `-v`). Keeps the per-second state up to date.
    fn worth_a_line(&mut self, agent: usize, event: &WatchEvent) -> bool {
        match &event.body {
            EventBody::Stats(reel::proto::ProxyStats {
                active_connections,
                total_connections,
                bytes_c2s_per_sec,
                bytes_s2c_per_sec,
                ..
            }) => {
                let figures = StatsFigures {
                    active: *active_connections,
                    total: *total_connections,
                    c2s_per_sec: *bytes_c2s_per_sec,
                    s2c_per_sec: *bytes_s2c_per_sec,
                };
                let print = self.seconds.stats(agent, &event.proxy, figures);
                if !print && self.mode.verbosity == Verbosity::Verbose {
                    self.seconds.printed_anyway();
                    return true;
                }
                print
            }
            EventBody::Proxy(reel::proto::ProxyEvent { phase, .. }) => {
                if reel::wire::json::proxy_phase_word(*phase) == "stopped" {
                    self.seconds.proxy_stopped(agent, &event.proxy);
                }
                true
            }
            _ => true,
        }
    }
}

/// How a watch ends: 0 when every agent's stream opened at some point;
/// else 1, with the agents never reached named on stderr (a watch that saw
/// nothing of an agent failed for it, as any command that cannot reach one).
pub(crate) fn watch_end(never_reached: &[&AgentTarget], selected: usize) -> Exit {
    if never_reached.is_empty() {
        return Exit::Success;
    }
    let labels: Vec<String> = never_reached.iter().map(|a| a.label()).collect();
    let message = if never_reached.len() == selected {
        format!(
            "no agent was reached during the watch ({})",
            labels.join(", ")
        )
    } else {
        format!(
            "{} never reached during the watch: {}",
            crate::plural::noun(never_reached.len() as u64, "agent", "agents"),
            labels.join(", ")
        )
    };
    crate::output::print_error(&message);
    Exit::AgentFailed
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

    fn printer(verbosity: Verbosity) -> WatchPrinter {
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
                verbosity,
            },
        )
    }

    fn idle_stats() -> WatchEvent {
        WatchEvent {
            at: UnixNanos(0),
            proxy: "p1".into(),
            proxy_name: None,
            body: EventBody::Stats(reel::proto::ProxyStats {
                active_connections: 0,
                total_connections: 0,
                bytes_c2s_per_sec: 0,
                bytes_s2c_per_sec: 0,
                bytes_c2s: 0,
                bytes_s2c: 0,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn an_idle_proxy_gets_one_line_unless_verbose() {
        let mut normal = printer(Verbosity::Normal);
        let shown: Vec<bool> = (0..3)
            .map(|_| normal.worth_a_line(0, &idle_stats()))
            .collect();
        assert_eq!(shown, [true, false, false]);
        // The same proxy on another agent is another proxy.
        assert!(normal.worth_a_line(1, &idle_stats()));
        let mut verbose = printer(Verbosity::Verbose);
        assert!((0..3).all(|_| verbose.worth_a_line(0, &idle_stats())));
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
