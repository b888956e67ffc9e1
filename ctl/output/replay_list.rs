//! Human renderings of replays started and left: the `--detach` lines and
//! the `replay ls` table.

use std::io::{self, Write};

use crate::commands::replay::{DetachedReplay, ReplayList};
use crate::output::format::{duration_ms, offset_us};
use crate::output::human::{Human, list};
use crate::output::table::{Align, Table};

impl Human for DetachedReplay {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        write!(out, "started replay {} ({})", self.id, self.state)?;
        if let Some(shard) = self.shard {
            write!(out, ", shard {} of {}", shard.index + 1, shard.count)?;
        }
        if let Some(c) = &self.coordinated {
            write!(out, ", clock offset {}", offset_us(c.clock_offset_us))?;
        }
        writeln!(out)?;
        writeln!(out, "follow it with: reelctl replay status {}", self.id)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.id)
    }
}

impl Human for ReplayList {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        if self.replays.is_empty() {
            return writeln!(out, "no replays");
        }
        let mut columns = vec![
            ("ID", Align::Left),
            ("STATE", Align::Left),
            ("MODE", Align::Left),
            ("RECORDINGS", Align::Left),
            ("PLANNED", Align::Right),
            ("FINISHED", Align::Right),
            ("STARTED (UTC)", Align::Left),
            ("DURATION", Align::Right),
        ];
        if verbose {
            columns.extend([
                ("OPENED", Align::Right),
                ("FAILED", Align::Right),
                ("DIVERGENCES", Align::Right),
                ("ERROR", Align::Left),
            ]);
        }
        let mut table = Table::new(&columns);
        for r in &self.replays {
            table.row(vec![
                r.id.clone(),
                r.state.to_owned(),
                r.mode.to_owned(),
                list(&r.recordings),
                r.planned.to_string(),
                r.finished.to_string(),
                r.started_at
                    .map_or_else(|| "-".to_owned(), |t| t.date_time()),
                duration_ms(r.duration_ms),
                r.opened.to_string(),
                r.failed.to_string(),
                r.divergences.to_string(),
                r.error.clone().unwrap_or_default(),
            ]);
        }
        table.write(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.replays
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.id))
    }
}
