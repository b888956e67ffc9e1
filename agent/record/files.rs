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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::layout::{TRAILER_LEN, TRAILER_MAGIC};
    use crate::format::{
        Decoded, FrameBody, Header, Item, OpenInfo, RecordingWriter, decode_frame, encode_footer,
    };

    /// A finished recording of one connection whose footer claims
    /// `u64::MAX` connections and bytes (issue 13, finding 14).
    fn crafted() -> Vec<u8> {
        let mut w = RecordingWriter::new(Vec::new(), &Header::default()).unwrap();
        let open = FrameBody::Open(OpenInfo::default());
        w.write_frame(&crate::format::Frame {
            conn: 1,
            ts_ns: 1,
            body: open,
        })
        .unwrap();
        let (bytes, _) = w.finish(7, "done", None).unwrap();
        let len = bytes.len();
        let offset: [u8; 8] = bytes[len - TRAILER_LEN..len - 8].try_into().unwrap();
        let at = u64::from_le_bytes(offset) as usize;
        let Decoded::Item {
            item: Item::Footer(mut footer),
            ..
        } = decode_frame(&bytes[at..len - TRAILER_LEN])
        else {
            panic!("no footer");
        };
        footer.summary.connections = u64::MAX;
        footer.summary.frames = u64::MAX;
        footer.summary.bytes_c2s = u64::MAX;
        let mut out = bytes[..at].to_vec();
        encode_footer(&footer, 1, &mut out).unwrap();
        out.extend_from_slice(&(at as u64).to_le_bytes());
        out.extend_from_slice(&TRAILER_MAGIC);
        out
    }

    #[test]
    fn a_listing_does_not_repeat_a_crafted_footers_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r-crafted.reel");
        std::fs::write(&path, crafted()).unwrap();
        let info = load(&path).unwrap();
        assert_eq!(
            (info.connections, info.frames, info.bytes_c2s),
            (1, 1, 0),
            "recounted from the frames"
        );
    }
}
