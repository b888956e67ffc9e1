//! Human renderings of replays: the report of one agent's replay (summary
//! lines, then the connections that failed, closed early or diverged — all
//! of them with `-v` — each divergence as hex, then the waits, relaxations
//! and unlisted connections of `replay_detail`; UDP sessions' datagrams
//! in `replay_udp`), and the notice of
//! recordings pushed by `--spread`. `--detach` lines and the `replay ls`
//! table are in `replay_list`.

use std::io::{self, Write};

use reel::proto::{Lateness, ReplayConnection, ReplayReport};

use crate::commands::replay::report::{ConnectionExt, ReportExt};
use crate::commands::replay::spread::{Copied, Pushed, Shard};
use crate::commands::replay::{ReplayOutcome, ReplayShown};
use crate::output::format::{bytes, duration_ms, hex_excerpt, micros, offset_us};
use crate::output::human::{Human, list};
use crate::output::replay_detail::write_detail;
use crate::output::replay_udp;
use crate::output::table::{Align, Table};
use crate::plural::count;
use crate::schedule::Coordinated;

/// Width of the key column of the summary lines.
const KEY_WIDTH: usize = 17;

/// What a replay's summary adds beyond the agent's report.
#[derive(Default)]
struct Extras<'a> {
    coordinated: Option<&'a Coordinated>,
    shard: Option<Shard>,
    pushed: Option<&'a [Copied]>,
}

fn line(out: &mut dyn Write, key: &str, value: &str) -> io::Result<()> {
    // Values carry the agent's text (labels, targets, errors): escaped.
    writeln!(
        out,
        "  {:<KEY_WIDTH$} {}",
        format!("{key}:"),
        crate::output::escape::safe(value)
    )
}

/// `p50 120us, p99 900us, max 1.500ms (10 samples)`, or `-`.
fn lateness(l: &Lateness) -> String {
    if l.samples == 0 {
        return "-".to_owned();
    }
    format!(
        "p50 {}, p99 {}, max {} ({})",
        micros(l.p50_us),
        micros(l.p99_us),
        micros(l.max_us),
        count(l.samples, "sample", "samples")
    )
}

fn write_summary(out: &mut dyn Write, r: &ReplayReport, extras: &Extras<'_>) -> io::Result<()> {
    writeln!(out, "replay {}: {}", r.id, r.state_word())?;
    line(
        out,
        "mode",
        &format!("{}, speed {}", r.mode_word(), r.speed),
    )?;
    line(out, "recordings", &list(&r.recordings))?;
    if let Some(at) = r.scheduled_start() {
        line(out, "scheduled start", &at.rfc3339())?;
    }
    let started = r
        .started_at()
        .map_or_else(|| "not yet".to_owned(), |at| at.rfc3339());
    line(out, "started at", &started)?;
    if let Some(c) = extras.coordinated {
        let local = c
            .started_at_local
            .map_or_else(|| "not yet".to_owned(), |at| at.rfc3339());
        line(
            out,
            "started (local)",
            &format!("{local}, clock offset {}", offset_us(c.clock_offset_us)),
        )?;
    }
    if let Some(shard) = extras.shard {
        line(
            out,
            "shard",
            &format!("{} of {}", shard.index + 1, shard.count),
        )?;
    }
    if let Some(pushed) = extras.pushed.filter(|p| !p.is_empty()) {
        let copies: Vec<String> = pushed
            .iter()
            .map(|c| format!("{} ({}) from {}", c.id, bytes(c.size_bytes), c.from))
            .collect();
        line(out, "copied here", &copies.join(", "))?;
    }
    line(out, "duration", &duration_ms(r.duration_ms))?;
    line(
        out,
        "connections",
        &format!(
            "{} planned, {} opened, {} finished, {} failed, {} closed early{}",
            r.planned,
            r.opened,
            r.finished,
            r.failed_connections(),
            r.closed_early,
            mid_session_count(r)
        ),
    )?;
    let of = |done, expected| format!("{} of {} expected", bytes(done), bytes(expected));
    line(out, "sent", &of(r.bytes_sent, r.expected_sent))?;
    line(out, "received", &of(r.bytes_received, r.expected_received))?;
    if let Some(text) = replay_udp::summary(r) {
        line(out, "datagrams", &text)?;
    }
    line(out, "lateness", &lateness(&r.lateness_or_zero()))?;
    line(out, "divergences", &r.divergences.to_string())?;
    line(out, "server timeouts", &r.server_timeouts.to_string())?;
    line(out, "relaxations", &r.relaxations.to_string())?;
    if let Some(error) = r.error_text() {
        line(out, "error", error)?;
    }
    Ok(())
}

/// `, 2 mid-session` when connections were recorded mid-session (replayed
/// from their first recorded byte, which the server may not expect); the
/// count is of the connections listed when the report leaves some out.
fn mid_session_count(r: &ReplayReport) -> String {
    let n = r.connections.iter().filter(|c| c.mid_session).count();
    match n {
        0 => String::new(),
        n if r.connections.len() as u64 >= r.connections_total => format!(", {n} mid-session"),
        n => format!(", {n} mid-session among the {} listed", r.connections.len()),
    }
}

/// What happened to a connection, in a few words; a connection recorded
/// mid-session says so (`ok (mid-session)`).
fn outcome(c: &ReplayConnection) -> String {
    let mut parts = Vec::new();
    if let Some(error) = c.error_text() {
        parts.push(format!("failed: {error}"));
    }
    if c.closed_early {
        parts.push(format!(
            "closed early at {} after {}",
            duration_ms(c.closed_early_at_ms),
            bytes(c.closed_early_bytes)
        ));
    }
    match replay_udp::outcome(c) {
        Some(udp) => parts.extend(udp),
        None => {
            if let Some(d) = &c.divergence {
                parts.push(format!("diverged at offset {}", d.offset));
            }
        }
    }
    if c.server_timeouts > 0 {
        parts.push(count(
            c.server_timeouts,
            "server timeout",
            "server timeouts",
        ));
    }
    if c.relaxations > 0 {
        parts.push(format!("{} relaxed", count(c.relaxations, "gate", "gates")));
    }
    let text = if parts.is_empty() {
        "ok".to_owned()
    } else {
        parts.join("; ")
    };
    if c.mid_session {
        format!("{text} (mid-session)")
    } else {
        text
    }
}

fn write_connections(out: &mut dyn Write, r: &ReplayReport, verbose: bool) -> io::Result<()> {
    let rows: Vec<&ReplayConnection> = r
        .connections
        .iter()
        .filter(|c| verbose || c.notable())
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut columns = vec![
        ("RECORDING", Align::Left),
        ("CONN", Align::Right),
        ("COPY", Align::Right),
        ("PASS", Align::Right),
        ("TARGET", Align::Left),
        ("SENT", Align::Right),
        ("RECEIVED", Align::Right),
    ];
    if verbose {
        columns.push(("LATE P99", Align::Right));
    }
    columns.push(("OUTCOME", Align::Left));
    let mut table = Table::new(&columns);
    for c in &rows {
        let mut cells = vec![
            c.recording.clone(),
            c.connection.to_string(),
            c.copy.to_string(),
            c.pass.to_string(),
            c.target.clone(),
            bytes(c.bytes_sent),
            bytes(c.bytes_received),
        ];
        if verbose {
            cells.push(micros(c.lateness.unwrap_or_default().p99_us));
        }
        cells.push(outcome(c));
        table.row(cells);
    }
    table.write(out)?;
    for c in rows {
        let Some(d) = &c.divergence else { continue };
        let at = if c.udp { "datagram" } else { "offset" };
        writeln!(
            out,
            "divergence: {} connection {} (copy {}, pass {}) at {at} {}: {}",
            c.recording, c.connection, c.copy, c.pass, d.offset, d.reason
        )?;
        writeln!(out, "  expected: {}", hex_excerpt(&d.expected))?;
        writeln!(out, "  received: {}", hex_excerpt(&d.received))?;
    }
    Ok(())
}

fn write_report(
    out: &mut dyn Write,
    r: &ReplayReport,
    extras: &Extras<'_>,
    verbose: bool,
) -> io::Result<()> {
    write_summary(out, r, extras)?;
    write_connections(out, r, verbose)?;
    write_detail(out, r)
}

impl Human for ReplayOutcome {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        let extras = Extras {
            coordinated: self.coordinated.as_ref(),
            shard: self.shard,
            pushed: self.pushed.as_deref(),
        };
        write_report(out, &self.report, &extras, verbose)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.report.id)
    }
}

impl Human for ReplayShown {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        write_report(out, &self.0, &Extras::default(), verbose)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.0.id)
    }
}

/// `pushed recording r1 (4.0 KiB) from a:1 to b:2, c:3`, one line each.
pub(crate) fn write_pushed(out: &mut dyn Write, pushed: &[Pushed]) -> io::Result<()> {
    for p in pushed {
        writeln!(
            out,
            "pushed recording {} ({}) from {} to {}",
            p.id,
            bytes(p.size_bytes),
            p.from,
            p.to.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::replay::report::tests::sample;

    fn render(value: &dyn Human, verbose: bool) -> String {
        let mut out = Vec::new();
        value.write_human(&mut out, verbose).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn report_lists_only_notable_connections_unless_verbose() {
        let shown = ReplayShown(sample());
        let text = render(&shown, false);
        assert!(text.starts_with("replay rp-1: finished\n"), "{text}");
        assert!(
            text.contains("  mode:             timed, speed 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  connections:      2 planned, 2 opened, 2 finished, 0 failed, 0 closed early\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  lateness:         p50 120us, p99 900us, max 1.500ms (10 samples)\n"),
            "{text}"
        );
        let table: Vec<&str> = text.lines().filter(|l| l.starts_with("r1 ")).collect();
        assert_eq!(table.len(), 1, "{text}");
        assert!(table[0].ends_with("diverged at offset 4"), "{text}");
        assert!(text.contains(
            "divergence: r1 connection 2 (copy 0, pass 0) at offset 4: different bytes\n\
             \x20 expected: 6f 6b 0a  |ok.|\n\
             \x20 received: 6e 6f ff  |no.|\n"
        ));
        let text = render(&shown, true);
        assert_eq!(text.lines().filter(|l| l.starts_with("r1 ")).count(), 2);
        assert!(text.contains("LATE P99"));
    }

    #[test]
    fn mid_session_connections_are_marked() {
        let mut report = sample();
        report.connections[1].mid_session = true;
        let shown = ReplayShown(report);
        let text = render(&shown, false);
        assert!(text.contains(", 0 closed early, 1 mid-session\n"), "{text}");
        let row = text.lines().find(|l| l.starts_with("r1 ")).unwrap();
        assert!(
            row.ends_with("diverged at offset 4 (mid-session)"),
            "{text}"
        );
        let text = render(&shown, true);
        assert!(
            text.lines()
                .any(|l| l.starts_with("r1 ") && l.ends_with(" ok")),
            "{text}"
        );
    }

    #[test]
    fn pushed_lines() {
        let mut out = Vec::new();
        write_pushed(
            &mut out,
            &[Pushed {
                id: "r1".into(),
                from: "a:1".into(),
                to: vec!["b:2".into(), "c:3".into()],
                size_bytes: 4096,
            }],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "pushed recording r1 (4.0 KiB) from a:1 to b:2, c:3\n"
        );
    }
}
