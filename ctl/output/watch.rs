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
use crate::output::format::{bytes, delay, duration_ms, kilobytes, rate};
use crate::output::watch_json;
use crate::output::watch_seconds::{Seconds, StatsFigures, Total};
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
        if self.mode.json || self.mode.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        let now = UnixNanos(crate::clock::now_unix_ns());
        let mut out = io::stdout().lock();
        out.write_all(total_line(now, self.agent_width, &total).as_bytes())?;
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
                EventBody::Lagged { missed } => {
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

    /// Whether an event gets a line: not the stats of a proxy idle in
    /// that second (unless `-v`). Keeps the per-second state up to date.
    fn worth_a_line(&mut self, agent: usize, event: &WatchEvent) -> bool {
        match &event.body {
            EventBody::Stats {
                active_connections,
                total_connections,
                bytes_c2s_per_sec,
                bytes_s2c_per_sec,
                ..
            } => {
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
            EventBody::Proxy { phase, .. } => {
                if *phase == "stopped" {
                    self.seconds.proxy_stopped(agent, &event.proxy);
                }
                true
            }
            _ => true,
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
        let proxy = match (&event.proxy_name, event.proxy.as_str()) {
            (Some(name), _) => name.as_str(),
            (None, "") => "-",
            (None, id) => id,
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
                        "{head}  recording {}{label} {phase}: {}, {}, {}",
                        r.id,
                        duration_ms(r.duration_ms),
                        count(r.connections, "connection", "connections"),
                        bytes(r.size_bytes)
                    ),
                }
            }
            EventBody::Proxy {
                phase,
                listen,
                upstream,
            } => writeln!(out, "{head}  proxy {phase}  {listen} -> {upstream}"),
            EventBody::Lagged { missed } => {
                writeln!(out, "{head}  missed {}", count(*missed, "event", "events"))
            }
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

/// `12:03:05  total  conns=12  c2s=1.2 KiB/s  s2c=3.4 KiB/s  (3 proxies on
/// 2 agents)`: the sums of one second, aligned with the event lines.
fn total_line(now: UnixNanos, agent_width: usize, t: &Total) -> String {
    format!(
        "{}  {:<agent_width$}  conns={}  c2s={}  s2c={}  ({} on {})\n",
        now.hms(),
        "total",
        t.active,
        rate(t.c2s_per_sec),
        rate(t.s2c_per_sec),
        count(t.proxies, "proxy", "proxies"),
        count(t.agents, "agent", "agents")
    )
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
        named_line(printer, agent, None, body)
    }

    fn named_line(
        printer: &WatchPrinter,
        agent: usize,
        proxy_name: Option<&str>,
        body: EventBody,
    ) -> String {
        let event = WatchEvent {
            at: UnixNanos(1_714_564_984_034_000_000),
            proxy: "p1".into(),
            proxy_name: proxy_name.map(str::to_owned),
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
    fn proxies_by_name_and_counts_in_words() {
        let p = printer();
        let opened = EventBody::ConnectionOpened {
            connection: 1,
            client: "127.0.0.1:5000".into(),
            upstream: "127.0.0.1:6000".into(),
        };
        assert_eq!(
            named_line(&p, 1, Some("game"), opened),
            "12:03:04  web            game  conn 1 opened  127.0.0.1:5000 -> 127.0.0.1:6000\n"
        );
        let recording = |connections| EventBody::Recording {
            phase: "stopped",
            recording: Some(crate::commands::record::RecordingView::from(
                reel::proto::RecordingInfo {
                    id: "r1".into(),
                    connections,
                    duration_ms: 2000,
                    size_bytes: 100,
                    ..Default::default()
                },
            )),
        };
        let one = line(&p, 0, recording(1));
        assert!(
            one.ends_with("recording r1 stopped: 2s, 1 connection, 100 B\n"),
            "{one}"
        );
        let two = line(&p, 0, recording(2));
        assert!(two.ends_with(": 2s, 2 connections, 100 B\n"), "{two}");
        let lagged = line(&p, 0, EventBody::Lagged { missed: 1 });
        assert!(lagged.ends_with("p1  missed 1 event\n"), "{lagged}");
    }

    #[test]
    fn the_total_line_lines_up_with_the_events() {
        let total = Total {
            proxies: 3,
            agents: 1,
            active: 12,
            c2s_per_sec: 2048,
            s2c_per_sec: 0,
        };
        assert_eq!(
            total_line(UnixNanos(1_714_564_985_000_000_000), 13, &total),
            "12:03:05  total          conns=12  c2s=2.0 KiB/s  s2c=0 B/s  (3 proxies on 1 agent)\n"
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
