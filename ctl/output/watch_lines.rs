//! The human lines of `watch`: one per event (`HH:MM:SS  AGENT  PROXY
//! ...`, transfers in the seed tool's format) and the per-second total.
//! Pure text: `watch` decides which events get a line and escapes them.

use std::io::{self, Write};

use crate::commands::record::RecordingExt;
use crate::event::{EventBody, WatchEvent};
use crate::output::format::{bytes, duration_ms, kilobytes, rate};
use crate::output::watch_seconds::Total;
use crate::plural::count;
use crate::timestamp::UnixNanos;

/// One event as a human line. `agent` is the agent column, padded to the
/// width of the longest agent name.
pub(super) fn write_event(
    out: &mut dyn Write,
    agent: &str,
    verbose: bool,
    event: &WatchEvent,
) -> io::Result<()> {
    let proxy = match (&event.proxy_name, event.proxy.as_str()) {
        (Some(name), _) => name.as_str(),
        (None, "") => "-",
        (None, id) => id,
    };
    let head = format!("{}  {agent}  {proxy}", event.at.hms());
    match &event.body {
        EventBody::Stats(reel::proto::ProxyStats {
            active_connections,
            total_connections,
            bytes_c2s_per_sec,
            bytes_s2c_per_sec,
            bytes_c2s,
            bytes_s2c,
            datagrams_c2s_per_sec,
            datagrams_s2c_per_sec,
        }) => {
            write!(
                out,
                "{head}  conns={active_connections}  c2s={}  s2c={}",
                rate(*bytes_c2s_per_sec),
                rate(*bytes_s2c_per_sec)
            )?;
            if *datagrams_c2s_per_sec + *datagrams_s2c_per_sec > 0 {
                write!(
                    out,
                    "  dgrams/s c2s={datagrams_c2s_per_sec}  s2c={datagrams_s2c_per_sec}"
                )?;
            }
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
        EventBody::ConnectionOpened(reel::proto::ConnectionOpened {
            connection,
            client,
            upstream,
        }) => writeln!(
            out,
            "{head}  conn {connection} opened  {client} -> {upstream}"
        ),
        EventBody::ConnectionClosed(reel::proto::ConnectionClosed {
            connection,
            reason,
            bytes_c2s,
            bytes_s2c,
            duration_ms: ms,
            ..
        }) => writeln!(
            out,
            "{head}  conn {connection} closed ({reason})  {}  c2s={}  s2c={}",
            duration_ms(*ms),
            bytes(*bytes_c2s),
            bytes(*bytes_s2c)
        ),
        EventBody::Transfer(reel::proto::Transfer {
            connection,
            direction,
            bytes: n,
            delay_us,
            ..
        }) => {
            write!(
                out,
                "{} {} {proxy} conn {connection} transported {} KB {}",
                event.at.hms_millis(),
                agent.trim_end(),
                kilobytes(*n),
                reel::wire::json::direction_word(*direction)
            )?;
            if *delay_us > 0 {
                write!(out, " (delayed {:.1} ms)", *delay_us as f64 / 1000.0)?;
            }
            writeln!(out)
        }
        EventBody::Recording(reel::proto::RecordingEvent { phase, recording }) => {
            let phase = reel::wire::json::recording_phase_word(*phase);
            let Some(r) = recording else {
                return writeln!(out, "{head}  recording {phase}");
            };
            let label = if r.label.is_empty() {
                String::new()
            } else {
                format!(" {:?}", r.label)
            };
            match phase {
                "started" => writeln!(out, "{head}  recording {}{label} started", r.id),
                "failed" => writeln!(
                    out,
                    "{head}  recording {}{label} FAILED: {}",
                    r.id,
                    r.error_text().unwrap_or("no reason given")
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
        EventBody::Proxy(reel::proto::ProxyEvent {
            phase,
            listen,
            upstream,
        }) => writeln!(
            out,
            "{head}  proxy {}  {listen} -> {upstream}",
            reel::wire::json::proxy_phase_word(*phase)
        ),
        EventBody::Lagged(reel::proto::Lagged { missed }) => {
            writeln!(out, "{head}  missed {}", count(*missed, "event", "events"))
        }
        EventBody::Replay(reel::proto::ReplayProgress {
            id,
            state,
            planned,
            opened,
            failed,
            finished,
            bytes_sent,
            expected_sent,
            ..
        }) => writeln!(
            out,
            "{head}  replay {id} {}  conns {finished}/{planned} done, {opened} opened, {failed} failed  sent {} of {}",
            reel::wire::json::replay_state_word(*state),
            bytes(*bytes_sent),
            bytes(*expected_sent)
        ),
    }
}

/// `12:03:05  total  conns=12  c2s=1.2 KiB/s  s2c=3.4 KiB/s  (3 proxies on
/// 2 agents)`: the sums of one second, aligned with the event lines.
pub(super) fn total_line(now: UnixNanos, agent_width: usize, t: &Total) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(agent: &str, proxy_name: Option<&str>, body: EventBody) -> String {
        let event = WatchEvent {
            at: UnixNanos(1_714_564_984_034_000_000),
            proxy: "p1".into(),
            proxy_name: proxy_name.map(str::to_owned),
            body,
        };
        let mut out = Vec::new();
        write_event(&mut out, agent, false, &event).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn human_lines() {
        let stats = EventBody::Stats(reel::proto::ProxyStats {
            active_connections: 3,
            total_connections: 9,
            bytes_c2s_per_sec: 12_595,
            bytes_s2c_per_sec: 4096,
            bytes_c2s: 0,
            bytes_s2c: 0,
            ..Default::default()
        });
        assert_eq!(
            line("web          ", None, stats),
            "12:03:04  web            p1  conns=3  c2s=12.3 KiB/s  s2c=4.0 KiB/s\n"
        );
        let udp = EventBody::Stats(reel::proto::ProxyStats {
            active_connections: 2,
            total_connections: 2,
            bytes_c2s_per_sec: 2048,
            bytes_s2c_per_sec: 2048,
            datagrams_c2s_per_sec: 40,
            datagrams_s2c_per_sec: 38,
            ..Default::default()
        });
        assert_eq!(
            line("web          ", None, udp),
            "12:03:04  web            p1  conns=2  c2s=2.0 KiB/s  s2c=2.0 KiB/s  dgrams/s c2s=40  s2c=38\n"
        );
        let transfer = EventBody::Transfer(reel::proto::Transfer {
            connection: 3,
            direction: reel::proto::Direction::C2s as i32,
            bytes: 34,
            delay_us: 0,
            drawn_delay_us: 0,
        });
        assert_eq!(
            line("10.0.0.1:7700", None, transfer),
            "12:03:04.034 10.0.0.1:7700 p1 conn 3 transported 0.034 KB c2s\n"
        );
    }

    #[test]
    fn proxies_by_name_and_counts_in_words() {
        let opened = EventBody::ConnectionOpened(reel::proto::ConnectionOpened {
            connection: 1,
            client: "127.0.0.1:5000".into(),
            upstream: "127.0.0.1:6000".into(),
        });
        assert_eq!(
            line("web          ", Some("game"), opened),
            "12:03:04  web            game  conn 1 opened  127.0.0.1:5000 -> 127.0.0.1:6000\n"
        );
        let recording = |connections| {
            EventBody::Recording(reel::proto::RecordingEvent {
                phase: reel::proto::recording_event::Phase::Stopped as i32,
                recording: Some(reel::proto::RecordingInfo {
                    id: "r1".into(),
                    connections,
                    duration_ms: 2000,
                    size_bytes: 100,
                    ..Default::default()
                }),
            })
        };
        let one = line("h:1", None, recording(1));
        assert!(
            one.ends_with("recording r1 stopped: 2s, 1 connection, 100 B\n"),
            "{one}"
        );
        let two = line("h:1", None, recording(2));
        assert!(two.ends_with(": 2s, 2 connections, 100 B\n"), "{two}");
        let lagged = line(
            "h:1",
            None,
            EventBody::Lagged(reel::proto::Lagged { missed: 1 }),
        );
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
}
