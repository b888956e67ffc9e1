//! Files of the catalog: reading a recording's listing info from disk and
//! creating new recording files with owner-only permissions.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use super::info::{RecordingInfo, from_footer, from_scan};
use crate::error::{Error, Result};
use crate::format::{read_footer, scan_file};

/// Reads what a listing needs: the footer when the file has one, else a scan.
pub(crate) fn load(path: &Path) -> std::result::Result<RecordingInfo, crate::format::FormatError> {
    let size = std::fs::metadata(path)?.len();
    if let Some((header, footer)) = read_footer(path)? {
        return Ok(from_footer(&header, &footer, size));
    }
    let scan = scan_file(path)?;
    Ok(from_scan(&scan))
}

/// Creates a new recording file readable by its owner only: recordings hold
/// player traffic, session tokens included.
pub(crate) fn create_file(path: &Path) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

/// Durations in listings are whole milliseconds.
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
