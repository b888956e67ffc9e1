//! Human rendering of `rules check`: one line of totals, a table of the
//! rules with their matches, the values captured per connection, and the
//! first messages that did not parse or that the rules would change.

use std::io::{self, Write};

use reel::rewrite::{CaptureFound, CheckReport, RuleCheck};
use reel::stats::RecordingEnd;

use crate::commands::rules::RulesChecked;
use crate::output::human::Human;
use crate::output::table::{Align, Table};
use crate::plural::{count, noun};

/// Connections listed without `-v`.
const CONNECTIONS_SHOWN: usize = 20;

/// Longest value cell; longer values end in `...` (`--json` has them whole).
const VALUE_CHARS: usize = 40;

impl RulesChecked {
    /// What the user should know: rules that matched nothing, messages the
    /// rules would change, a recording cut short.
    pub(crate) fn notes(&self) -> Vec<String> {
        let r = &self.report;
        let mut notes: Vec<String> = r
            .unmatched()
            .map(|rule| format!("{} matches no message", rule_name(rule)))
            .collect();
        for rule in &r.rules {
            if let Some(n) = rule.mismatched.filter(|n| *n > 0) {
                notes.push(format!(
                    "{}: {n} of {} recorded checksums differ from what the rule computes",
                    rule_name(rule),
                    rule.matched
                ));
            }
        }
        if r.changed > 0 {
            notes.push(format!(
                "the rules change {} recorded client messages even with the recorded values; \
                 a field or checksum rule points at the wrong bytes",
                r.changed
            ));
        }
        match &self.end {
            RecordingEnd::Complete => {}
            RecordingEnd::Truncated { cut_bytes, .. } => notes.push(format!(
                "the recording is cut short ({} of a partial frame dropped); \
                 checked up to the cut",
                count(*cut_bytes, "byte", "bytes")
            )),
            RecordingEnd::Corrupted { offset, reason } => notes.push(format!(
                "the recording is damaged at byte {offset} ({reason}); checked up to there"
            )),
        }
        notes
    }
}

/// `capture[0]`.
fn rule_name(rule: &RuleCheck) -> String {
    format!("{}[{}]", rule.kind.as_str(), rule.index)
}

/// A value for a table cell: the integer, `"text"`, or hex.
fn value(found: &CaptureFound) -> String {
    let text = match (&found.int, &found.ascii) {
        (Some(int), _) => int.to_string(),
        (None, Some(ascii)) => format!("{ascii:?}"),
        (None, None) => found.hex.clone(),
    };
    if text.chars().count() > VALUE_CHARS {
        let cut: String = text.chars().take(VALUE_CHARS - 3).collect();
        format!("{cut}...")
    } else {
        text
    }
}

impl Human for RulesChecked {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        let r = &self.report;
        writeln!(
            out,
            "{}, {} client and {} server {}, {} unparsed, {} changed",
            count(r.connections, "connection", "connections"),
            r.messages_c2s,
            r.messages_s2c,
            noun(r.messages_s2c, "message", "messages"),
            r.unparsed,
            r.changed
        )?;
        writeln!(out)?;
        write_rules(out, r)?;
        write_captures(out, r, verbose)?;
        write_samples(out, r)
    }

    fn write_ids(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

fn write_rules(out: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    if r.rules.is_empty() {
        return writeln!(out, "no rules");
    }
    let mut table = Table::new(&[
        ("RULE", Align::Left),
        ("WHAT", Align::Left),
        ("DIR", Align::Left),
        ("MATCHED", Align::Right),
        ("MISSED", Align::Right),
        ("NOTE", Align::Left),
    ]);
    for rule in &r.rules {
        let note = match rule.mismatched {
            Some(n) => format!("{n} recorded checksums differ"),
            None if rule.matched == 0 => "matches nothing".to_owned(),
            None => String::new(),
        };
        table.row(vec![
            rule_name(rule),
            rule.label.clone(),
            rule.direction.as_str().to_owned(),
            rule.matched.to_string(),
            rule.missed.to_string(),
            note,
        ]);
    }
    table.write(out)
}

fn write_captures(out: &mut dyn Write, r: &CheckReport, verbose: bool) -> io::Result<()> {
    if !r.replay_captures.is_empty() {
        writeln!(out)?;
        writeln!(out, "captured for the whole replay")?;
        for found in &r.replay_captures {
            writeln!(
                out,
                "  {} = {} (seen {})",
                found.name,
                value(found),
                found.seen
            )?;
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for found in r.captures.iter().flat_map(|c| &c.captures) {
        if !names.contains(&found.name.as_str()) {
            names.push(&found.name);
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "captured per connection (recorded values)")?;
    let headers: Vec<String> = names.iter().map(|n| n.to_uppercase()).collect();
    let mut columns = vec![("CONN", Align::Right)];
    columns.extend(headers.iter().map(|h| (h.as_str(), Align::Left)));
    let mut table = Table::new(&columns);
    let shown = if verbose {
        r.captures.len()
    } else {
        CONNECTIONS_SHOWN
    };
    for conn in r.captures.iter().take(shown) {
        let mut cells = vec![conn.conn.to_string()];
        for name in &names {
            let found = conn.captures.iter().find(|c| c.name == *name);
            cells.push(found.map_or_else(|| "-".to_owned(), value));
        }
        table.row(cells);
    }
    table.write(out)?;
    if r.captures.len() > shown {
        writeln!(
            out,
            "({} of {}; -v or --json lists all)",
            shown,
            count(r.captures.len() as u64, "connection", "connections")
        )?;
    }
    Ok(())
}

fn write_samples(out: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    if !r.unparsed_samples.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "unparsed messages (first {} of {})",
            r.unparsed_samples.len(),
            r.unparsed
        )?;
        for s in &r.unparsed_samples {
            writeln!(
                out,
                "  conn {} {} #{} ({}): {}",
                s.conn,
                s.direction.as_str(),
                s.message,
                count(s.bytes, "byte", "bytes"),
                s.reason
            )?;
            writeln!(out, "    {}", s.hex)?;
        }
    }
    if !r.changed_samples.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "client messages the rules change (first {} of {})",
            r.changed_samples.len(),
            r.changed
        )?;
        for s in &r.changed_samples {
            writeln!(
                out,
                "  conn {} c2s #{} from byte {}: recorded {} rewritten {}",
                s.conn, s.message, s.offset, s.recorded, s.rewritten
            )?;
        }
    }
    Ok(())
}
