//! Human renderings of what a replay report holds beyond its totals and
//! connection table: the connections a running replay waits on, the causal
//! gates that were relaxed (one line each), and the connections the agent
//! summed instead of listing.

use std::io::{self, Write};
use std::time::Duration;

use reel::proto::{Relaxation, ReplayReport, ReplayWait, RuleCount};
use reel::wire::json::{relax_reason_word, rule_table_word};

use crate::commands::replay::report::ReportExt;
use crate::output::format::{bytes, delay, duration_ms, micros};
use crate::plural::count;

/// `conn 3 (copy 0, pass 1)`, prefixed by the recording when the replay
/// has several.
fn conn(r: &ReplayReport, recording: &str, conn: u64, copy: u32, pass: u32) -> String {
    let prefix = if r.recordings.len() > 1 {
        format!("{recording} ")
    } else {
        String::new()
    };
    format!("{prefix}conn {conn} (copy {copy}, pass {pass})")
}

/// `conn 3 (copy 0, pass 0) step 12 waits for conn 5's server bytes: 120
/// of 180 since 2.3s`.
fn wait_line(r: &ReplayReport, w: &ReplayWait) -> String {
    let whose = if w.own {
        "its own".to_owned()
    } else {
        format!("conn {}'s", w.awaited_connection)
    };
    format!(
        "{} step {} waits for {whose} server bytes: {} of {} since {}",
        conn(r, &w.recording, w.connection, w.copy, w.pass),
        w.step,
        w.received,
        w.expected,
        delay(Duration::from_millis(w.waiting_ms))
    )
}

/// `gate on conn 2 (copy 0, pass 1) held conn 5 for 2.300ms: 120 of 180
/// server bytes; released at 3s (stalled)`.
fn relaxation_line(r: &ReplayReport, x: &Relaxation) -> String {
    format!(
        "gate on {} held conn {} for {}: {} of {} server bytes; released at {} ({})",
        conn(r, &x.recording, x.awaited_connection, x.copy, x.pass),
        x.held_connection,
        micros(x.waited_us),
        x.received,
        x.expected,
        duration_ms(x.at_ms),
        relax_reason_word(x.reason)
    )
}

/// What one rule did, in the words of its table.
fn rule_line(c: &RuleCount) -> String {
    let name = if c.name.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.name)
    };
    let table = rule_table_word(c.table);
    let what = match table {
        "capture" => format!(
            "{} matched, {} recorded and {} live values learned, {} missed",
            c.matched, c.recorded, c.applied, c.missed
        ),
        "rewrite" => format!(
            "{} matched, {} substituted, {} missed",
            c.matched, c.applied, c.missed
        ),
        "checksum" => format!(
            "{} matched, {} written, {} missed",
            c.matched, c.applied, c.missed
        ),
        _ => format!(
            "{} matched, {} not compared, {} missed",
            c.matched,
            count(c.ignored_bytes, "byte", "bytes"),
            c.missed
        ),
    };
    format!("{table}[{}]{name}: {what}", c.index)
}

/// The waits, the relaxed gates and the omitted connections, each part
/// only when there is something to say.
pub(crate) fn write_detail(out: &mut dyn Write, r: &ReplayReport) -> io::Result<()> {
    if !r.waits.is_empty() {
        writeln!(out)?;
        let waiting = count(r.waits.len() as u64, "connection", "connections");
        writeln!(out, "waiting ({waiting}):")?;
        for w in &r.waits {
            writeln!(out, "  {}", wait_line(r, w))?;
        }
    }
    if !r.relaxed.is_empty() {
        writeln!(out)?;
        let listed = r.relaxed.len() as u64;
        if listed < r.relaxations {
            writeln!(
                out,
                "relaxed gates (the first {listed} of {}):",
                r.relaxations
            )?;
        } else {
            writeln!(out, "relaxed gates:")?;
        }
        for x in &r.relaxed {
            writeln!(out, "  {}", relaxation_line(r, x))?;
        }
    }
    if !r.rules.is_empty() {
        writeln!(out)?;
        writeln!(out, "rules:")?;
        for c in &r.rules {
            writeln!(out, "  {}", rule_line(c))?;
        }
        if r.unparsed_messages > 0 {
            writeln!(
                out,
                "  {} not parse (sent as recorded)",
                count(r.unparsed_messages, "message did", "messages did")
            )?;
        }
    }
    let o = r.omitted_or_zero();
    if o.count > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{} more connections not listed: {} failed, {} diverged, {} closed early, \
             {} server timeouts; sent {}, received {}",
            o.count,
            o.failed,
            o.divergences,
            o.closed_early,
            o.server_timeouts,
            bytes(o.bytes_sent),
            bytes(o.bytes_received)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::replay::report::tests::sample;
    use reel::proto::{OmittedConnections, RelaxReason};

    fn render(r: &ReplayReport) -> String {
        let mut out = Vec::new();
        write_detail(&mut out, r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn waits_relaxations_and_omitted_lines() {
        let mut report = sample();
        report.state = reel::proto::ReplayState::Running as i32;
        let wait = |connection, own, awaited_connection| ReplayWait {
            recording: "r1".into(),
            connection,
            copy: 0,
            pass: 0,
            step: 12,
            own,
            awaited_connection,
            expected: 180,
            received: 120,
            waiting_ms: 2300,
        };
        report.waits = vec![wait(3, true, 3), wait(4, false, 5)];
        report.relaxations = 250;
        report.relaxed = vec![Relaxation {
            recording: "r1".into(),
            awaited_connection: 2,
            copy: 0,
            pass: 1,
            expected: 180,
            received: 120,
            waited_us: 2300,
            reason: RelaxReason::Stalled as i32,
            at_ms: 3000,
            held_connection: 5,
        }];
        report.connections_total = 1502;
        report.omitted = Some(OmittedConnections {
            count: 1500,
            failed: 3,
            divergences: 0,
            closed_early: 2,
            server_timeouts: 5,
            bytes_sent: 2048,
            bytes_received: 10,
        });
        let text = render(&report);
        assert_eq!(
            text,
            "\nwaiting (2 connections):\n\
             \x20 conn 3 (copy 0, pass 0) step 12 waits for its own server bytes: 120 of 180 since 2.3s\n\
             \x20 conn 4 (copy 0, pass 0) step 12 waits for conn 5's server bytes: 120 of 180 since 2.3s\n\
             \nrelaxed gates (the first 1 of 250):\n\
             \x20 gate on conn 2 (copy 0, pass 1) held conn 5 for 2.300ms: 120 of 180 server bytes; released at 3s (stalled)\n\
             \n1500 more connections not listed: 3 failed, 0 diverged, 2 closed early, 5 server timeouts; sent 2.0 KiB, received 10 B\n"
        );
    }

    #[test]
    fn nothing_to_add_prints_nothing() {
        assert_eq!(render(&sample()), "");
    }
}
