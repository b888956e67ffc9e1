//! Human renderings of one agent's command result: tables for lists, one
//! sentence for actions, `key: value` lines for `record show`. Proxies'
//! are in `proxy`, replays' in `replay`, and so on.

use std::io::{self, Write};

use reel::proto::RecordingInfo;

use crate::commands::record::{
    DeletedRecording, RecordingDetail, RecordingExt, RecordingList, StartedRecording,
    StoppedRecordings,
};
use crate::output::escape::safe;
use crate::output::format::{bytes, duration_ms, lost_bytes, offset_us};
use crate::output::table::{Align, Table};
use crate::plural::count;

/// A result that prints for humans.
pub(crate) trait Human {
    /// The normal view; `verbose` adds detail.
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()>;
    /// The `-q` view: ids only, or nothing.
    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// ` "label"` or nothing.
pub(crate) fn quoted(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!(" {label:?}")
    }
}

/// `a, b` or `-`.
pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

impl Human for StartedRecording {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        let r = &self.recording;
        let on = if r.proxies.is_empty() {
            "every proxy".to_owned()
        } else {
            format!("proxies {}", safe(&r.proxies.join(", ")))
        };
        write!(
            out,
            "started recording {}{} on {on}",
            r.id,
            quoted(&r.label)
        )?;
        if let Some(c) = &self.coordinated {
            if let Some(at) = c.started_at_local {
                write!(out, " at {} UTC (local clock)", at.hms_millis())?;
            }
            write!(out, ", clock offset {}", offset_us(c.clock_offset_us))?;
        }
        writeln!(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.recording.id)
    }
}

fn location_word(value: i32) -> &'static str {
    reel::wire::json::recording_location_word(value)
}

/// `complete, 1m23s, 3 connections, 1.2 MiB` and any loss.
fn recording_summary(r: &RecordingInfo) -> String {
    let mut text = format!(
        "{}, {}, {}, {}",
        r.status_word(),
        duration_ms(r.duration_ms),
        count(r.connections, "connection", "connections"),
        bytes(r.size_bytes)
    );
    if r.lost_bytes > 0 {
        text.push_str(&format!(", {} LOST", lost_bytes(r.lost_bytes)));
    }
    if let Some(error) = r.error_text() {
        text.push_str(&format!(", error: {}", safe(error)));
    }
    text
}

impl Human for StoppedRecordings {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        if self.stopped.is_empty() {
            return writeln!(out, "no recordings in progress");
        }
        for r in &self.stopped {
            writeln!(out, "stopped recording {}: {}", r.id, recording_summary(r))?;
        }
        Ok(())
    }

    fn write_ids(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

impl Human for RecordingList {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        if self.recordings.is_empty() {
            return writeln!(out, "no recordings");
        }
        let mut columns = vec![
            ("ID", Align::Left),
            ("LABEL", Align::Left),
            ("STATUS", Align::Left),
            ("STARTED (UTC)", Align::Left),
            ("DURATION", Align::Right),
            ("SIZE", Align::Right),
            ("CONNS", Align::Right),
            ("C2S", Align::Right),
            ("S2C", Align::Right),
        ];
        // Where each lives, once any lives in an object store (--store).
        let located = self
            .recordings
            .iter()
            .any(|r| location_word(r.location) != "local");
        if located {
            columns.push(("WHERE", Align::Left));
        }
        if verbose {
            columns.extend([
                ("LOST", Align::Right),
                ("TRUNCATED", Align::Right),
                ("PROXIES", Align::Left),
                ("ERROR", Align::Left),
            ]);
        }
        let mut table = Table::new(&columns);
        for r in &self.recordings {
            let mut row = vec![
                r.id.clone(),
                r.label.clone(),
                r.status_word().to_owned(),
                r.started_at().date_time(),
                duration_ms(r.duration_ms),
                bytes(r.size_bytes),
                r.connections.to_string(),
                bytes(r.bytes_c2s),
                bytes(r.bytes_s2c),
            ];
            if located {
                row.push(location_word(r.location).to_owned());
            }
            row.extend([
                lost_bytes(r.lost_bytes),
                bytes(r.truncated_bytes),
                list(&r.proxies),
                r.error.clone(),
            ]);
            table.row(row);
        }
        table.write(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.recordings
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.id))
    }
}

impl Human for RecordingDetail {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        let r = &self.0;
        let mut lines = vec![
            ("id", r.id.clone()),
            ("label", r.label.clone()),
            ("status", r.status_word().to_owned()),
            ("started", r.started_at().rfc3339()),
            ("duration", duration_ms(r.duration_ms)),
            ("size", bytes(r.size_bytes)),
            ("connections", r.connections.to_string()),
            ("c2s", bytes(r.bytes_c2s)),
            ("s2c", bytes(r.bytes_s2c)),
            ("lost", lost_bytes(r.lost_bytes)),
            ("truncated", bytes(r.truncated_bytes)),
            ("proxies", list(&r.proxies)),
        ];
        if r.ring_ms > 0 {
            lines.push(("ring", format!("last {}", duration_ms(r.ring_ms))));
        }
        if let Some(error) = r.error_text() {
            lines.push(("error", error.to_owned()));
        }
        // Only said when an object store (--store) is involved.
        if location_word(r.location) != "local" {
            lines.push(("where", location_word(r.location).to_owned()));
        }
        if verbose {
            lines.push(("frames", r.frames.to_string()));
        }
        for (key, value) in lines {
            writeln!(out, "{:<12} {}", format!("{key}:"), safe(&value))?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.0.id)
    }
}

impl Human for DeletedRecording {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        let r = &self.deleted;
        writeln!(
            out,
            "deleted recording {}{} ({})",
            r.id,
            quoted(&r.label),
            bytes(r.size_bytes)
        )
    }

    fn write_ids(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
