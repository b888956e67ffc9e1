//! Human rendering of `stats`: a summary of the analysis (duration,
//! connections, traffic and rates each way, messages, projection, busiest
//! connections).

use std::io::{self, Write};

use reel::stats::{Analysis, DirectionStats, MessageStats, RecordingEnd};

use crate::commands::stats::StatsReport;
use crate::output::analysis_udp;
use crate::output::format::{bytes, duration_ms, lost_bytes};
use crate::output::human::Human;
use crate::output::table::{Align, Table};
use crate::plural::count;

const NS_PER_SEC: f64 = 1e9;

/// `3.900s` under a minute, else `1m23s`.
fn span(ns: u64) -> String {
    if ns < 60_000_000_000 {
        format!("{:.3}s", ns as f64 / NS_PER_SEC)
    } else {
        duration_ms(ns / 1_000_000)
    }
}

/// `1 connection`, `2 connections`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A rate in bytes per second: `12.3 KiB/s`.
fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.round() as u64))
}

/// `complete`, `truncated (12 bytes cut)`, `corrupted at byte 4096: ...`.
fn end_text(end: Option<&RecordingEnd>) -> String {
    match end {
        None | Some(RecordingEnd::Complete) => "complete".to_owned(),
        Some(RecordingEnd::Truncated { cut_bytes, .. }) => {
            format!(
                "truncated, {} of a partial frame cut",
                count(*cut_bytes, "byte", "bytes")
            )
        }
        Some(RecordingEnd::Corrupted { offset, reason }) => {
            format!("corrupted at byte {offset}: {reason}")
        }
    }
}

impl StatsReport {
    /// What the user should know about the figures.
    pub(crate) fn notes(&self) -> Vec<String> {
        let a = &self.analysis;
        let mut notes = Vec::new();
        if let Some(end @ (RecordingEnd::Truncated { .. } | RecordingEnd::Corrupted { .. })) =
            &a.end
        {
            notes.push(format!(
                "the recording is {}; analysed up to there",
                end_text(Some(end))
            ));
        }
        if a.timeline_clipped_frames > 0 {
            notes.push(format!(
                "{} past the timeline's 7-day cap (counted in the totals only)",
                count(a.timeline_clipped_frames, "frame lies", "frames lie")
            ));
        }
        notes
    }
}

impl Human for StatsReport {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        let a = &self.analysis;
        let c = &a.connections;
        writeln!(
            out,
            "duration     {} ({}, {})",
            span(a.duration_ns),
            count(a.frames, "frame", "frames"),
            end_text(a.end.as_ref())
        )?;
        writeln!(
            out,
            "connections  {} total{}, {} peak online, {:.2} average online, {} mid-session, \
             {} closed",
            c.total,
            analysis_udp::sessions_note(a),
            c.peak_online,
            c.avg_online,
            c.mid_session,
            c.closed
        )?;
        writeln!(out)?;
        write_directions(out, a, verbose)?;
        if a.framing.is_some() && c.mid_session > 0 {
            writeln!(
                out,
                "{} mid-session: framed from their first run of whole messages, \
                 the bytes before it unframed",
                plural(c.mid_session, "connection", "connections")
            )?;
        }
        if let Some(p) = &self.projection {
            writeln!(out)?;
            writeln!(
                out,
                "at {} online clients: server ingress {}, egress {}",
                p.online,
                rate(p.ingress_bytes_per_sec),
                rate(p.egress_bytes_per_sec)
            )?;
        }
        if !a.top_connections.is_empty() {
            writeln!(out)?;
            writeln!(out, "top connections by bytes")?;
            write_top(out, a, verbose)?;
        }
        for path in [&self.timeline_csv, &self.plot_svg].into_iter().flatten() {
            writeln!(out, "wrote {path}")?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        for path in [&self.timeline_csv, &self.plot_svg].into_iter().flatten() {
            writeln!(out, "{path}")?;
        }
        Ok(())
    }
}

/// The per-direction table: traffic, rates, messages.
fn write_directions(out: &mut dyn Write, a: &Analysis, verbose: bool) -> io::Result<()> {
    let mut table = Table::new(&[
        ("", Align::Left),
        ("CLIENT->SERVER", Align::Right),
        ("SERVER->CLIENT", Align::Right),
    ]);
    let both = |f: &dyn Fn(&DirectionStats) -> String| vec![f(&a.c2s), f(&a.s2c)];
    let mut row = |label: &str, cells: Vec<String>| {
        let mut row = vec![label.to_owned()];
        row.extend(cells);
        table.row(row);
    };
    let exact = |n: u64| {
        if verbose && n >= 1024 {
            format!("{} ({n})", bytes(n))
        } else {
            bytes(n)
        }
    };
    row("bytes", both(&|d| exact(d.bytes)));
    row("chunks", both(&|d| d.chunks.to_string()));
    if a.c2s.lost_bytes > 0 || a.s2c.lost_bytes > 0 {
        let lost = |n: u64| match n {
            u64::MAX => lost_bytes(n),
            n => exact(n),
        };
        row("lost", both(&|d| lost(d.lost_bytes)));
    }
    row("average", both(&|d| rate(d.avg_bytes_per_sec)));
    row("p95 second", both(&|d| rate(d.p95_bytes_per_sec as f64)));
    row("peak second", both(&|d| rate(d.peak_bytes_per_sec as f64)));
    row(
        "per online client",
        both(&|d| rate(d.bytes_per_sec_per_client)),
    );
    for (label, [c2s, s2c]) in analysis_udp::direction_rows(a) {
        row(&label, vec![c2s, s2c]);
    }
    if let (Some(framing), Some(_), Some(_)) = (&a.framing, &a.c2s.messages, &a.s2c.messages) {
        let m = |f: &dyn Fn(&MessageStats) -> String| {
            both(&|d| d.messages.as_ref().map(f).unwrap_or_default())
        };
        row(
            &format!("messages ({framing})"),
            m(&|s| s.count.to_string()),
        );
        row("message size avg", m(&|s| format!("{:.1} B", s.avg)));
        row("message size p95", m(&|s| bytes(s.p95)));
        row("message size max", m(&|s| bytes(s.max)));
        if verbose {
            row("message size min", m(&|s| bytes(s.min)));
        }
        let (c, s) = (a.c2s.messages.as_ref(), a.s2c.messages.as_ref());
        let sum = |f: fn(&MessageStats) -> u64| c.map_or(0, f) + s.map_or(0, f);
        if verbose || sum(|s| s.incomplete_bytes) > 0 {
            row("incomplete at end", m(&|s| bytes(s.incomplete_bytes)));
        }
        if verbose || sum(|s| s.unframed_bytes) > 0 {
            row("unframed", m(&|s| bytes(s.unframed_bytes)));
        }
        if verbose || sum(|s| s.framing_errors) > 0 {
            row("framing errors", m(&|s| s.framing_errors.to_string()));
        }
    }
    table.write(out)
}

/// The busiest connections.
fn write_top(out: &mut dyn Write, a: &Analysis, verbose: bool) -> io::Result<()> {
    let mut columns = vec![
        ("CONN", Align::Right),
        ("CLIENT", Align::Left),
        ("UPSTREAM", Align::Left),
        ("OPENED", Align::Right),
        ("DURATION", Align::Right),
        ("C2S", Align::Right),
        ("S2C", Align::Right),
        ("CLOSE", Align::Left),
    ];
    if verbose {
        columns.extend([
            ("CHUNKS C2S", Align::Right),
            ("CHUNKS S2C", Align::Right),
            ("PROXY", Align::Left),
        ]);
    }
    let udp = analysis_udp::top_has_udp(a);
    if udp {
        columns.extend([
            ("TRANSPORT", Align::Left),
            ("DGRAMS C2S", Align::Right),
            ("DGRAMS S2C", Align::Right),
        ]);
    }
    let mut table = Table::new(&columns);
    for t in &a.top_connections {
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        let end = t.closed_ts_ns.unwrap_or(a.duration_ns);
        let mut close = t.close_reason.clone().unwrap_or_else(|| "open".to_owned());
        if t.mid_session {
            close.push_str(" (mid-session)");
        }
        let mut cells = vec![
            t.conn.to_string(),
            dash(&t.client),
            dash(&t.upstream),
            span(t.opened_ts_ns),
            span(end.saturating_sub(t.opened_ts_ns)),
            bytes(t.bytes_c2s),
            bytes(t.bytes_s2c),
            close,
            t.chunks_c2s.to_string(),
            t.chunks_s2c.to_string(),
            dash(&t.proxy_id),
        ];
        if !verbose {
            cells.truncate(8);
        }
        if udp {
            cells.extend(analysis_udp::top_cells(t));
        }
        table.row(cells);
    }
    table.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel::stats::{ConnectionCounts, ConnectionStats};

    fn report() -> StatsReport {
        let direction = |bytes, chunks| DirectionStats {
            bytes,
            chunks,
            avg_bytes_per_sec: bytes as f64 / 3.9,
            p95_bytes_per_sec: bytes,
            peak_bytes_per_sec: bytes,
            bytes_per_sec_per_client: bytes as f64 / 5.6,
            ..DirectionStats::default()
        };
        StatsReport {
            analysis: Analysis {
                duration_ns: 3_900_000_000,
                frames: 17,
                connections: ConnectionCounts {
                    total: 4,
                    peak_online: 3,
                    mid_session: 1,
                    closed: 2,
                    connection_seconds: 5.6,
                    avg_online: 5.6 / 3.9,
                    udp_sessions: 0,
                },
                c2s: direction(21, 4),
                s2c: direction(2048, 3),
                timeline: Vec::new(),
                timeline_clipped_frames: 0,
                top_connections: vec![ConnectionStats {
                    conn: 2,
                    client: "10.0.0.2:40002".into(),
                    upstream: "10.0.0.9:5630".into(),
                    opened_ts_ns: 1_200_000_000,
                    bytes_c2s: 3,
                    bytes_s2c: 2048,
                    ..ConnectionStats::default()
                }],
                framing: None,
                end: Some(RecordingEnd::Complete),
            },
            projection: Some(reel::stats::Projection {
                online: 1000,
                ingress_bytes_per_sec: 3750.0,
                egress_bytes_per_sec: 365_714.3,
            }),
            timeline_csv: Some("t.csv".into()),
            plot_svg: None,
        }
    }

    #[test]
    fn stats_summary() {
        let mut out = Vec::new();
        report().write_human(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
duration     3.900s (17 frames, complete)
connections  4 total, 3 peak online, 1.44 average online, 1 mid-session, 2 closed

                   CLIENT->SERVER  SERVER->CLIENT
bytes                        21 B         2.0 KiB
chunks                          4               3
average                     5 B/s         525 B/s
p95 second                 21 B/s       2.0 KiB/s
peak second                21 B/s       2.0 KiB/s
per online client           4 B/s         366 B/s

at 1000 online clients: server ingress 3.7 KiB/s, egress 357.1 KiB/s

top connections by bytes
CONN  CLIENT          UPSTREAM       OPENED  DURATION  C2S      S2C  CLOSE
   2  10.0.0.2:40002  10.0.0.9:5630  1.200s    2.700s  3 B  2.0 KiB  open
wrote t.csv
";
        assert_eq!(text, expected);
        let mut out = Vec::new();
        report().write_ids(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "t.csv\n");
    }

    #[test]
    fn mid_session_framing_is_explained() {
        let mut r = report();
        r.analysis.framing = Some("u16be".parse().unwrap());
        let m = reel::stats::MessageStats::default();
        r.analysis.c2s.messages = Some(m.clone());
        r.analysis.s2c.messages = Some(m);
        let mut out = Vec::new();
        r.write_human(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "\n1 connection mid-session: framed from their first run of whole messages, \
                 the bytes before it unframed\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn damaged_recordings_are_noted() {
        let mut r = report();
        assert!(r.notes().is_empty());
        r.analysis.end = Some(RecordingEnd::Truncated {
            valid_bytes: 100,
            cut_bytes: 12,
        });
        assert_eq!(
            r.notes(),
            ["the recording is truncated, 12 bytes of a partial frame cut; analysed up to there"]
        );
    }
}
