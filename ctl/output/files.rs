//! Human renderings of `record pull` and `record push`.

use std::io::{self, Write};

use crate::commands::pull::PulledFiles;
use crate::commands::push::PushedRecordings;
use crate::commands::record::RecordingExt;
use crate::output::format::bytes;
use crate::output::human::{Human, quoted};
use crate::plural::count;

impl Human for PulledFiles {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        for f in &self.files {
            write!(
                out,
                "pulled recording {} to {} ({})",
                f.id,
                f.path,
                bytes(f.size_bytes)
            )?;
            if verbose {
                write!(out, " sha256 {}", f.sha256)?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.files
            .iter()
            .try_for_each(|f| writeln!(out, "{}", f.path))
    }
}

impl Human for PushedRecordings {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        for r in &self.recordings {
            writeln!(
                out,
                "pushed recording {}{} ({}, {}, {})",
                r.id,
                quoted(&r.label),
                r.status_word(),
                count(r.connections, "connection", "connections"),
                bytes(r.size_bytes)
            )?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.recordings
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::pull::PulledFile;

    #[test]
    fn pulled_files() {
        let files = PulledFiles {
            files: vec![PulledFile {
                id: "r1".into(),
                path: "./r1.reel".into(),
                size_bytes: 4096,
                sha256: "ab".repeat(32),
            }],
        };
        let mut out = Vec::new();
        files.write_human(&mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "pulled recording r1 to ./r1.reel (4.0 KiB)\n"
        );
        let mut out = Vec::new();
        files.write_ids(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "./r1.reel\n");
    }
}
