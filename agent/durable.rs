//! Replacing a small file so that a crash leaves either the old one or the
//! new one whole: written owner-only beside it, synced, renamed over it,
//! and the folder synced so the rename itself survives. Used for the
//! files the agent keeps next to its recordings (replay reports, saved
//! proxies).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `body` through the temporary file `tmp` (in the
/// same folder). On an error the temporary file is removed and the old
/// file, if any, is intact.
///
/// # Errors
/// The I/O error of the write, rename or folder sync.
pub fn replace(path: &Path, tmp: &Path, body: &[u8]) -> io::Result<()> {
    let written = write_synced(tmp, body).and_then(|()| std::fs::rename(tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all())
}

/// Creates `path` owner-only (replacing any old one), writes `body` and
/// syncs it.
fn write_synced(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(body)?;
    f.sync_all()
}
